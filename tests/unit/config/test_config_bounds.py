"""Every numeric config key of every task has its bounds, checked when the config is loaded
(before any data is read, for configs and model directories alike): each key's boundary
values load, the values just outside them and the non-finite ones are a ConfigError naming
the key, never a traceback."""

from __future__ import annotations

import math

import pytest

from textseq.errors import ConfigError
from textseq.tasks import TASKS, config_json_schema, load_config


def numeric_keys(schema: dict, defs: dict, prefix: str = ""):
    """(dotted key, JSON schema of its numeric type) for every numeric key of `schema`."""
    for name, prop in schema.get("properties", {}).items():
        for option in prop.get("anyOf", [prop]):
            if "$ref" in option:
                yield from numeric_keys(
                    defs[option["$ref"].split("/")[-1]], defs, f"{prefix}{name}."
                )
            elif option.get("type") in ("integer", "number"):
                yield f"{prefix}{name}", option


def boundary_cases(kind: dict) -> list[tuple[float, bool]]:
    """(value, whether it is within bounds) at each bound of `kind`."""
    step = 1 if kind["type"] == "integer" else 1e-6
    cases = []
    if "minimum" in kind:
        cases += [(kind["minimum"], True), (kind["minimum"] - step, False)]
    if "exclusiveMinimum" in kind:
        cases += [(kind["exclusiveMinimum"], False), (kind["exclusiveMinimum"] + step, True)]
    if "maximum" in kind:
        cases += [(kind["maximum"], True), (kind["maximum"] + step, False)]
    if "exclusiveMaximum" in kind:
        cases += [(kind["exclusiveMaximum"], False), (kind["exclusiveMaximum"] - step, True)]
    if kind["type"] == "number":
        cases += [(math.inf, False), (-math.inf, False), (math.nan, False)]
    return cases


KEYS = [
    (task, key, kind)
    for task in TASKS
    for key, kind in numeric_keys(config_json_schema(task), config_json_schema(task)["$defs"])
]
# A key shared by several tasks with the same bounds (optim.*, trainer.*, text.*) once.
SWEPT = {(key, repr(sorted(kind.items()))): (task, key, kind) for task, key, kind in KEYS[::-1]}
CASES = [
    (task, key, value, ok)
    for task, key, kind in SWEPT.values()
    for value, ok in boundary_cases(kind)
]


def test_every_numeric_key_is_bounded_below_and_every_integer_above():
    unbounded = [
        f"{task}: {key}"
        for task, key, kind in KEYS
        if not {"minimum", "exclusiveMinimum"} & kind.keys()
        or (kind["type"] == "integer" and not {"maximum", "exclusiveMaximum"} & kind.keys())
    ]
    assert unbounded == []
    assert len(CASES) > 250  # the sweep below (counted in the closing note)


def _yaml(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


@pytest.mark.parametrize(("task", "key", "value", "ok"), CASES)
def test_boundary_values_load_or_are_a_clear_error(task, key, value, ok):
    try:
        load_config({"task": task}, [f"{key}={_yaml(value)}"])
    except ConfigError as error:
        # Within bounds a value may still not apply to the default config (a key of another
        # tokenizer or schedule); it must never be a bounds error.
        bounds_error = f"{key}: must" in str(error)
        assert bounds_error != ok, str(error)
    else:
        assert ok, f"{key}={value} was accepted"
