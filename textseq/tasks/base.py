"""What a task is: the parts that generic code (training, loading, the CLI, export and
serving) finds through the table in `textseq.tasks`, and what a task hands to training.

A task lives in one folder, `textseq/tasks/<name>/`:

    config.py     its config schema and the checks types cannot express
    data.py       reading its data specs, fitting and saving its vocabularies
    datasets.py   its named datasets (catalog entries), when it has any
    build.py      config -> nn.Module, used by training and loading alike
    system.py     the LightningModule: loss, metrics, optimiser
    recipe.py     prepare(): config -> everything `textseq.training` needs
    predictor.py  what `textseq.load(DIR)` returns for its model directories

The recipe imports Lightning; it is named here by module path, not imported, so that loading a
model for prediction never imports training code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# The verbs every task supports; a task adds its own in `Task.verbs`.
COMMON_VERBS = ("train", "evaluate")


class Predictor(Protocol):
    """A trained model loaded from its model directory (the per-task classes add predict,
    generate, translate, explain, ...)."""

    config: Any
    directory: Path | None

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class Prepared:
    """What a task's recipe hands to training: the LightningModule `system` that trains
    `model` (the plain nn.Module whose weights are published), its data, a function that
    writes the task's own model-directory files (vocabularies, labels) into a directory, and
    the data report kept in metrics.json."""

    system: Any  # lightning.pytorch.LightningModule
    model: Any  # torch.nn.Module
    datamodule: Any  # lightning.pytorch.LightningDataModule
    save: Callable[[Path], None]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One row of the task table.

    Attributes:
        name: the value of the config's `task` key and of the manifest's.
        summary: one line for help texts.
        config: the top-level config schema of the task.
        files: model-directory files the task writes besides config.yaml, vocab.json and
            model.safetensors.
        verbs: CLI verbs the task's models support besides train and evaluate.
        predictor: the class `textseq.load(DIR)` returns; `predictor.load(directory, config,
            quantize=..., precision=..., onnx=...)` builds it.
        recipe: the module whose `prepare(config, *, resume_dir, checkpoint) -> Prepared`
            sets up training (imported only when training).
    """

    name: str
    summary: str
    config: type
    files: tuple[str, ...]
    verbs: tuple[str, ...]
    predictor: type
    recipe: str

    @property
    def all_verbs(self) -> tuple[str, ...]:
        return COMMON_VERBS + self.verbs

    def supports(self, verb: str) -> bool:
        return verb in self.all_verbs

    def prepare(self, config: Any, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
        """Everything training needs for `config` (see `Prepared`)."""
        recipe = importlib.import_module(self.recipe)
        return recipe.prepare(config, resume_dir=resume_dir, checkpoint=checkpoint)
