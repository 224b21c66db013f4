"""Pydantic's validation errors as config problems worded for someone editing YAML.

One `Problem` per key: "must be an integer, got 'big'", "must be in [0, 1), got 2", "unknown
key; did you mean 'hidden_size'? (valid keys here: ...)", "does not apply to
model.encoder.type 'rnn' (transformer only)". Types and ranges are read from the schema, so
the words never drift from what is checked.
"""

import difflib
import types
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from textseq.config.base import OWN_MESSAGE, PROBLEMS, UNION_TAG, Hint, Problem, section_variants

__all__ = ["describe", "explain", "range_text", "section_of", "unknown_key"]

_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_MAPPING_ERRORS = {"model_type", "model_attributes_type", "dict_type"}


def describe(hint: Any) -> str:
    """The values a type annotation accepts, in words: "an integer or null"."""
    origin = get_origin(hint)
    if origin is Annotated:
        return describe(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(option) for option in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(hint))
    if origin is list:
        return f"a list of {describe(get_args(hint)[0])}"
    if hint is type(None):
        return "null"
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def _metadata(info: FieldInfo) -> list[Any]:
    """Constraints and hints of a field: its own and those inside its annotation."""
    found = list(info.metadata)
    pending = [info.annotation]
    while pending:
        hint = pending.pop()
        if get_origin(hint) is Annotated:
            found += get_args(hint)[1:]
            pending.append(get_args(hint)[0])
        elif get_origin(hint) in (Union, types.UnionType):
            pending += get_args(hint)
    return found


def range_text(info: FieldInfo) -> str | None:
    """A field's range in words ("at least 1", "in [0, 1)", "positive"), or None."""
    bounds: dict[str, Any] = {}
    for item in _metadata(info):
        for name, kind in (("ge", Ge), ("gt", Gt), ("le", Le), ("lt", Lt)):
            if isinstance(item, kind):
                bounds[name] = getattr(item, name)
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds["gt"]) if "gt" in bounds else None
    high = (
        ("]", bounds["le"]) if "le" in bounds else (")", bounds["lt"]) if "lt" in bounds else None
    )
    if low and high:
        return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return (
            f"at least {low[1]}"
            if low[0] == "["
            else ("positive" if low[1] == 0 else f"greater than {low[1]}")
        )
    if high:
        return f"at most {high[1]}" if high[0] == "]" else f"below {high[1]}"
    return None


def _nullable(info: FieldInfo) -> bool:
    return "null" in describe(info.annotation).split(" or ")


def section_of(annotation: Any) -> type[BaseModel] | None:
    """The section class a field holds, or None for a value."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


@dataclass
class _Spot:
    """Where an error's `loc` points in a schema: the key's parts, the field there (None when
    the key is a section), the section holding `rest[0]`, and the union that section belongs
    to, if any (tag, {tag: section})."""

    parts: list[str]
    field: FieldInfo | None
    section: type[BaseModel] | None
    rest: tuple[Any, ...]
    union: tuple[str, dict[str, type[BaseModel]]] | None = None


def _resolve(schema: type[BaseModel], loc: tuple[Any, ...]) -> _Spot:
    section, parts, union, index = schema, [], None, 0
    while index < len(loc):
        name = loc[index]
        if not isinstance(name, str) or name not in section.model_fields:
            return _Spot(parts, None, section, loc[index:], union)
        info = section.model_fields[name]
        parts.append(name)
        index += 1
        variants = section_variants(info.annotation)
        if variants is not None:
            if index < len(loc) and loc[index] in variants:
                union = (loc[index], variants)
                section = variants[loc[index]]
                index += 1
                continue
            return _Spot(parts, info, None, loc[index:])
        inner = section_of(info.annotation)
        if inner is None:
            return _Spot(parts, info, None, loc[index:])
        section, union = inner, None
    return _Spot(parts, None, section, (), union)


def _value_at(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def unknown_key(
    name: str, key: str, valid: list[str], union: tuple[str, dict[str, Any]] | None = None
) -> str:
    """The message for `key` (last part `name`), unknown where `valid` are the keys; `union`:
    (chosen type, {type: section}) when the section is one type of a `typed_union`."""
    if union is not None:
        tag, variants = union
        owners = [other for other, section in variants.items() if name in section.model_fields]
        if owners:
            section_key = key.rpartition(".")[0]
            return f"does not apply to {section_key}.type {tag!r} ({' and '.join(owners)} only)"
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key{hint} (valid keys here: {', '.join(valid)})"


def explain(
    error: ValidationError,
    schema: type[BaseModel],
    data: dict[str, Any],
    renamed: dict[str, str] | None = None,
) -> tuple[list[Problem], set[str]]:
    """The problems `error` reports about `data` (validated against `schema`), and the keys
    to leave out of `data` so that validating again gets past them (and reaches the checks
    that need every key valid). `renamed`: {old key: new key} of the schema."""
    problems: list[Problem] = []
    prune: set[str] = set()
    leaf_errors: dict[str, list[str]] = defaultdict(list)
    leaf_fields: dict[str, tuple[FieldInfo, list[str]]] = {}
    for item in error.errors(include_url=False):
        kind, loc = item["type"], tuple(item["loc"])
        if kind == PROBLEMS:
            problems += item["ctx"]["problems"]
            continue
        spot = _resolve(schema, loc)
        key = ".".join(spot.parts)
        if kind == "extra_forbidden" and spot.rest:
            name = str(spot.rest[0])
            full = f"{key}.{name}" if key else name
            valid = list(spot.section.model_fields) if spot.section is not None else []
            if renamed and full in renamed:
                problems.append(Problem(full, f"was renamed {renamed[full]}"))
            else:
                problems.append(Problem(full, unknown_key(name, full, valid, spot.union)))
            prune.add(full)
        elif kind == OWN_MESSAGE:
            problems.append(Problem(key, str(item["msg"])))
            prune.add(key)
        elif kind == UNION_TAG:
            value = _value_at(data, spot.parts)
            if isinstance(value, dict):
                tags = section_variants(spot.field.annotation) if spot.field else {}
                choices = ", ".join(repr(tag) for tag in tags or ())
                problems.append(
                    Problem(f"{key}.type", f"must be one of {choices}, got {value.get('type')!r}")
                )
            else:
                problems.append(Problem(key, f"must be a mapping, got {value!r}"))
            prune.add(key)
        elif kind in _MAPPING_ERRORS and spot.field is None and not spot.rest:
            value = _value_at(data, spot.parts)
            problems.append(Problem(key, f"must be a mapping, got {value!r}"))
            prune.add(key)
        elif kind == "missing" and spot.field is not None:
            about = (spot.field.description or "").rstrip(".")
            about = f" ({about[:1].lower()}{about[1:]})" if about else ""
            problems.append(Problem(key, f"must be given{about}"))
            prune.add(key.rpartition(".")[0] or key)
        elif spot.field is not None:
            leaf_errors[key].append(kind)
            leaf_fields[key] = (spot.field, spot.parts)
        else:  # not expected from these schemas: pydantic's own words
            problems.append(Problem(key, str(item["msg"])))
    for key, kinds in leaf_errors.items():
        info, parts = leaf_fields[key]
        value = _value_at(data, parts)
        allowed = range_text(info)
        if allowed and all(kind in _RANGE_ERRORS for kind in kinds):
            hints = [item.text for item in _metadata(info) if isinstance(item, Hint)]
            null = " or null" if _nullable(info) else ""
            advice = "".join(f"; {text}" for text in hints)
            problems.append(Problem(key, f"must be {allowed}{null}, got {value!r}{advice}"))
        else:
            problems.append(Problem(key, f"must be {describe(info.annotation)}, got {value!r}"))
        prune.add(key)
    return problems, prune
