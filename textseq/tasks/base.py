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
    commands.py   what the CLI's verbs do for this task beyond calling the predictor: how
                  `evaluate` reads its data, what `predict` (`translate`, `generate`) prints

The recipe imports Lightning; it is named here by module path, not imported, so that loading a
model for prediction never imports training code.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from textseq.embedding_space import WordEmbeddings
from textseq.errors import TextseqError

# The verbs every task supports; a task adds its own in `Task.verbs`.
COMMON_VERBS = ("train", "evaluate")


class Predictor(Protocol):
    """A trained model loaded from its model directory (the per-task classes add predict,
    generate, translate, explain, ...)."""

    config: Any
    directory: Path | None

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    def word_embeddings(self) -> WordEmbeddings:
        """Its word-embedding table (V, E), with the vocabulary that indexes it."""
        ...


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
        noun: what one of its models is called in messages, with its article ("a tagger").
        config: the top-level config schema of the task.
        files: model-directory files the task writes besides config.yaml, vocab.json and
            model.safetensors.
        verbs: CLI verbs the task's models support besides train and evaluate, its own main
            verb first (the one suggested when a verb it lacks is asked for).
        predictor: the class `textseq.load(DIR)` returns; `predictor.load(directory, config,
            quantize=..., precision=..., onnx=...)` builds it.
        recipe: the module whose `prepare(config, *, resume_dir, checkpoint) -> Prepared`
            sets up training (imported only when training).
        commands: the module (importing no Lightning) holding a function per verb whose work
            differs by task (`evaluate`, `predict`, `translate`, `generate`); each takes the
            predictor and the verb's options as keywords named as the CLI's options.
    """

    name: str
    summary: str
    noun: str
    config: type
    files: tuple[str, ...]
    verbs: tuple[str, ...]
    predictor: type
    recipe: str
    commands: ModuleType

    @property
    def all_verbs(self) -> tuple[str, ...]:
        return COMMON_VERBS + self.verbs

    def supports(self, verb: str) -> bool:
        return verb in self.all_verbs

    def command(self, verb: str) -> Callable[..., Any]:
        """The function of `commands` that does `verb` for this task's models."""
        function = getattr(self.commands, verb.replace("-", "_"), None)
        if function is None:
            raise AttributeError(f"{self.commands.__name__} has no function for {verb!r}")
        return function

    def run(
        self, verb: str, model: Any, *inputs: Any, options: Mapping[str, Any], **values: Any
    ) -> Any:
        """`verb` done for `model` by the task's function for it, called with `inputs`,
        `values` and those of `options` (a verb's options as keywords, `batch_size` for
        --batch-size) that have a value: None and False mean "not given", so that the
        function's own defaults apply. An option given that the function has no parameter
        for, or one it requires that is missing, is a one-line TextseqError naming its
        options."""
        function = self.command(verb)
        parameters = inspect.signature(function).parameters
        given = {k: v for k, v in options.items() if v is not None and v is not False}
        if stray := [_flag(name) for name in given if name not in parameters]:
            accepted = ", ".join(_flag(name) for name in options if name in parameters)
            raise TextseqError(
                f"{', '.join(stray)}: not an option of {verb} for {self.noun} (task "
                f"{self.name}); its options: {accepted or 'none'}"
            )
        required = [
            n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty
        ]
        if missing := [_flag(name) for name in required if name not in {**given, **values}]:
            raise TextseqError(f"{verb} needs {' and '.join(missing)} for {self.noun}")
        return function(model, *inputs, **values, **given)

    def prepare(self, config: Any, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
        """Everything training needs for `config` (see `Prepared`)."""
        recipe = importlib.import_module(self.recipe)
        return recipe.prepare(config, resume_dir=resume_dir, checkpoint=checkpoint)


def _flag(name: str) -> str:
    """The command-line flag of an option: `batch_size` is --batch-size."""
    return "--" + name.replace("_", "-")
