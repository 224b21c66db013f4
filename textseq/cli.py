"""The `textseq` command line: parse, look the model's task up in `textseq.tasks.TASKS`, call.

Every verb takes one config file or model directory. A verb given a model directory reads its
task from the manifest and refuses, in one line, a verb the task does not list
(`textseq.tasks.check_verb`). What a verb does differently per task is the task's own function
(`Task.commands`, e.g. textseq/tasks/tag/commands.py), called with the verb's options as
keywords; the rest goes through the predictor's common methods. Each verb's docstring is its
`--help`; `textseq --help` names the tasks that support each verb.

Conventions (docs/cli.md), kept by the machinery in `textseq.cli_support`: stdout carries only
results (JSON, JSON lines, or a written file's path), everything else goes to stderr; texts come
as arguments, `--file PATH|-` (one per line) or stdin, labelled data as `--data SPEC|-`; errors
are one line with a documented exit code (`cli_support.EXIT_CODES`).

A new verb: a function `_name(args) -> int` whose docstring is its help, registered in
`build_parser` with `_verb(verbs, "name", _name)` and `_options(...)` rows. It prints results
with `print` (JSON), raises `UsageError` for options that cannot work and other
`TextseqError`s for bad input, and imports heavy modules (torch, Lightning, FastAPI) inside
the function, not at the top of this file, so that `textseq --help` stays fast: building the
parser imports neither PyTorch nor pydantic (the task table names its heavy parts by module
path; tests/e2e/test_cli_startup.py checks), and predict and evaluate import no Lightning.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import textseq
from textseq import cli_support, progress
from textseq.cli_support import STDIN, positive, read_lines, stdout_to_stderr
from textseq.data.readers import read_examples
from textseq.errors import TextseqError, UsageError
from textseq.inference import PRECISIONS, QUANTIZATIONS
from textseq.limits import OVER_LIMIT, apply_limits, limits_for, model_limits
from textseq.logs import configured
from textseq.tasks import TASKS, Task, check_verb, task_in
from textseq.word_vectors.commands import add_parser as add_vectors_parser

Verb = Callable[[argparse.Namespace], int]
# How the model runs, for the verbs that load one to run it many times.
INFERENCE = (
    ("--quantize", QUANTIZATIONS, None, "dynamically quantised LSTM/GRU/Linear layers (CPU)"),
    ("--precision", PRECISIONS, "fp32", "(classifiers, taggers) bf16: bf16 autocast (fp32)"),
)
# What the CLI reads itself, not passed to a task's function (also predict's --text-column).
CLI_OWN = (
    *("command", "quiet", "verbose", "progress", "no_verify", "run", "model", "texts", "file"),
    *("quantize", "precision", "max_chars", "over_limit"),
)
# Options that are counts, checked (>= 1) before any model is loaded.
COUNTS = ("batch_size", "top_k", "nbest", "beam", "num", "limit")
# predict's and translate's cap on each text (textseq.limits): more is refused (exit 3) or cut
LIMITS = (
    ("--max-chars", int, 100_000, "most characters per text (100000)"),
    (
        "--over-limit",
        OVER_LIMIT,
        None,
        "a text over a cap: refuse (exit 3) or cut, warned (default: refuse over --max-chars, "
        "read the first tokens over the model's token cap)",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """The `textseq` command; returns its exit code (`cli_support.EXIT_CODES`)."""
    try:
        args = parse_args(argv)
    except SystemExit as exit:  # --help, --version, or argparse's usage error (2)
        return exit.code if isinstance(exit.code, int) else cli_support.USAGE
    if args.no_verify:
        os.environ["TEXTSEQ_NO_VERIFY"] = "1"  # textseq.model_dir.verifying
    # The loggers, warning filters and progress setting hold for this command only, so that a
    # program calling main() keeps its own (textseq.logs.configured).
    with (
        configured(quiet=args.quiet, verbose=args.verbose),
        progress.showing(False if args.quiet else True if args.progress else None),
    ):
        return cli_support.run(_checked, args)


def _checked(args: argparse.Namespace) -> int:
    """The verb, once its count options are known to be at least 1."""
    for name in COUNTS:
        positive(f"--{name.replace('_', '-')}", getattr(args, name, None))
    return args.run(args)


def _train(args: argparse.Namespace) -> int:
    """train a model from a YAML config and write a model directory

    The config's task key chooses the schema and the task's own files (docs/model-directory.md).
    --out is the model directory written. Prints one JSON object when done: {"model_dir",
    "monitor", "best_epoch", "best": the metrics of the best validation, "seconds"}; progress,
    the model summary and per-epoch metrics go to stderr."""
    if args.config is None and args.resume is None:
        raise UsageError("train needs a CONFIG file (or --resume DIR)")
    options = dict(out=args.out, resume=args.resume, overwrite=args.overwrite)
    options["keep_checkpoint"] = not args.discard_checkpoint
    overrides = [*args.set, *(["trainer.progress_bar=false"] if args.quiet else [])]
    started = time.perf_counter()
    with stdout_to_stderr():  # whatever a library prints while training is not a result
        directory = textseq.train(args.config, overrides=overrides, **options)
    metrics = json.loads((Path(directory) / "metrics.json").read_text(encoding="utf-8"))
    report = {"model_dir": str(directory), "monitor": metrics["monitor"]}
    report.update(best_epoch=metrics["best_epoch"], best=metrics["best"])
    report.update(seconds=round(time.perf_counter() - started, 2))
    print(json.dumps(report))
    return 0


def _distill(args: argparse.Namespace) -> int:
    """train a classifier (the student CONFIG) on a trained classifier's logits (the teacher)

    The config's distill section sets the loss, the mix with the gold labels and the augmented
    copies (docs/distillation.md); the teacher's logits are cached."""
    options = dict(out=args.out, overrides=args.set, overwrite=args.overwrite)
    print(textseq.distill(args.model, args.config, **options))
    return 0


def _config(args: argparse.Namespace) -> int:
    """print a resolved config, a task's config schema, or the configuration reference

    show CONFIG [--set KEY=VALUE]: the config with every default, a comment on each key (YAML
    that loads as the same config); schema --task TASK: the JSON Schema of a task's config;
    docs: docs/configuration.md, every key of every task (Markdown)."""
    if args.action == "show" and args.config is None:
        raise UsageError("config show needs a CONFIG file")
    if args.action == "schema" and args.task is None:
        raise UsageError(f"config schema needs --task ({', '.join(TASKS)})")
    if args.action == "show":
        sys.stdout.write(textseq.tasks.config_show(args.config, args.set))
    elif args.action == "schema":
        print(json.dumps(textseq.tasks.config_json_schema(args.task), indent=2))
    else:
        sys.stdout.write(textseq.tasks.config_docs())
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """score a model on labelled data or a corpus; prints one JSON object

    --data - reads the data from stdin (a table: JSON lines, tab- or comma-separated, as its
    first line shows; a tagger's CoNLL; a language model's text)."""
    if args.data != STDIN:
        print(json.dumps(_call(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="textseq-stdin-") as folder:
        args.data = str(_stdin_to_file(Path(folder)))
        print(json.dumps(_call(args)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    """label texts; writes one JSON line per text, in order

    Texts come as arguments, in a file (--file PATH, - for stdin: .txt, one per line, or the
    text column of a .tsv/.csv/.jsonl) or on stdin (one per line). A blank line gives a line
    `null`, so that output line i answers input line i."""
    return _write_lines(args, _capped(args, _texts(args)))


def _translate(args: argparse.Namespace) -> int:
    """translate sentences; writes one JSON line per sentence, in order

    Sentences come as arguments, in a file (--file PATH, - for stdin: one per line, optionally
    .gz) or on stdin. A blank line gives a line `null`."""
    return _write_lines(args, _capped(args, _texts(args)))


def _generate(args: argparse.Namespace) -> int:
    """sample text from a language model, streamed to stdout as plain text"""

    def write(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    _call(args, write=write)
    return 0


def _explain(args: argparse.Namespace) -> int:
    """why a model gives its output: saliency and attention

    Prints one JSON object, or draws it with --out: a classifier's gradient x input saliency
    and attention weights, a tagger's tag marginals per token (--out FILE.png only), a
    translation model's greedy translation with its attention over the source. A classifier's
    saliency is gradient x input, or integrated gradients with --method ig. The fields and
    figures: docs/explain.md. Several texts (--file PATH|-, or stdin, one per line) give one
    JSON line each (a blank line: null); --out, the figure written, takes one text."""
    texts = read_lines(args.file, [args.text] if args.text is not None else [])
    if args.out is not None and not args.out.lower().endswith((".png", ".html", ".htm")):
        raise UsageError(f"--out {args.out}: the name must end in .png or .html")
    if args.out is not None and len(texts) != 1:
        raise UsageError(f"--out draws one text; {len(texts)} were given (leave --out out)")
    task, model = _open(args)
    how = {}
    if args.method != "gradient-x-input":
        if "method" not in inspect.signature(model.explain).parameters:
            raise UsageError(f"--method {args.method}: saliency methods are for classifiers, "
                             f"and {args.model} is {task.noun}")  # fmt: skip
        how = {"method": args.method}
    if args.out is not None:
        print(model.explain(texts[0], **how).save(args.out))
        return 0
    for text in progress.track(texts, "explain", total=len(texts)):
        result = model.explain(text, **how).to_dict() if text else None
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def _neighbors(args: argparse.Namespace) -> int:
    """nearest words by cosine similarity in a model's word embedding table

    A tagger's word embeddings, a translation model's source embeddings, other models' token
    embeddings; not WORD itself or specials. Prints {"word", "neighbors": [{"word", "cosine"}]}."""
    table = _open(args)[1].word_embeddings()
    word = table.lookup(args.word)
    neighbors = table.neighbors(word, k=args.top_k)
    found = [{"word": w, "cosine": round(c, 6)} for w, c in neighbors]
    print(json.dumps({"word": word, "neighbors": found}, ensure_ascii=False))
    return 0


def _embeddings_plot(args: argparse.Namespace) -> int:
    """2-D map (PCA or t-SNE) of chosen words' embeddings, as a PNG

    The words' rows of the embedding table (as for neighbors), projected by scikit-learn; PCA
    axes give their share of the variance. --groups FILE (lines WORD<TAB>GROUP) colours the
    words by group, with a legend, and gives the words when --words is left out. Words not in
    the vocabulary are reported on stderr and in the printed JSON {"out", "method", "words",
    "missing"}."""
    # Imported here: only this verb draws (matplotlib), and `textseq --help` stays fast.
    from textseq.embedding_space import plot_words
    from textseq.plots import plot_embeddings

    if not args.out.lower().endswith(".png"):
        raise UsageError(f"--out {args.out}: the name must end in .png")
    words, groups = plot_words(args.words, args.groups)
    table = _open(args)[1].word_embeddings()
    projection = table.project(words, method=args.method, seed=args.seed)
    if projection.missing:
        missing = ", ".join(projection.missing)
        logging.getLogger("textseq").warning("not in the vocabulary, not plotted: %s", missing)
    drawn = plot_embeddings(projection, args.out, groups=groups)
    report = {"out": str(drawn), "method": projection.method}
    report.update(words=projection.words, missing=projection.missing)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    """write a model as an ONNX or TorchScript file (or a Hugging Face folder), parity-checked

    One graph with dynamic batch and length axes, run beside the PyTorch model on held-out
    inputs (validation data or --data); prints the largest probability difference and both
    latencies as JSON, and writes nothing beyond --tolerance (docs/inference-export-serving.md).
    --out is the file written (--format hf: the folder, for a pretrained encoder's classifier)."""
    # Imported here: only this verb builds graphs (ONNX), and `textseq --help` stays fast.
    from textseq.export import export_model

    check_verb(task_in(args.model), "export", args.model)
    options = dict(quantize=args.quantize, out=args.out, data=args.data, limit=args.limit)
    try:
        report = export_model(args.model, format=args.format, tolerance=args.tolerance, **options)
    except ValueError as error:
        raise UsageError(str(error)) from None
    logging.getLogger("textseq").info(report.summary())
    print(json.dumps(report.to_dict()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """serve a model over HTTP (FastAPI + uvicorn)

    POST /predict {"texts": [...]} answers {"predictions": [...]} as predict prints them
    (/translate, /generate for translation and language models); GET /health, /ready,
    /metrics, /metadata. A bounded queue (full: 503), a deadline per request (504), fair
    batches; bad requests answer 400, 413, 415 or 422 (docs/serving.md).
    Needs the serve extra: pip install "textseq[serve]"."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:  # pragma: no cover - the serve extra is missing
        raise TextseqError(
            f'serve needs FastAPI and uvicorn ({error}): pip install "textseq[serve]"'
        ) from None
    # Imported here: only this verb serves (FastAPI), and `textseq --help` stays fast.
    from textseq.serving import ServeSettings, serve

    check_verb(task_in(args.model), "serve", args.model)
    # Every setting but the directory is the option of the same name.
    names = [f.name for f in dataclasses.fields(ServeSettings) if hasattr(args, f.name)]
    try:
        settings = ServeSettings(
            model_dir=args.model, **{name: getattr(args, name) for name in names}
        )
    except TextseqError as error:  # a setting out of bounds is the option's
        raise UsageError(str(error)) from None
    serve(settings)
    return 0


def _curves(args: argparse.Namespace) -> int:
    """plot a finished run's training curves as a PNG

    Train and validation loss and the monitored metric per epoch (per validation when
    trainer.val_check_interval < 1), the best epoch marked; read from DIR/metrics.json. --out
    is the PNG written (default DIR/curves.png). Prints {"out", "epochs", "monitor",
    "best_epoch", "series"}."""
    # Imported here: only this verb draws (matplotlib), and `textseq --help` stays fast.
    from textseq.curves import plot_curves

    out = args.out or str(Path(args.model) / "curves.png")
    if not out.lower().endswith(".png"):
        raise UsageError(f"--out {out}: the name must end in .png")
    print(json.dumps(plot_curves(args.model, out)))
    return 0


def _completion(args: argparse.Namespace) -> int:
    """print a shell completion script: eval "$(textseq completion bash)" (or zsh)"""
    sys.stdout.write(cli_support.completion(build_parser(), args.shell))
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    """train configs once per seed, score them and their baselines; or render the report

    CONFIG...: each config trained at --seeds seeds (its seed and the next ones), scored on
    its dataset's test and dev splits, one JSON line per run appended to
    RESULTS/<config>.jsonl; runs already recorded for this commit are skipped. report: writes
    docs/benchmarks.md from the results files (docs/benchmarks.md says how)."""
    # Imported here: training (Lightning) only for this verb.
    from textseq.benchmarking import benchmark, render_report

    if args.configs == ["report"]:
        print(render_report(args.results, anchors=args.anchors, out=args.out), end="")
        return 0
    options = dict(seeds=args.seeds, overrides=args.set, jobs=args.jobs, baselines=args.baselines)
    benchmark(
        args.configs,
        results_dir=args.results,
        work_dir=args.work_dir,
        on_record=lambda record: print(json.dumps(record, ensure_ascii=False), flush=True),
        **options,
    )
    return 0


def _open(args: argparse.Namespace) -> tuple[Task, Any]:
    """The task and the loaded model of `args.model`, once the task is known to support the
    verb; the model runs as --quantize and --precision say, where the verb has them."""
    task = task_in(args.model)
    check_verb(task, args.command, args.model)
    quantize, precision = getattr(args, "quantize", None), getattr(args, "precision", "fp32")
    try:
        return task, textseq.load(args.model, quantize=quantize, precision=precision)
    except ValueError as error:  # --quantize/--precision the model cannot run with
        raise UsageError(str(error)) from None


def _call(args: argparse.Namespace, *inputs: Any, **values: Any) -> Any:
    """The verb done by the task's function for it (`Task.run`) on the model of `args.model`
    (loaded once, kept in `args`), given the verb's options but those the CLI reads itself
    (DIR, TEXT, --file, ...)."""
    if getattr(args, "loaded", None) is None:
        args.loaded = _open(args)
    task, model = args.loaded
    own = {*CLI_OWN, "loaded", *(["text_column"] if args.command == "predict" else [])}
    options = {name: value for name, value in vars(args).items() if name not in own}
    return task.run(args.command, model, *inputs, options=options, **values)


def _texts(args: argparse.Namespace) -> list[str]:
    """The texts of predict or translate: its arguments, --file's, or the lines of stdin."""
    table = (".tsv", ".csv", ".jsonl", ".tsv.gz", ".csv.gz", ".jsonl.gz")
    if args.file and args.file.lower().endswith(table) and args.command == "predict":
        if args.texts:
            raise UsageError("give texts as arguments or with --file, not both")
        examples = read_examples(args.file, text_column=args.text_column, label_column=None)
        return [example.text for example in examples]
    return read_lines(args.file, args.texts)


def _capped(args: argparse.Namespace, texts: list[str]) -> list[str]:
    """`texts` held to --max-chars and the model's token cap as --over-limit says (the model
    is loaded for its cap, and holds texts to the same limits); a warning on stderr per text
    over a cap."""
    limits = limits_for(args.over_limit, max_chars=args.max_chars)
    if getattr(args, "loaded", None) is None:
        args.loaded = _open(args)
    model = args.loaded[1]
    model.limits = limits
    limits, count_tokens = model_limits(model, limits)
    checked = apply_limits(texts, limits, count_tokens=count_tokens)
    for warning in checked.warnings:
        print(f"textseq: warning: {warning}", file=sys.stderr)
    return checked.texts


def _write_lines(args: argparse.Namespace, texts: list[str]) -> int:
    """Runs predict or translate on `texts` a batch at a time, one JSON line per text (null for
    a blank one), counting them on the progress line."""
    batch = getattr(args, "batch_size", None) or 256
    with progress.Progress(args.command, total=len(texts)) as shown:
        for start in range(0, len(texts), batch):
            chunk = texts[start : start + batch]
            given = [text for text in chunk if text]
            results = iter(_call(args, given) if given else [])
            for text in chunk:
                result = next(results) if text else None
                sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            shown.update(len(chunk))
    return 0


def _stdin_to_file(folder: Path) -> Path:
    """Standard input saved in `folder` under a name whose suffix says its format (as its
    first line shows: JSON lines, tab- or comma-separated), for --data -."""
    if sys.stdin.isatty():
        raise UsageError("--data -: nothing on stdin (pipe the data in)")
    text = sys.stdin.read()
    first = text.lstrip().split("\n", 1)[0]
    suffix = ".jsonl" if first.startswith("{") else ".tsv" if "\t" in first else ".csv"
    path = folder / f"stdin{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def build_parser() -> argparse.ArgumentParser:
    tasks = "; ".join(f"{task.name} ({task.summary})" for task in TASKS.values())
    about = f"Sequence models over text: train, evaluate, use and explain models of {tasks}."
    parser = argparse.ArgumentParser(
        prog="textseq",
        description=textwrap.fill(f"{about} Each verb names the tasks that support it.", 92),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"textseq {textseq.__version__}")
    _global_options(parser)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = _verb(verbs, "train", _train, model=None)
    train.add_argument("config", nargs="?", help="YAML config file (optional with --resume)")
    _options(
        train,
        ("--set KEY=VALUE", list, None, "override a config key (repeatable; YAML values)"),
        ("--out DIR", str, None, "the model directory written (default: runs/<config name>)"),
        ("--resume DIR", str, None, "continue from a model or unfinished run's DIR.partial"),
        ("--overwrite", bool, None, "replace --out if it exists"),
        ("--discard-checkpoint", bool, None, "delete DIR.ckpt (the resumable state) once done"),
    )

    student = _verb(verbs, "distill", _distill, model="the teacher's model directory")
    student.add_argument("config", help="the student's YAML config (task: classify)")
    _options(
        student,
        ("--set KEY=VALUE", list, None, "override a config key (repeatable; YAML values)"),
        ("--out", str, None, "model directory to write (default: runs/<config name>)"),
        ("--overwrite", bool, None, "replace --out if it exists"),
    )

    config = _verb(verbs, "config", _config, model=None)
    config.add_argument("action", choices=("show", "schema", "docs"), help="what to print")
    config.add_argument("config", nargs="?", metavar="CONFIG", help="(show) YAML config file")
    _options(
        config,
        ("--set KEY=VALUE", list, None, "(show) override a config key (repeatable)"),
        ("--task", tuple(TASKS), None, "(schema) the task whose config schema to print"),
    )

    # Task options default to None: the task's function has the defaults (`Task.run`).
    evaluate = _verb(verbs, "evaluate", _evaluate)
    _options(
        evaluate,
        ("--data SPEC", str, None, "file, NAME:SPLIT or - (stdin) (translation: or --src, --tgt)"),
        ("--src FILE", str, None, "(translation) source sentences, a file"),
        ("--tgt FILE", str, None, "(translation) reference translations, a file"),
        ("--beam", int, None, "(translation) beam size beside greedy decoding (the config's)"),
        ("--text-column", str, None, "text column of a .tsv/.csv/.jsonl file (text)"),
        ("--label-column", str, None, "label column of a file (label)"),
        ("--label-map MAP", str, None, "(classifiers) rename data labels: 0=negative,1=positive"),
        ("--batch-size", int, None, "texts per batch (256; translation 64) or streams (LMs, 10)"),
        ("--token-column", int, None, "(taggers) token column of a CoNLL file (0)"),
        ("--tag-column", int, None, "(taggers) tag column of a CoNLL file, <0 from the end (-1)"),
        *INFERENCE,
    )

    predict = _verb(verbs, "predict", _predict)
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label")
    _options(
        predict,
        ("--file PATH", str, None, "texts: .txt (one per line; - for stdin) or .tsv/.csv/.jsonl"),
        ("--text-column", str, "text", "text column of a .tsv/.csv/.jsonl file (text)"),
        ("--explain", bool, None, 'add "attention": [[token, weight], ...] (attention pooling)'),
        ("--batch-size", int, 256, "texts per batch (256)"),
        ("--tokens", bool, None, "(taggers) the texts are tokenised: split on whitespace only"),
        ("--nbest", int, None, '(taggers with a CRF) add "nbest": the N best tag sequences'),
        *LIMITS,
        *INFERENCE,
    )

    translate = _verb(verbs, "translate", _translate)
    translate.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    _options(
        translate,
        ("--file PATH", str, None, "sentences, one per line (- for stdin)"),
        ("--beam", int, None, "beam size (default: the config's decoding.beam_size; 1: greedy)"),
        ("--nbest", int, 1, "also list the N best translations (1)"),
        ("--batch-size", int, 64, "sentences per batch (64)"),
        *LIMITS,
        INFERENCE[0],
    )

    _options(
        _verb(verbs, "generate", _generate),
        ("--prompt", str, "", "text to continue (default: none)"),
        ("--max-tokens", int, 100, "tokens to generate per sample (100)"),
        ("--temperature", float, 1.0, "softmax temperature; 0 is greedy (1.0)"),
        ("--top-k", int, None, "sample among the K best"),
        ("--top-p", float, None, "nucleus sampling mass P"),
        ("--seed", int, None, "random seed (sample i: S+i)"),
        ("--num", int, 1, "number of samples (1)"),
        INFERENCE[0],
    )

    explain = _verb(verbs, "explain", _explain)
    explain.add_argument("text", nargs="?", metavar="TEXT", help="the text (default: stdin)")
    _options(
        explain,
        ("--file PATH", str, None, "texts, one per line (- for stdin); one JSON line each"),
        ("--out FILE", str, None, "the figure written instead of JSON: FILE.png or FILE.html"),
        ("--method", ("gradient-x-input", "ig"), "gradient-x-input",
         "a classifier's saliency: gradient x input, or integrated gradients (Captum)"),
    )  # fmt: skip

    export = _verb(verbs, "export", _export)
    export.add_argument(
        "--format", required=True, choices=("onnx", "torchscript", "hf"), help="format"
    )
    _options(
        export,
        ("--quantize", ("int8",), None, "dynamic int8 quantisation"),
        (
            "--out FILE",
            str,
            None,
            "the file written (DIR/model[.int8].onnx or .torchscript.pt;"
            " a translation model's folder: DIR/onnx; --format hf: DIR/hf)",
        ),
        ("--data SPEC", str, None, "held-out inputs for the check (default: the val data)"),
        ("--limit", int, 512, "held-out inputs in the parity check (512)"),
        ("--tolerance", float, None, "largest probability difference (1e-3; int8: 0.1)"),
    )

    serve = _verb(verbs, "serve", _serve)
    _options(
        serve,
        ("--host", str, "127.0.0.1", "address to listen on (127.0.0.1)"),
        ("--port", int, 8000, "port to listen on (8000)"),
        ("--workers", int, 1, "server processes, each with its own copy of the model (1)"),
        ("--max-batch", int, 64, "most texts in one model call (64)"),
        ("--max-wait-ms", float, 5.0, "longest wait for others to share a model call, ms (5)"),
        ("--batch-chars", int, 50_000, "most characters in one model call (50000)"),
        ("--batch-seconds", float, 0.25, "bound batches to this much measured work; 0: off"),
        ("--max-texts", int, 256, "most texts in one request; more: 413 (256)"),
        ("--max-chars", int, 10_000, "most characters in one text; more: 413 (10000)"),
        (
            "--over-limit",
            OVER_LIMIT,
            None,
            "a text over --max-chars or the model's token cap: 413 or cut, warned (default: "
            "413 over --max-chars, the first tokens over the token cap)",
        ),
        ("--queue-texts", int, 1024, "most texts waiting for the model; more: 503 (1024)"),
        ("--queue-chars", int, 4_000_000, "most characters waiting; more: 503 (4000000)"),
        ("--deadline-s", float, 5.0, "answer within this many seconds of arrival, else 504 (5)"),
        ("--max-beam", int, 8, "largest beam_size of a /translate request (8)"),
        ("--max-new-tokens", int, 256, "largest max_tokens of a /generate request (256)"),
        ("--ready-within-s", float, 60.0, "/ready needs a finite canary answer this recent (60)"),
        ("--drain-s", float, 10.0, "on shutdown, time left to admitted requests (10)"),
        ("--threads", int, None, "PyTorch threads per worker (default: PyTorch's own choice)"),
        *INFERENCE,
    )

    bench = _verb(verbs, "benchmark", _benchmark, model=None)
    bench.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML configs, or: report")
    _options(
        bench,
        ("--seeds", int, 3, "seeds per config (3)"),
        ("--set KEY=VALUE", list, None, "override a config key in every config (repeatable)"),
        ("--jobs", int, 1, "runs at a time, in separate processes (1)"),
        ("--baselines", bool, None, "also run the task's baselines on the same data"),
        ("--results DIR", str, "benchmarks/results", "results files (benchmarks/results)"),
        ("--work-dir DIR", str, "runs/benchmark", "model directories (runs/benchmark)"),
        ("--anchors FILE", str, "benchmarks/anchors.yaml", "(report) literature figures"),
        ("--out FILE", str, "docs/benchmarks.md", "(report) the page to write"),
    )

    neighbors = _verb(verbs, "neighbors", _neighbors)
    neighbors.add_argument("word", metavar="WORD", help="a word in the model's vocabulary")
    neighbors.add_argument("--top-k", type=int, default=10, help="how many neighbours (10)")
    neighbors.add_argument("-k", type=int, dest="top_k", help=argparse.SUPPRESS)  # old name

    plot = _verb(verbs, "embeddings-plot", _embeddings_plot)
    plot.add_argument("--words", help="comma-separated words, e.g. good,bad,film")
    plot.add_argument("--out", required=True, metavar="FILE.png", help="the PNG written")
    _options(
        plot,
        ("--groups FILE", str, None, "colour words by group: lines WORD<TAB>GROUP"),
        ("--method", ("pca", "tsne"), "pca", "projection (pca)"),
        ("--seed", int, 0, "random seed of the projection (0)"),
    )

    curves = _verb(verbs, "curves", _curves, model="a model directory (a finished run)")
    curves.add_argument("--out", metavar="FILE.png", help="the PNG written (DIR/curves.png)")

    completion = _verb(verbs, "completion", _completion, model=None)
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell")

    add_vectors_parser(verbs)  # textseq vectors train|evaluate|neighbors|analogy|plot
    return parser


def _global_options(parser: argparse.ArgumentParser) -> None:
    """-q, -v and --progress, before the verb."""
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", help="print only errors on stderr")
    loud.add_argument("-v", "--verbose", action="store_true", help="add debug messages")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="progress lines on stderr even when it is not a terminal (they are by default)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="load model directories without sha256 checks"
    )


def _verb(verbs, name: str, run: Verb, *, model: str | None = "model directory"):
    """The parser of verb `name`, done by `run`. Its help is the first line of `run`'s
    docstring and the tasks that support it, from the table; its description the rest, with
    what each task's function for it says it does. `model`: help of the DIR argument."""
    tasks = [task for task in TASKS.values() if task.supports(name)]
    summary, _, rest = (inspect.getdoc(run) or "").partition("\n\n")
    for task in tasks:
        function = getattr(task.commands_module, name.replace("-", "_"), None)
        if function is not None:  # the first paragraph of its docstring
            doc = (inspect.getdoc(function) or "").split("\n\n")[0]
            rest += f"\n\nFor {task.noun}: {doc[:1].lower()}{' '.join(doc[1:].split())}"
    help = f"{summary} [{', '.join(task.name for task in tasks) or 'every task'}]"
    description = f"{summary[:1].upper()}{summary[1:]}. {' '.join(rest.split())}"
    parser = verbs.add_parser(name, help=help, description=description)
    parser.set_defaults(run=run)
    if model is not None:
        parser.add_argument("model", metavar="DIR", help=model)
    return parser


def _options(parser: argparse.ArgumentParser, *rows: tuple[str, Any, Any, str]) -> None:
    """Options given as ("--flag [METAVAR]", type, default, help) rows: type bool makes a
    flag, list a repeatable option, a tuple of strings the choices."""
    for name, kind, default, text in rows:
        flag, _, meta = name.partition(" ")
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=text)
        elif kind is list:
            parser.add_argument(flag, action="append", default=[], metavar=meta, help=text)
        elif isinstance(kind, tuple):
            parser.add_argument(flag, choices=kind, default=default, help=text)
        else:
            parser.add_argument(flag, type=kind, default=default, metavar=meta or None, help=text)


def _epilog() -> str:
    """Examples and data specs of every task, from its commands module."""
    tasks = TASKS.values()
    examples = [line for t in tasks for line in t.commands_module.EXAMPLES.splitlines()]
    data = "; ".join(f"for {t.noun}, {t.commands_module.DATA}" for t in tasks)
    named = "from $TEXTSEQ_DATASETS, else downloaded once to $TEXTSEQ_CACHE (~/.cache/textseq)"
    wrapped = textwrap.fill(f"data specs (--data): {data}. Named datasets are read {named}.", 92)
    return "examples:\n" + "".join(f"  {line}\n" for line in examples) + "\n" + wrapped


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; a verb's options may come anywhere among its arguments
    (`predict DIR --explain TEXT`), which plain argparse subcommands do not allow."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    position = next((i for i, arg in enumerate(argv) if arg in verbs), None)
    if position is None or any(arg in ("-h", "--help", "--version") for arg in argv[:position]):
        return parser.parse_args(argv)
    top = argparse.ArgumentParser(prog="textseq", add_help=False)
    _global_options(top)
    global_args, unknown = top.parse_known_args(argv[:position])
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    verb = verbs[argv[position]]
    # argparse cannot intermix a verb that has verbs of its own (`vectors train`).
    parse = verb.parse_args if verb._subparsers is not None else verb.parse_intermixed_args
    args = parse(argv[position + 1 :])
    args.command = argv[position]
    vars(args).update(vars(global_args))
    return args


if __name__ == "__main__":
    sys.exit(main())
