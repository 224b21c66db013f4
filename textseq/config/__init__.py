"""The configuration engine (pydantic) and the sections every task shares.

A config is YAML (or a dict) whose `task` key picks its schema from the task table (each task's
schema lives in `textseq/tasks/<task>/config.py`; `textseq.tasks.load_config` passes the
table's schemas here). The sections that mean the same in every task (`text`,
`model.embedding`, `optim`, `trainer`, and the common data keys) are defined once
(`sections.py`), each task giving them its own defaults. Every key is checked: an unknown key,
a key that does not apply to the chosen component (a key of another encoder type, a pooling key
of another pooling, the `model.rnn` section of a Transformer, ...), a value of the wrong type or
outside its range, and the checks between keys are all reported at once, one line each with
the file, the line and the key. Command-line overrides (`--set model.encoder.hidden_size=256`)
use the same dotted keys, so CLI and YAML never disagree.

    load_config(source, overrides, schemas=...)                a validated config
    load_config(..., schemas=..., migrate=True)                a model directory's config.yaml
    dump_yaml(config), config_show(...)                        the resolved config as YAML
    config_json_schema(schema), render_docs(schemas)           JSON Schema; docs/configuration.md
"""

from textseq.config.base import NotApplicable, Problem, Section, TaskConfig
from textseq.config.docs import config_json_schema, config_show, render_docs
from textseq.config.loading import (
    apply_overrides,
    dump_yaml,
    from_dict,
    load_config,
    read_yaml,
    task_problem,
)
from textseq.config.migrate import migrate
from textseq.config.sections import EmbeddingConfig, OptimConfig, TextConfig, TrainerConfig

__all__ = [
    "EmbeddingConfig",
    "NotApplicable",
    "OptimConfig",
    "Problem",
    "Section",
    "TaskConfig",
    "TextConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_json_schema",
    "config_show",
    "dump_yaml",
    "from_dict",
    "load_config",
    "migrate",
    "read_yaml",
    "render_docs",
    "task_problem",
]
