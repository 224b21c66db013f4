"""Reading a config: YAML with the line of every key, `--set` overrides, and validation that
reports every problem of a file at once, each where it was written:

    configs/x.yaml:23: model.encoder.hiden_size: unknown key; did you mean 'hidden_size'? ...
    --set data.batch_size=0: data.batch_size: must be at least 1, got 0

A first validation finds the problems of single keys; the keys at fault are then left out
(defaults take their place) and validation runs again, which reaches the checks between keys;
a problem that involves a key already reported is not repeated.
"""

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from textseq.config.base import DEFAULT_TASK, Problem, TaskConfig, section_variants
from textseq.config.messages import explain, section_of, unknown_key
from textseq.config.migrate import migrate as migrate_saved
from textseq.errors import ConfigError

log = logging.getLogger("textseq")

__all__ = [
    "apply_overrides",
    "dump_yaml",
    "from_dict",
    "load_config",
    "read_yaml",
]


@dataclass
class Origin:
    """Where the keys of a config were written: a file's lines and the `--set` overrides."""

    file: str | None = None
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> line (1-based)
    overrides: list[str] = field(default_factory=list)  # "--set KEY=VALUE", in order
    set_keys: dict[str, int] = field(default_factory=dict)  # key -> its last override
    created: dict[str, int] = field(default_factory=dict)  # section -> first override in it

    def locate(self, keys: Sequence[str]) -> tuple[tuple[int, int], str | None]:
        """(sort rank, "file:line" or "--set ...") of the first of `keys` that has a place."""
        for key in keys:
            if key in self.set_keys:
                index = self.set_keys[key]
                return (1, index), self.overrides[index]
            if key in self.lines:
                return (0, self.lines[key]), f"{self.file}:{self.lines[key]}"
            if key in self.created:
                index = self.created[key]
                return (1, index), self.overrides[index]
        if keys:  # a key left at its default: where its section was written, if anywhere
            parts = keys[0].split(".")[:-1]
            while parts:
                rank, where = self.locate([".".join(parts)])
                if rank[0] < 2:
                    return rank, where
                parts.pop()
        if self.file is not None:
            return (2, 0), self.file
        return (3, 0), None


def _key_lines(text: str) -> dict[str, int]:
    """{dotted key: line} of the mappings of a YAML document (yaml.compose keeps marks)."""
    lines: dict[str, int] = {}
    pending = [("", yaml.compose(text, Loader=yaml.SafeLoader))]
    while pending:
        prefix, node = pending.pop()
        if not isinstance(node, yaml.MappingNode):
            continue
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            lines[key] = key_node.start_mark.line + 1
            pending.append((f"{key}.", value_node))
    return lines


def _read(path: str | Path) -> tuple[dict[str, Any], Origin]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:  # one line: where, then what
        mark = getattr(error, "problem_mark", None)
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    if data is None:
        return {}, Origin(file=str(path))
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of sections, got {type(data).__name__}"
        )
    return data, Origin(file=str(path), lines=_key_lines(text))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (ConfigError naming the file if it holds none)."""
    return _read(path)[0]


def _task_of(data: dict[str, Any], overrides: Sequence[str]) -> Any:
    """The task a config is for: the last `--set task=...`, else its `task` key (classify)."""
    task = data.get("task", DEFAULT_TASK) if isinstance(data, dict) else DEFAULT_TASK
    for override in overrides:
        key, sep, raw = override.partition("=")
        if sep and key.strip() == "task":
            task = raw.strip()
    return task


def _path_problem(parts: list[str], schema: type[BaseModel], *, unknown: bool) -> Problem | None:
    """What is wrong with a dotted key of `--set`, or None. Keys a schema does not have are
    problems only with `unknown` (else validation reports them, knowing the chosen types)."""
    section: Any = schema
    for index, part in enumerate(parts):
        key = ".".join(parts[: index + 1])
        if section is None:
            return Problem(".".join(parts[:index]), f"has no sub-key '{part}'")
        options = [section] if isinstance(section, type) else list(section.values())
        owner = next((option for option in options if part in option.model_fields), None)
        if owner is None:
            if not unknown:
                return None
            valid = list(dict.fromkeys(k for option in options for k in option.model_fields))
            return Problem(key, unknown_key(part, key, valid))
        annotation = owner.model_fields[part].annotation
        section = section_variants(annotation) or section_of(annotation)
    if section is not None:
        return Problem(".".join(parts), "is a section; set one of its keys")
    return None


def _parse(override: str) -> tuple[list[str], Any] | None:
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        return None
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def _set(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _apply(
    data: dict[str, Any],
    overrides: Sequence[str],
    schema: type[BaseModel],
    origin: Origin,
    *,
    unknown: bool,
) -> tuple[dict[str, Any], list[Problem]]:
    """`data` with the overrides applied (those at fault left out), and their problems."""
    result = copy.deepcopy(data)
    problems = []
    for override in overrides:
        parsed = _parse(override)
        if parsed is None:
            problems.append(Problem("", f"--set expects KEY=VALUE, got {override!r}"))
            continue
        parts, value = parsed
        index = len(origin.overrides)
        origin.overrides.append(f"--set {'.'.join(parts)}={override.partition('=')[2]}")
        problem = _path_problem(parts, schema, unknown=unknown)
        if problem is not None:
            origin.set_keys[problem.key] = index
            problems.append(problem)
            continue
        node: Any = result
        for end in range(1, len(parts)):  # the sections this override brings into the config
            node = node.get(parts[end - 1]) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                origin.created.setdefault(".".join(parts[:end]), index)
        _set(result, parts, value)
        origin.set_keys[".".join(parts)] = index
    return result, problems


def apply_overrides(
    data: dict[str, Any], overrides: list[str], schema: type[TaskConfig]
) -> dict[str, Any]:
    """A copy of `data` with each `dotted.key=value` applied; values are parsed as YAML
    (`3`, `0.5`, `true`, `null`, `[1, 2]`), anything else is a string. Keys are checked
    against `schema`."""
    origin = Origin()
    result, problems = _apply(data, overrides, schema, origin, unknown=True)
    if problems:
        raise ConfigError(_message(problems, origin))
    return result


def task_problem(task: Any, schemas: Mapping[str, type[TaskConfig]]) -> Problem | None:
    """The problem with a `task` value, or None when it names one of `schemas`."""
    if isinstance(task, str) and task in schemas:
        return None
    return Problem("task", f"must be one of {', '.join(repr(t) for t in schemas)}, got {task!r}")


def _schema(
    data: dict[str, Any],
    overrides: Sequence[str],
    origin: Origin,
    schemas: Mapping[str, type[TaskConfig]],
) -> type[TaskConfig]:
    task = _task_of(data, overrides)
    problem = task_problem(task, schemas)
    if problem is not None:
        for override in overrides:
            if override.partition("=")[0].strip() == "task":
                origin.set_keys["task"] = len(origin.overrides)
                origin.overrides.append(f"--set {override.strip()}")
        raise ConfigError(_message([problem], origin))
    return schemas[task]


def _message(problems: list[Problem], origin: Origin) -> str:
    """One line per problem, in the order of the file, then of the overrides."""
    rows, seen = [], set()
    for order, problem in enumerate(problems):
        if (problem.key, problem.message) in seen:
            continue
        seen.add((problem.key, problem.message))
        rank, where = origin.locate([problem.key, *problem.also]) if problem.key else ((3, 0), None)
        text = f"{problem.key}: {problem.message}" if problem.key else problem.message
        rows.append((rank, order, f"{where}: {text}" if where else text))
    return "\n".join(row for *_, row in sorted(rows))


def _touches(problem: Problem, keys: set[str]) -> bool:
    """Whether `problem` is about one of `keys` (or a key inside or around one)."""
    for mine in (problem.key, *problem.also):
        for key in keys:
            if mine == key or mine.startswith(f"{key}.") or key.startswith(f"{mine}."):
                return True
    return False


def _without(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for key in keys:
        *parents, last = key.split(".")
        node = result
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return result


def _validate(
    data: dict[str, Any],
    schema: type[TaskConfig],
    problems: list[Problem],
    origin: Origin,
) -> TaskConfig:
    """`data` as a `schema` object, or ConfigError with `problems` and every problem found."""
    found, left_out = list(problems), set()
    current = data
    for _ in range(4):
        try:
            config = schema.model_validate(current)
        except ValidationError as error:
            renamed = schema.renamed
            new, prune = explain(error, schema, current, renamed)
            found += [p for p in new if not (left_out and _touches(p, left_out))]
            if not prune - left_out:
                break
            left_out |= prune
            current = _without(data, left_out)
        else:
            if not found:
                return config
            break
    raise ConfigError(_message(found, origin))


def load_config(
    source: str | Path | dict[str, Any] | TaskConfig | None,
    overrides: Sequence[str] = (),
    *,
    schemas: Mapping[str, type[TaskConfig]],
    migrate: bool = False,
) -> TaskConfig:
    """A validated config from a YAML path, a dict or a config object, with overrides
    applied; its class is the schema in `schemas` (task name -> schema, the task table's) of
    its `task` key (default classify). With `migrate`, `source` is a config.yaml of a model
    directory, possibly written by an older textseq: `textseq.config.migrate` brings it up to
    date first."""
    overrides = list(overrides)
    if isinstance(source, TaskConfig):
        data, origin = source.to_dict(), Origin()
    elif isinstance(source, str | Path):
        data, origin = _read(source)
    elif source is None or isinstance(source, dict):
        data, origin = dict(source or {}), Origin()
    else:
        raise ConfigError(f"the config must be a mapping, got {source!r}")
    if migrate:
        data = migrate_saved(data, schemas)
    schema = _schema(data, overrides, origin, schemas)
    data, problems = _apply(data, overrides, schema, origin, unknown=False)
    if origin.set_keys and not problems:
        data = _without_keys_an_override_retired(data, schema, origin)
    return _validate(data, schema, problems, origin)


def _without_keys_an_override_retired(
    data: dict[str, Any], schema: type[TaskConfig], origin: Origin
) -> dict[str, Any]:
    """`data` without the keys written in the config that no longer apply because of a
    `--set` override (`--set model.rnn.attention=none` retires the file's
    `model.rnn.attention_dim`), each one logged: the override says what the user wants now.
    A key that does not apply for any other reason is still an error."""
    try:
        config = schema.model_validate(data, context={"lenient": True})
    except ValidationError:
        return data  # validation proper reports it
    overridden = set(origin.set_keys)
    data = copy.deepcopy(data)

    def related(a: str, b: str) -> bool:  # the same key, or one holds the other
        return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")

    for key, why in config.inapplicable_keys().items():
        written_by_an_override = any(related(key, set_key) for set_key in overridden)
        if written_by_an_override or not config.was_given(key):
            continue
        if not any(related(cause, set_key) for cause in why.because for set_key in overridden):
            continue
        *parents, last = key.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            del node[last]
            _, where = origin.locate([key])
            log.info("%s (%s) does not apply %s: left out", key, where or "config", why.reason)
    return data


def from_dict(data: dict[str, Any] | None, cls: type[TaskConfig]) -> TaskConfig:
    """`data` validated against the top-level schema `cls`."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"the config must be a mapping, got {data!r}")
    return _validate(dict(data or {}), cls, [], Origin())


def dump_yaml(config: TaskConfig) -> str:
    """The config as YAML: every key that applies, defaults included (it validates again)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
