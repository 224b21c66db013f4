"""The schemas as documents: docs/configuration.md (every key of every task), the JSON
Schema of a task, and a resolved config as commented YAML (`textseq config show`)."""

import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from textseq.config.base import TaskConfig, section_variants
from textseq.config.loading import load_config
from textseq.config.messages import describe, range_text, section_of

__all__ = ["config_json_schema", "config_show", "render_docs"]

REGENERATE = "textseq config docs > docs/configuration.md"


def yaml_value(value: Any) -> str:
    """`value` as a YAML flow scalar or list: null, true, 0.001, sst2:train, [1.0, 2.0]."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.removesuffix("\n...\n").strip()


def config_json_schema(schema: type[TaskConfig]) -> dict[str, Any]:
    """Pydantic's JSON Schema of `task`'s config (`textseq config schema --task T`)."""
    return schema.model_json_schema()


def _sections(
    section: type[BaseModel], key: str, title: str
) -> list[tuple[str, str, type[BaseModel]]]:
    """(title, dotted key, class) of `section` and of every section inside it, in schema
    order; each type of a typed section is its own entry ("model.encoder (type: rnn)")."""
    found = [(title, key, section)]
    for name, info in section.model_fields.items():
        inner_key = f"{key}.{name}" if key else name
        variants = section_variants(info.annotation)
        if variants is not None:
            for tag, variant in variants.items():
                found += _sections(variant, inner_key, f"{inner_key} (type: {tag})")
        elif (inner := section_of(info.annotation)) is not None:
            found += _sections(inner, inner_key, inner_key)
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _rows(section: type[BaseModel], key: str, never: set[str]) -> list[str]:
    rows = []
    for name, info in section.model_fields.items():
        if section_variants(info.annotation) is not None or section_of(info.annotation):
            continue
        if (f"{key}.{name}" if key else name) in never:
            continue
        if info.default_factory is not None:  # a list default, made afresh for each config
            default = f"`{yaml_value(info.default_factory())}`"
        elif info.default is PydanticUndefined:
            default = "(required)"
        else:
            default = f"`{yaml_value(info.default)}`"
        kind = describe(info.annotation)
        limit = range_text(info) or ""
        rows.append(
            f"| `{name}` | {_cell(kind)} | {_cell(default)} | {limit} | "
            f"{_cell(info.description or '')} |"
        )
    return rows


def render_docs(schemas: Mapping[str, type[TaskConfig]]) -> str:
    """docs/configuration.md: every key of every task with its type, default, range and
    description, from the schemas themselves."""
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the task schemas by `{REGENERATE}`; do not edit by hand "
        "(tests/unit/config/test_config.py checks that it is up to date). -->",
        "",
        "Generated from the schemas in `textseq/config/` and `textseq/tasks/*/config.py`: "
        f"regenerate with `{REGENERATE}`.",
        "",
        "A config is YAML whose `task` key picks the schema: "
        + ", ".join(f"[`{task}`](#task-{task})" for task in schemas)
        + ". Every key is checked: an unknown key, or one that does not apply to the chosen "
        "components (an encoder's `type`, `model.type`, a pooling or tokenizer type), is an "
        "error, and every problem of a file is reported at once with its line. Any key can be "
        "set from the command line with `--set section.key=value` (a YAML value); when a "
        "`--set` changes a choice (`--set model.rnn.attention=none`), the file's keys that the "
        "new choice does not read are left out, each with a note on stderr. "
        "`textseq config show CONFIG` prints a config with every default filled in; "
        "`textseq config schema --task TASK` prints its JSON Schema.",
        "",
        "Where a section's `type` picks one of several components, each has a table of its "
        "own keys. A key that does not apply given the values of others (say, a key of the "
        "`model.transformer` section with `model.type: rnn`) is an error when given. Ranges: "
        "`[a, b)` includes a and not b.",
        "",
        "In every task, `text.bpe_vocab_size` applies to the bpe tokenizer only; "
        "`optim.class_weights` and `optim.backbone_lr` apply to classification only; and the "
        "learning-rate schedule reads only its own keys: a warm-up (translation's "
        "`optim.warmup_steps` > 0) none of `optim.lr_factor`, `optim.lr_patience` and "
        "`optim.lr_decay_after`, a fixed decay (`optim.lr_decay_after` set) no "
        "`optim.lr_patience`.",
    ]
    for task, schema in schemas.items():
        about = (sys.modules[schema.__module__].__doc__ or "").strip().split("\n\n")[1:]
        lines += ["", f"## task: {task}", "", (schema.__doc__ or "").strip()]
        lines += [item for paragraph in about for item in ("", " ".join(paragraph.split()))]
        defaults = schema()
        never = {  # keys of shared sections that this task never reads
            key for key, why in defaults.inapplicable_keys().items() if why.because == ("task",)
        }
        for title, key, section in _sections(schema, "", "top level"):
            if key in never:
                continue
            lines += ["", f"### {title}", ""]
            doc = (section.__doc__ or "").strip()
            if doc and section is not schema:
                lines += [" ".join(doc.split()), ""]
            lines += [
                "| key | type | default | range | description |",
                "| --- | --- | --- | --- | --- |",
                *_rows(section, key, never),
            ]
    return "\n".join(lines) + "\n"


def _commented(node: BaseModel, data: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for key, value in data.items():
        info = type(node).model_fields[key]
        about = " ".join((info.description or "").split())
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _commented(getattr(node, key), value, indent + "  ")
            continue
        line = f"{indent}{key}: {yaml_value(value)}"
        if about and len(f"{line:<32}  # {about}") <= 100:
            lines.append(f"{line:<32}  # {about}")
        elif about:
            width = 100 - len(indent) - 2
            wrapped = textwrap.wrap(about, width=width)
            lines += [f"{indent}# {part}" for part in wrapped] + [line]
        else:
            lines.append(line)
    return lines


def show(config: TaskConfig) -> str:
    """`config` as YAML with a comment on every key: each key that applies, defaults included."""
    header = [
        "# The resolved config: every key that applies to it, defaults included",
        "# (`textseq config show`; the keys are described in docs/configuration.md).",
    ]
    return "\n".join(header + _commented(config, config.to_dict(), "")) + "\n"


def config_show(
    source: str | Path | dict[str, Any] | TaskConfig | None,
    overrides: Sequence[str] = (),
    *,
    schemas: Mapping[str, type[TaskConfig]],
) -> str:
    """The config `source` with `overrides`, validated and resolved, as commented YAML that
    loads as the same config (`textseq config show CONFIG --set ...`)."""
    return show(load_config(source, overrides, schemas=schemas))
