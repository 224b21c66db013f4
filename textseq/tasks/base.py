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
    export.py     what `textseq export` writes and checks (`ExportSubject`), when it exports
    commands.py   what the CLI's verbs do for this task beyond calling the predictor: how
                  `evaluate` reads its data, what `predict` (`translate`, `generate`) prints

The row names every part that imports more than the standard library by where it lives
("package.module" or "package.module:Name"), imported the first time it is used: the config
schema (pydantic), the predictor (PyTorch), the recipe (Lightning), the export adapter (the graph
code). So `textseq --help` imports none of them, predicting imports no Lightning, and only
`train` imports the recipe. A task's `commands` module imports those parts inside its functions,
so that `--help` reads its examples and docstrings without them (a test checks both).

`textseq serve` serves the predictors of tasks with `serve` among their verbs through the
methods of `Servable`, at the path of the task's main verb (`Task.endpoint`: /predict,
/translate, /generate); `textseq export` finds a task's adapter through `Task.exporter`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from textseq.errors import UsageError

if TYPE_CHECKING:
    from textseq.config import TaskConfig
    from textseq.embedding_space import WordEmbeddings

# The verbs every task supports; a task adds its own in `Task.verbs`.
COMMON_VERBS = ("train", "evaluate")
# What `textseq serve` calls on the predictor of a task that has `serve` among its verbs.
SERVE_METHODS = ("serve_metadata", "serve_options", "serve_problem", "serve_texts")


class Predictor(Protocol):
    """A trained model loaded from its model directory (the per-task classes add predict,
    generate, translate, explain, ...)."""

    config: Any
    directory: Path | None

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    def word_embeddings(self) -> WordEmbeddings:
        """Its word-embedding table (V, E), with the vocabulary that indexes it."""
        ...


class Servable(Predictor, Protocol):
    """What `textseq serve` needs of a predictor (the predictors of tasks with `serve` among
    their verbs; `Task` checks they have these methods)."""

    quantize: str | None
    precision: str

    def serve_metadata(self) -> dict[str, Any]:
        """What GET /metadata reports of the model besides its config and how it runs, e.g.
        `{"labels": [...]}`; JSON-able."""
        ...

    def serve_options(self) -> dict[str, tuple[int, str]]:
        """The per-request options its endpoint takes besides the texts (a translation's
        `beam_size`, a language model's `max_tokens`): name -> (its default, the server cap
        that bounds it: "max_beam" or "max_new_tokens"). Positive integers, passed to
        `serve_texts` as keywords; requests of different options never share a model call."""
        ...

    def serve_problem(self, text: str) -> str | None:
        """Why the model cannot take `text` (a phrase that follows "text N ", e.g. "has no
        tokens"), or None when it can. Checked before a request reaches the model."""
        ...

    def serve_texts(
        self, texts: list[str], *, batch_size: int, **options: int
    ) -> list[dict[str, Any]]:
        """The answer of its endpoint (POST /predict, /translate or /generate: the task's
        main verb): one JSON-able dict per text, in order, with at most `batch_size` texts in
        one forward pass, computed with `options` (see `serve_options`)."""
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


def _no_check(outputs: tuple[Any, ...], mask: Any) -> None:
    """The parity check's extra test, for graphs whose outputs need none."""


@dataclass
class ExportSubject:
    """A loaded model as `textseq export` writes and checks it, built by its task's export
    adapter (`Task.exporter`): the graph, its named inputs and outputs and their dynamic axes,
    held-out batches, and how to read the graph's outputs in the parity check.

    The three functions take the outputs of one batch, a tuple of tensors in `output_names`
    order (from the PyTorch graph or from the exported file), and the batch's mask (B, T) of
    real tokens:

        probabilities  -> (N, C): the probabilities the parity check compares, one row per
                          compared item (a text's classes, a real token's tags)
        labels         -> (N,): the labels the outputs predict, for the agreement rate
        check          raises ExportError when an exported file's outputs disagree with one
                       another (a tagger's in-graph tags with decoding its own emissions)
    """

    predictor: Any  # what textseq.load returned (fp32)
    graph: Any  # torch.nn.Module in eval mode: what is written, and the fp32 reference
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]  # name -> {axis: its name}, inputs and outputs
    batches: list[tuple[Any, ...]]  # held-out inputs, in the graph's argument order
    masks: list[Any]  # (B, T) bool: the real tokens of each batch
    probabilities: Callable[[tuple[Any, ...], Any], Any]
    labels: Callable[[tuple[Any, ...], Any], Any]
    check: Callable[[tuple[Any, ...], Any], None] = _no_check
    # format -> why this graph cannot be written in it (one line)
    unsupported: dict[str, str] = field(default_factory=dict)
    viterbi_in_graph: bool = False  # the graph decodes a CRF's Viterbi path (reported)
    classes: list[str] = field(default_factory=list)  # the label or tag set, in output order
    tokenizer: Path | None = None  # the tokenizer.json that gives the graph's token ids


@dataclass
class ExportGraph:
    """One graph of an `ExportBundle`: written as `<name>.onnx`, traced on `example`."""

    name: str  # the file's stem ("encoder", "decoder_step")
    graph: Any  # torch.nn.Module in eval mode
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]  # name -> {axis: its name}, inputs and outputs
    example: tuple[Any, ...]  # inputs the graph is traced on, in its argument order
    metadata: dict[str, str] = field(default_factory=dict)  # added to the file's own


@dataclass
class ExportBundle:
    """A model exported as several graphs that run together (a translation model's encoder
    and decoder step), written into one folder with the files a consumer needs beside them
    (tokenizers, vocabularies). What an export adapter returns instead of an `ExportSubject`
    when one graph cannot hold the model.

    `check(folder, tolerance)` runs the graphs written in `folder` beside the PyTorch model on
    held-out inputs and returns what it measured (JSON-able, with `max_prob_diff`); it raises
    ExportError when they differ beyond `tolerance`, and then nothing is kept."""

    predictor: Any  # what textseq.load returned (fp32)
    graphs: list[ExportGraph]
    check: Callable[[Path, float], dict[str, Any]]
    files: list[Path] = field(default_factory=list)  # copied beside the graphs
    unsupported: dict[str, str] = field(default_factory=dict)  # format -> why not (one line)
    default_out: str = "onnx"  # the folder written in the model directory, without --out


@dataclass(frozen=True)
class Task:
    """One row of the task table.

    Attributes:
        name: the value of the config's `task` key and of the manifest's.
        summary: one line for help texts.
        noun: what one of its models is called in messages, with its article ("a tagger").
        config: the top-level config schema of the task ("module:Class", or the class;
            `schema` is the class).
        files: model-directory files the task writes besides config.yaml, vocab.json and
            model.safetensors.
        verbs: CLI verbs the task's models support besides train and evaluate, its own main
            verb first (the one suggested when a verb it lacks is asked for).
        predictor: the class `textseq.load(DIR)` returns ("module:Class", or the class;
            `predictor_class` is the class); `load(directory, config, quantize=...,
            precision=..., onnx=...)` builds it.
        recipe: the module whose `prepare(config, *, resume_dir, checkpoint) -> Prepared`
            sets up training (imported only when training).
        exporter: the module whose `export_subject(predictor, data, *, limit, batch_size) ->
            ExportSubject | ExportBundle` says what `textseq export` writes (imported only
            when exporting);
            None when the task's models are not exported (then `export` is not a verb).
        commands: the module holding a function per verb whose work differs by task
            (`evaluate`, `predict`, `translate`, `generate`), its `EXAMPLES` and `DATA` for
            `--help` (its name, or the module; `commands_module` is the module). Each function
            takes the predictor and the verb's options as keywords named as the CLI's options.
            It imports only the standard library and light textseq modules at its top, so that
            the CLI's help can read it.
        answers: the key of the list `textseq serve` answers at `endpoint` ("predictions").
    """

    name: str
    summary: str
    noun: str
    config: str | type[TaskConfig]
    files: tuple[str, ...]
    verbs: tuple[str, ...]
    predictor: str | type
    recipe: str
    exporter: str | None
    commands: str | ModuleType
    answers: str = "predictions"

    def __post_init__(self) -> None:
        # The table must not promise a verb that generic code cannot find the parts of.
        if "export" in self.verbs and self.exporter is None:
            raise ValueError(f"task {self.name!r} has the verb export but names no exporter")
        if "export" not in self.verbs and self.exporter is not None:
            raise ValueError(
                f"task {self.name!r} names the exporter {self.exporter} but export is not "
                "one of its verbs"
            )
        if not isinstance(self.predictor, str):  # named by path: checked once imported
            self._check_predictor(self.predictor)

    def _check_predictor(self, predictor: type) -> None:
        missing = [m for m in SERVE_METHODS if not callable(getattr(predictor, m, None))]
        if "serve" in self.verbs and missing:
            raise ValueError(
                f"task {self.name!r} serves, but {predictor.__name__} lacks "
                f"{', '.join(missing)} (see Servable)"
            )

    @cached_property
    def schema(self) -> type[TaskConfig]:
        """The config schema (imported on first use)."""
        return _resolve(self.config)

    @cached_property
    def predictor_class(self) -> type:
        """The predictor class (imported on first use: PyTorch)."""
        predictor = _resolve(self.predictor)
        self._check_predictor(predictor)
        return predictor

    @cached_property
    def commands_module(self) -> Any:
        """The commands module (imported on first use)."""
        return _resolve(self.commands)

    @property
    def endpoint(self) -> str:
        """The POST path `textseq serve` answers for its models: its main verb (predict,
        translate, generate)."""
        return self.verbs[0]

    @property
    def all_verbs(self) -> tuple[str, ...]:
        return COMMON_VERBS + self.verbs

    def supports(self, verb: str) -> bool:
        return verb in self.all_verbs

    def command(self, verb: str) -> Callable[..., Any]:
        """The function of `commands` that does `verb` for this task's models."""
        commands = self.commands_module
        function = getattr(commands, verb.replace("-", "_"), None)
        if function is None:
            name = getattr(commands, "__name__", self.commands)
            raise AttributeError(f"{name} has no function for {verb!r}")
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
            raise UsageError(
                f"{', '.join(stray)}: not an option of {verb} for {self.noun} (task "
                f"{self.name}); its options: {accepted or 'none'}"
            )
        required = [
            n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty
        ]
        if missing := [_flag(name) for name in required if name not in {**given, **values}]:
            raise UsageError(f"{verb} needs {' and '.join(missing)} for {self.noun}")
        return function(model, *inputs, **values, **given)

    def prepare(self, config: Any, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
        """Everything training needs for `config` (see `Prepared`)."""
        recipe = importlib.import_module(self.recipe)
        return recipe.prepare(config, resume_dir=resume_dir, checkpoint=checkpoint)

    def export_subject(
        self, predictor: Any, data: str, *, limit: int, batch_size: int
    ) -> ExportSubject | ExportBundle:
        """What `textseq export` writes for `predictor` (a model of this task), with at most
        `limit` held-out inputs from the data spec `data` in batches of `batch_size`."""
        if self.exporter is None:
            raise ValueError(f"{self.name} models are not exported (export is not a verb)")
        exporter = importlib.import_module(self.exporter)
        return exporter.export_subject(predictor, data, limit=limit, batch_size=batch_size)


def _resolve(where: Any) -> Any:
    """What `where` names: "package.module" is the module, "package.module:Name" the name in
    it; anything else is the part itself (a row built in-process, as a test does)."""
    if not isinstance(where, str):
        return where
    module, _, name = where.partition(":")
    imported = importlib.import_module(module)
    return getattr(imported, name) if name else imported


def _flag(name: str) -> str:
    """The command-line flag of an option: `batch_size` is --batch-size."""
    return "--" + name.replace("_", "-")
