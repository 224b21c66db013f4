"""The `textseq` command line: parse, look the model's task up in `textseq.tasks.TASKS`, call.

Every verb takes one config file or model directory. A verb given a model directory reads its
task from the manifest and refuses, in one line, a verb the task does not list
(`textseq.tasks.check_verb`). What a verb does differently per task is the task's own function
(`Task.commands`, e.g. textseq/tasks/tag/commands.py), called with the verb's options as
keywords; the rest goes through the predictor's common methods. Each verb's docstring is its
`--help`; `textseq --help` names the tasks that support each verb. Results go to stdout as
JSON; progress and messages to stderr. Errors in input print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import textseq
from textseq.data.readers import iter_lines, read_examples
from textseq.errors import TextseqError
from textseq.export import export_model
from textseq.inference import PRECISIONS, QUANTIZATIONS
from textseq.plots import plot_embeddings
from textseq.serving import ServeSettings, serve
from textseq.tasks import TASKS, Task, check_verb, task_in

Verb = Callable[[argparse.Namespace], int]
# How the model runs, for the verbs that load one to run it many times.
INFERENCE = (
    ("--quantize", QUANTIZATIONS, None, "dynamically quantised LSTM/GRU/Linear layers (CPU)"),
    ("--precision", PRECISIONS, "fp32", "(classifiers, taggers) bf16: bf16 autocast (fp32)"),
)
# What the CLI reads itself, not passed to a task's function (also predict's --text-column).
CLI_OWN = ("command", "quiet", "run", "model", "texts", "file", "quantize", "precision")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging(quiet=args.quiet)
    try:
        return args.run(args)
    except TextseqError as error:
        print(f"textseq: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("textseq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `textseq predict ... | head`
        return 0


def _train(args: argparse.Namespace) -> int:
    """train a model from a YAML config and write a model directory

    The config's task key chooses the schema and the task's own files (docs/model-directory.md)."""
    if args.config is None and args.resume is None:
        raise TextseqError("train needs a CONFIG file (or --resume DIR)")
    options = dict(out=args.out, resume=args.resume, overwrite=args.overwrite)
    print(textseq.train(args.config, overrides=args.set, **options))
    return 0


def _config(args: argparse.Namespace) -> int:
    """print a resolved config, a task's config schema, or the configuration reference

    show CONFIG [--set KEY=VALUE]: the config with every default, a comment on each key (YAML
    that loads as the same config); schema --task TASK: the JSON Schema of a task's config;
    docs: docs/configuration.md, every key of every task (Markdown)."""
    if args.action == "show" and args.config is None:
        raise TextseqError("config show needs a CONFIG file")
    if args.action == "schema" and args.task is None:
        raise TextseqError(f"config schema needs --task ({', '.join(TASKS)})")
    if args.action == "show":
        sys.stdout.write(textseq.tasks.config_show(args.config, args.set))
    elif args.action == "schema":
        print(json.dumps(textseq.tasks.config_json_schema(args.task), indent=2))
    else:
        sys.stdout.write(textseq.tasks.config_docs())
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """score a model on labelled data or a corpus; prints one JSON object"""
    print(json.dumps(_call(args)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    """label texts; writes one JSON line per text

    Texts come as arguments, in a file (--file: .txt, one per line, or the text column of a
    .tsv/.csv/.jsonl) or on stdin (one per line)."""
    return _write_lines(args, _texts(args))


def _translate(args: argparse.Namespace) -> int:
    """translate sentences; writes one JSON line per sentence

    Sentences come as arguments, in a file (--file, one per line, optionally .gz) or on stdin."""
    return _write_lines(args, _texts(args))


def _generate(args: argparse.Namespace) -> int:
    """sample text from a language model, streamed to stdout"""

    def write(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    _call(args, write=write)
    return 0


def _explain(args: argparse.Namespace) -> int:
    """why a model gives its output: saliency and attention

    Prints one JSON object, or draws it with --out: a classifier's gradient x input saliency
    and attention weights, a tagger's tag marginals per token (--out FILE.png only), a
    translation model's greedy translation with its attention over the source. The fields and
    figures: docs/explain.md."""
    if args.text is not None:
        text = args.text
    elif sys.stdin.isatty():
        raise TextseqError("no text: give it as an argument or on stdin")
    elif not (text := " ".join(line.strip() for line in sys.stdin if line.strip())):
        raise TextseqError("no text on stdin")
    if args.out is not None and not args.out.lower().endswith((".png", ".html", ".htm")):
        raise TextseqError(f"--out {args.out}: the name must end in .png or .html")
    explanation = _open(args)[1].explain(text)
    if args.out is None:
        print(json.dumps(explanation.to_dict(), ensure_ascii=False))
    else:
        print(explanation.save(args.out))
    return 0


def _neighbors(args: argparse.Namespace) -> int:
    """nearest words by cosine similarity in a model's word embedding table

    A tagger's word embeddings, a translation model's source embeddings, other models' token
    embeddings; not WORD itself or specials. Prints {"word", "neighbors": [{"word", "cosine"}]}."""
    if args.k < 1:
        raise TextseqError(f"-k ({args.k}) must be at least 1")
    table = _open(args)[1].word_embeddings()
    word = table.lookup(args.word)
    found = [{"word": w, "cosine": round(c, 6)} for w, c in table.neighbors(word, k=args.k)]
    print(json.dumps({"word": word, "neighbors": found}, ensure_ascii=False))
    return 0


def _embeddings_plot(args: argparse.Namespace) -> int:
    """2-D map (PCA or t-SNE) of chosen words' embeddings, as a PNG

    The words' rows of the embedding table (as for neighbors), projected by scikit-learn.
    Words not in the vocabulary are reported on stderr and in the printed JSON {"out",
    "method", "words", "missing"}."""
    if not args.out.lower().endswith(".png"):
        raise TextseqError(f"--out {args.out}: the name must end in .png")
    words = [w.strip() for w in args.words.split(",") if w.strip()]
    table = _open(args)[1].word_embeddings()
    projection = table.project(words, method=args.method, seed=args.seed)
    if projection.missing:
        missing = ", ".join(projection.missing)
        logging.getLogger("textseq").warning("not in the vocabulary, not plotted: %s", missing)
    report = {"out": str(plot_embeddings(projection, args.out)), "method": projection.method}
    report.update(words=projection.words, missing=projection.missing)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    """write a model as an ONNX or TorchScript file, parity-checked

    One graph with dynamic batch and length axes, run beside the PyTorch model on held-out
    inputs (validation data or --data); prints the largest probability difference and both
    latencies as JSON, and writes nothing beyond --tolerance (docs/inference-export-serving.md)."""
    check_verb(task_in(args.model), "export", args.model)
    options = dict(quantize=args.quantize, out=args.out, data=args.data, limit=args.limit)
    try:
        report = export_model(args.model, format=args.format, tolerance=args.tolerance, **options)
    except ValueError as error:
        raise TextseqError(str(error)) from None
    logging.getLogger("textseq").info(
        "parity on {inputs} held-out inputs: largest probability difference {max_prob_diff:.3g} "
        "(tolerance {tolerance:g}), labels agree {label_agreement:.2%}; latency per batch of "
        "{batch_size}: PyTorch fp32 {torch_ms_per_batch:.1f} ms, export {export_ms_per_batch:.1f}"
        " ms; Viterbi decoding in the graph: {viterbi_in_graph}".format(**report.to_dict())
    )
    print(json.dumps(report.to_dict()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """serve a model over HTTP (FastAPI + uvicorn)

    POST /predict {"texts": [...]} answers {"predictions": [...]} as predict prints them; GET
    /health, /metadata. Texts waiting up to --max-wait-ms share a model call of up to
    --max-batch; bad requests answer 400, 413 or 422 (docs/inference-export-serving.md).
    Needs the serve extra: pip install "textseq[serve]"."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:  # pragma: no cover - the serve extra is missing
        raise TextseqError(
            f'serve needs FastAPI and uvicorn ({error}): pip install "textseq[serve]"'
        ) from None
    check_verb(task_in(args.model), "serve", args.model)
    # Every setting but the directory is the option of the same name.
    names = [f.name for f in dataclasses.fields(ServeSettings) if hasattr(args, f.name)]
    serve(ServeSettings(model_dir=args.model, **{name: getattr(args, name) for name in names}))
    return 0


def _open(args: argparse.Namespace) -> tuple[Task, Any]:
    """The task and the loaded model of `args.model`, once the task is known to support the
    verb; the model runs as --quantize and --precision say, where the verb has them."""
    task = task_in(args.model)
    check_verb(task, args.command, args.model)
    quantize, precision = getattr(args, "quantize", None), getattr(args, "precision", "fp32")
    try:
        return task, textseq.load(args.model, quantize=quantize, precision=precision)
    except ValueError as error:
        raise TextseqError(str(error)) from None


def _call(args: argparse.Namespace, *inputs: Any, **values: Any) -> Any:
    """The verb done by the task's function for it (`Task.run`) on the model of `args.model`,
    given the verb's options but those the CLI reads itself (DIR, TEXT, --file, ...)."""
    task, model = _open(args)
    own = {*CLI_OWN, *(["text_column"] if args.command == "predict" else [])}
    options = {name: value for name, value in vars(args).items() if name not in own}
    return task.run(args.command, model, *inputs, options=options, **values)


def _texts(args: argparse.Namespace) -> list[str]:
    """The texts of predict or translate: its arguments, --file's, or the lines of stdin."""
    if args.texts and args.file:
        raise TextseqError("give texts as arguments or with --file, not both")
    if args.texts:
        return list(args.texts)
    if args.file and args.command == "predict":  # also the text column of a table
        examples = read_examples(args.file, text_column=args.text_column, label_column=None)
        return [example.text for example in examples]
    if not args.file and sys.stdin.isatty():
        raise TextseqError("no texts: give them as arguments, with --file, or on stdin")
    lines = [line for _, line in iter_lines(args.file)] if args.file else list(sys.stdin)
    if not (texts := [line.strip() for line in lines if line.strip()]):
        raise TextseqError(f"no texts {'in ' + args.file if args.file else 'on stdin'}")
    return texts


def _write_lines(args: argparse.Namespace, texts: list[str]) -> int:
    """Runs predict or translate on `texts`, one JSON line per result."""
    for result in _call(args, texts):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


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
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors on stderr"
    )
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = _verb(verbs, "train", _train, model=None)
    train.add_argument("config", nargs="?", help="YAML config file (optional with --resume)")
    _options(
        train,
        ("--set KEY=VALUE", list, None, "override a config key (repeatable; YAML values)"),
        ("--out", str, None, "model directory to write (default: runs/<config name>)"),
        ("--resume DIR", str, None, "continue from a model or unfinished run's DIR.partial"),
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
        ("--data SPEC", str, None, "file or NAME:SPLIT (translation: or --src and --tgt)"),
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
        ("--file FILE", str, None, "read texts from: .txt (one per line) or .tsv/.csv/.jsonl"),
        ("--text-column", str, "text", "text column of a .tsv/.csv/.jsonl file (text)"),
        ("--explain", bool, None, 'add "attention": [[token, weight], ...] (attention pooling)'),
        ("--batch-size", int, 256, "texts per batch (256)"),
        ("--tokens", bool, None, "(taggers) the texts are tokenised: split on whitespace only"),
        ("--nbest", int, None, '(taggers with a CRF) add "nbest": the N best tag sequences'),
        *INFERENCE,
    )

    translate = _verb(verbs, "translate", _translate)
    translate.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    _options(
        translate,
        ("--file FILE", str, None, "read sentences from a file, one per line"),
        ("--beam", int, None, "beam size (default: the config's decoding.beam_size; 1: greedy)"),
        ("--nbest", int, 1, "also list the N best translations (1)"),
        ("--batch-size", int, 64, "sentences per batch (64)"),
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
    )

    explain = _verb(verbs, "explain", _explain)
    explain.add_argument("text", nargs="?", metavar="TEXT", help="the text (default: stdin)")
    _options(explain, ("--out FILE", str, None, "draw it instead: FILE.png or FILE.html"))

    export = _verb(verbs, "export", _export)
    export.add_argument("--format", required=True, choices=("onnx", "torchscript"), help="format")
    _options(
        export,
        ("--quantize", ("int8",), None, "dynamic int8 quantisation"),
        ("--out FILE", str, None, "file (default: DIR/model[.int8].onnx or .torchscript.pt)"),
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
        ("--max-texts", int, 256, "most texts in one request; more: 413 (256)"),
        ("--max-chars", int, 10_000, "most characters in one text; more: 413 (10000)"),
        ("--threads", int, None, "PyTorch threads per worker (default: PyTorch's own choice)"),
        *INFERENCE,
    )

    neighbors = _verb(verbs, "neighbors", _neighbors)
    neighbors.add_argument("word", metavar="WORD", help="a word in the model's vocabulary")
    neighbors.add_argument("-k", type=int, default=10, help="how many neighbours (10)")

    plot = _verb(verbs, "embeddings-plot", _embeddings_plot)
    plot.add_argument("--words", required=True, help="comma-separated words, e.g. good,bad,film")
    plot.add_argument("--out", required=True, metavar="FILE.png", help="PNG to write")
    _options(
        plot,
        ("--method", ("pca", "tsne"), "pca", "projection (pca)"),
        ("--seed", int, 0, "random seed of the projection (0)"),
    )
    return parser


def _verb(verbs, name: str, run: Verb, *, model: str | None = "model directory"):
    """The parser of verb `name`, done by `run`. Its help is the first line of `run`'s
    docstring and the tasks that support it, from the table; its description the rest, with
    what each task's function for it says it does. `model`: help of the DIR argument."""
    tasks = [task for task in TASKS.values() if task.supports(name)]
    summary, _, rest = (inspect.getdoc(run) or "").partition("\n\n")
    for task in tasks:
        function = getattr(task.commands, name.replace("-", "_"), None)
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
    examples = [line for task in TASKS.values() for line in task.commands.EXAMPLES.splitlines()]
    data = "; ".join(f"for {task.noun}, {task.commands.DATA}" for task in TASKS.values())
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
    top.add_argument("-q", "--quiet", action="store_true")
    global_args, unknown = top.parse_known_args(argv[:position])
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args = verbs[argv[position]].parse_intermixed_args(argv[position + 1 :])
    args.command = argv[position]
    args.quiet = global_args.quiet
    return args


def _configure_logging(*, quiet: bool) -> None:
    """textseq's messages on stderr; Lightning keeps its own handler, quieted with -q."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("textseq: %(message)s"))
    logger = logging.getLogger("textseq")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    if quiet:
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    # Deprecation notices from inside dependencies are not actionable for users.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")


if __name__ == "__main__":
    sys.exit(main())
