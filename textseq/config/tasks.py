"""The table of tasks: the `task` key of a config names its schema."""

from typing import Any

from textseq.config.base import Problem
from textseq.config.classify import Config
from textseq.config.lm import LMConfig
from textseq.config.tag import TagConfig
from textseq.config.translate import TranslateConfig

__all__ = ["RENAMED", "SCHEMAS", "AnyConfig", "schema_for", "task_problem"]

SCHEMAS: dict[str, type] = {
    "classify": Config,
    "lm": LMConfig,
    "tag": TagConfig,
    "translate": TranslateConfig,
}  # every task
AnyConfig = Config | LMConfig | TagConfig | TranslateConfig
RENAMED: dict[str, dict[str, str]] = {
    "translate": {"model.embedding_dim": "model.embedding.dim"},
    "lm": {"model.transformer.positions": "model.transformer.positional"},
}  # task -> {old dotted key: new dotted key}; `migrate` renames them in saved configs


def task_problem(task: Any) -> Problem | None:
    """The problem with a `task` value, or None when it names a task."""
    if isinstance(task, str) and task in SCHEMAS:
        return None
    return Problem("task", f"must be one of {', '.join(repr(t) for t in SCHEMAS)}, got {task!r}")


def schema_for(task: Any) -> type:
    """The top-level config class of `task` (a value of the `task` key)."""
    from textseq.errors import ConfigError

    problem = task_problem(task)
    if problem is not None:
        raise ConfigError(f"{problem.key}: {problem.message}")
    return SCHEMAS[task]
