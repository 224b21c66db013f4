"""The table of tasks: the one place that lists what textseq can train and load.

Training, loading, the CLI, export and serving find a task's parts here (`TASKS[name]`), never
by branching on its name. Adding a task is one folder (see `textseq.tasks.base`) and one line
below. The rows name their heavy parts by module path, so that importing the table (as
`textseq --help` does) imports neither PyTorch nor pydantic; the functions below import what
they use when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textseq.errors import ConfigError, ModelDirError, UsageError
from textseq.tasks import classify, lm, tag, translate
from textseq.tasks.base import Prepared, Task

if TYPE_CHECKING:
    from textseq.config import TaskConfig

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        classify.TASK,
        lm.TASK,
        tag.TASK,
        translate.TASK,
    )
}


def schemas() -> dict[str, type[TaskConfig]]:
    """Task name -> its config schema, read from the table as it is now (a test may add a
    row), as the config engine takes them."""
    return {task.name: task.schema for task in TASKS.values()}


def load_config(
    source: str | Path | dict[str, Any] | TaskConfig | None,
    overrides: Sequence[str] = (),
    *,
    migrate: bool = False,
) -> TaskConfig:
    """A validated config of any task in the table (see `textseq.config.load_config`)."""
    from textseq import config as engine

    return engine.load_config(source, overrides, schemas=schemas(), migrate=migrate)


def migrate_config(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config.yaml's mapping brought up to date (see `textseq.config.migrate`)."""
    from textseq import config as engine

    return engine.migrate(data, schemas())


def config_show(
    source: str | Path | dict[str, Any] | TaskConfig | None, overrides: Sequence[str] = ()
) -> str:
    """The resolved config as commented YAML (`textseq config show`)."""
    from textseq import config as engine

    return engine.config_show(source, overrides, schemas=schemas())


def config_json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of task `name`'s config (`textseq config schema --task NAME`)."""
    from textseq import config as engine

    return engine.config_json_schema(task_named(name).schema)


def config_docs() -> str:
    """docs/configuration.md, generated from every task's schema (`textseq config docs`)."""
    from textseq import config as engine

    return engine.render_docs(schemas())


def task_named(name: Any) -> Task:
    """The task whose `task` key is `name`; a ConfigError listing the tasks otherwise."""
    from textseq import config as engine

    problem = engine.task_problem(name, schemas())
    if problem is not None:
        raise ConfigError(f"{problem.key}: {problem.message}")
    return TASKS[name]


def task_of(model: Any) -> Task:
    """The task of a loaded model (what `textseq.load` returned)."""
    for task in TASKS.values():
        if isinstance(model, task.predictor_class):
            return task
    raise TypeError(f"{type(model).__name__} is not the predictor of any task")


def task_in(directory: str | Path) -> Task:
    """The task of the model in `directory`, as its manifest says; ModelDirError when it is not
    a complete model directory this textseq can read."""
    from textseq.config.base import DEFAULT_TASK
    from textseq.model_dir import check_model_dir

    manifest = check_model_dir(directory, {task.name: task.files for task in TASKS.values()})
    return TASKS[manifest.get("task", DEFAULT_TASK)]


def check_verb(task: Task, verb: str, directory: str | Path) -> None:
    """A one-line error when `task`'s models do not support `verb`, naming those they do and
    the task's own main verb."""
    if not task.supports(verb):
        raise UsageError(
            f"{directory} holds {task.noun} (task: {task.name}); {verb} is not one of its "
            f"verbs ({', '.join(task.all_verbs)}); use: textseq {task.verbs[0]} {directory}"
        )


def load_predictor(
    directory: str | Path,
    *,
    quantize: str | None = None,
    precision: str = "fp32",
    onnx: str | Path | None = None,
) -> Any:
    """The model in `directory` as its task's predictor (see `textseq.load`): the manifest
    names the task, the task's row says which files must be there and which class loads them."""
    from textseq.config import read_yaml
    from textseq.inference import check_inference_options

    check_inference_options(quantize, precision)
    directory = Path(directory)
    task = task_in(directory)
    config = load_config(read_yaml(directory / "config.yaml"), migrate=True)
    if config.task != task.name:
        raise ModelDirError(
            f"{directory}: its manifest says {task.name!r} but config.yaml holds a "
            f"{config.task!r} config"
        )
    return task.predictor_class.load(
        directory, config, quantize=quantize, precision=precision, onnx=onnx
    )


__all__ = [
    "TASKS",
    "Prepared",
    "Task",
    "check_verb",
    "config_docs",
    "config_json_schema",
    "config_show",
    "load_config",
    "load_predictor",
    "migrate_config",
    "schemas",
    "task_in",
    "task_named",
    "task_of",
]
