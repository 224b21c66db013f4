"""Saved configs of older textseq versions, brought up to date.

A model directory's config.yaml is the dump of the config it was trained with. Before the
schema knew which keys apply to which component, that dump held every key of every section;
since then some keys were also renamed. `migrate` turns such a mapping into one today's
schema reads as the same model:

- renamed keys take their new names (each schema's `renamed`), and a schema's `upgrade`
  rewrites what changed more than its name (the tagger's `model.features`);
- in a section whose `type` picks its keys (`model.encoder`), the keys of other types go;
- keys that do not apply given the config's values (`inapplicable_keys`) go.

Keys that never existed stay, and validation reports them.
"""

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from textseq.config.base import DEFAULT_TASK, TaskConfig, section_variants
from textseq.config.messages import explain, section_of

__all__ = ["migrate"]


def _pop(data: dict[str, Any], key: str) -> tuple[bool, Any]:
    *parents, last = key.split(".")
    node: Any = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        return True, node.pop(last)
    return False, None


def _without(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for key in keys:
        _pop(result, key)
    return result


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node.setdefault(last, value)


def _keep_chosen_type(data: dict[str, Any], section: type[BaseModel]) -> None:
    """In every typed section of `data` (`model.encoder`), drop the keys of the other types."""
    for name, info in section.model_fields.items():
        value = data.get(name)
        if not isinstance(value, dict):
            continue
        variants = section_variants(info.annotation)
        if variants is not None:
            chosen = variants.get(value.get("type", next(iter(variants))))
            if chosen is None:
                continue
            others = {key for variant in variants.values() for key in variant.model_fields}
            for key in [k for k in value if k in others and k not in chosen.model_fields]:
                del value[key]
        elif (inner := section_of(info.annotation)) is not None:
            _keep_chosen_type(value, inner)


def migrate(data: dict[str, Any], schemas: Mapping[str, type[TaskConfig]]) -> dict[str, Any]:
    """A saved config (the mapping of a model directory's config.yaml, from any textseq
    version) as today's schema in `schemas` (task name -> schema) reads it. Apply it when
    loading a model directory: `load_config(read_yaml(directory / "config.yaml"),
    schemas=..., migrate=True)`."""
    data = copy.deepcopy(data)
    task = data.get("task", DEFAULT_TASK)
    schema = schemas.get(task) if isinstance(task, str) else None
    if schema is None:
        return data
    for old, new in schema.renamed.items():
        found, value = _pop(data, old)
        if found:
            _put(data, new, value)
    data = schema.upgrade(data)
    _keep_chosen_type(data, schema)
    left_out: set[str] = set()  # keys at fault: load_config reports them
    for _ in range(3):
        try:
            config = schema.model_validate(_without(data, left_out), context={"lenient": True})
        except ValidationError as error:
            prune = explain(error, schema, data)[1] - left_out
            if not prune:
                return data
            left_out |= prune
        else:
            for key in config.inapplicable_keys():
                _pop(data, key)
            return data
    return data
