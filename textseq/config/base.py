"""What every config schema is built from.

- value types as strict as a YAML config needs: `Int` takes no bool and no 8.0, `Bool` no
  "yes", `Str` no number; `Float` takes ints and YAML 1.1's `1e-4` (read as a string) but no
  bool. Ranges are pydantic constraints (`Field(ge=1)`, `number(Gt(0))`), so they are checked
  wherever the key appears;
- `Section`, a mapping of keys in which an unknown key is an error and `null` means `{}`;
- `typed_union`, a section whose `type` key picks one of several sections (each with only
  its own keys), and `with_defaults`, a shared section with a task's own defaults;
- `TaskConfig`, the base of each task's top-level schema: its model validator reports, all at
  once, the keys given that do not apply to the chosen components and the checks that involve
  several keys (`Problem`s).
"""

import copy
import math
import sys
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Strict,
    Tag,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "OWN_MESSAGE",
    "Bool",
    "Float",
    "Hint",
    "Int",
    "NotApplicable",
    "Problem",
    "Section",
    "Str",
    "TaskConfig",
    "number",
    "section_variants",
    "typed_union",
    "with_defaults",
]

PROBLEMS = "config_problems"  # the error type of a `TaskConfig`'s cross-key checks
UNION_TAG = "config_union_tag"  # the error type of a `typed_union` with a bad `type`
# The error type of a key's own validator whose message is shown as it is (e.g. trainer.devices).
OWN_MESSAGE = "config_own_message"


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("float_type", "must be a number")
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise PydanticCustomError("float_type", "must be a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError(
            "finite_number", "must be a finite number, got {value}", {"value": value}
        )
    return value


Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
Float = Annotated[float, BeforeValidator(_number)]


def number(*constraints: Any) -> Any:
    """`Float` within `constraints` (annotated_types `Ge(0)`, `Lt(1)`, ...), for keys that may
    also be null: `number(Gt(0)) | None`."""
    return Annotated[(float, *constraints, BeforeValidator(_number))]


# The task of a config (or a manifest) that names none: configs written before textseq had
# other tasks are classifiers'.
DEFAULT_TASK = "classify"


@dataclass(frozen=True)
class Hint:
    """Advice added to a key's range error (metadata of its annotation; pydantic ignores it)."""

    text: str


@dataclass(frozen=True)
class Problem:
    """What is wrong with a config: `key` (dotted; "" for the whole config) and a message
    that follows it. `also`: other keys it involves, whose location is shown when `key` has
    none (a default) and whose own error, if any, makes this one moot."""

    key: str
    message: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotApplicable:
    """Why a key does not apply: `reason` follows "does not apply", and `because` names the
    keys whose values decide it."""

    reason: str
    because: tuple[str, ...]


class Section(BaseModel):
    """A mapping of config keys: an unknown key is an error, and `null` is an empty mapping
    (every key at its default)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data


def with_defaults(section: type[Section], name: str, **defaults: Any) -> Any:
    """`section` with other defaults for some of its keys: a task's own defaults for a shared
    section. Keys, types, ranges and descriptions stay those of `section`. Assign it to `name`
    in the calling module (which is where pickle looks for it)."""
    fields: dict[str, Any] = {}
    for key, value in defaults.items():
        info = copy.copy(section.model_fields[key])
        info.default = value
        fields[key] = (info.annotation, info)
    caller = sys._getframe(1).f_globals["__name__"]  # as pydantic's create_model does
    return create_model(
        name, __base__=section, __doc__=section.__doc__, __module__=caller, **fields
    )


def typed_union(*sections: type[Section]) -> Any:
    """A section whose `type` key picks one of `sections` (pydantic's discriminated union):
    each holds only its own keys, so a key of another type is an error. A mapping without
    `type` is of the first type (configs written before the key existed)."""
    tags = {section.model_fields["type"].default: section for section in sections}
    default = next(iter(tags))

    def pick(value: Any) -> str | None:
        if value is None:
            return default
        if isinstance(value, dict):
            tag = value.get("type", default)
            return tag if isinstance(tag, str) and tag in tags else None
        return getattr(value, "type", None)

    members = tuple(Annotated[section, Tag(tag)] for tag, section in tags.items())
    return Annotated[
        Union[members],  # noqa: UP007 - a runtime tuple of members
        Discriminator(pick, custom_error_type=UNION_TAG, custom_error_message="bad type"),
    ]


def section_variants(annotation: Any) -> dict[str, type[Section]] | None:
    """{type: section} of a `typed_union` annotation (the default type first); None for
    anything else."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is not Union:
        return None
    variants = {}
    for member in get_args(annotation):
        if get_origin(member) is Annotated:
            member = get_args(member)[0]
        if not (isinstance(member, type) and issubclass(member, Section)):
            return None
        variants[member.model_fields["type"].default] = member
    return variants


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise PydanticCustomError(
            PROBLEMS, "{count} config problem(s)", {"count": len(problems), "problems": problems}
        )


class TaskConfig(Section):
    """The top-level schema of a task. Subclasses say which keys do not apply given the
    values of others (`inapplicable_keys`) and check what involves several keys
    (`cross_checks`); the model validator reports both at once. Validating with
    `context={"lenient": True}` skips them (to read a saved config before migrating it)."""

    task: str
    # Keys renamed since older textseq versions wrote config.yaml: {old dotted key: new}.
    # `migrate` renames them in saved configs; in a user config the old name is an error
    # that names the new one.
    renamed: ClassVar[dict[str, str]] = {}

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A saved config (a mapping, after `renamed`) in today's terms where more than a
        key's name changed; `migrate` applies it. Default: unchanged."""
        return data

    def inapplicable_keys(self) -> dict[str, NotApplicable]:
        """{dotted key: why it does not apply} given this config's values."""
        return {}

    def cross_checks(self) -> list[Problem]:
        """What is wrong between keys; [] when nothing is."""
        return []

    @model_validator(mode="after")
    def _check_keys_together(self, info: ValidationInfo) -> "TaskConfig":
        if info.context and info.context.get("lenient"):
            return self
        problems = [
            Problem(key, f"does not apply {why.reason}", why.because)
            for key, why in self.inapplicable_keys().items()
            if self.was_given(key)
        ]
        _raise_problems(problems + self.cross_checks())
        return self

    def was_given(self, key: str) -> bool:
        """Whether `key` (dotted) was given when this config was validated, not defaulted."""
        node: Any = self
        for part in key.split("."):
            if not isinstance(node, BaseModel) or part not in node.model_fields_set:
                return False
            node = getattr(node, part)
        return True

    def to_dict(self) -> dict[str, Any]:
        """Every key that applies, with its value (defaults included), as nested dicts."""
        data = self.model_dump(mode="python")
        for key in self.inapplicable_keys():
            *parents, last = key.split(".")
            node = data
            for part in parents:
                node = node.get(part, {})
            node.pop(last, None)
        return data
