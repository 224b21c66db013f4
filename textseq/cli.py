"""The `textseq` command line: train, evaluate, predict and serve (classifiers and taggers),
explain, neighbors, embeddings-plot (classifiers), generate (language models), export
(classifiers and taggers, to ONNX or TorchScript).

Every verb takes one config file or model directory. Results go to stdout as JSON; progress
and messages go to stderr. Errors in input print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from textseq import __version__
from textseq.errors import TextseqError

EXAMPLES = """\
examples:
  textseq train configs/sst2_bilstm_attention.yaml --out runs/sst2
  textseq train configs/sst2_bilstm_attention.yaml --set trainer.max_epochs=3 --set optim.lr=3e-4
  textseq train --resume runs/sst2.partial            # continue an interrupted run
  textseq evaluate runs/sst2 --data sst2:dev
  textseq predict runs/sst2 "a gripping, beautifully acted film" "a tedious mess"
  echo "not bad at all" | textseq predict runs/sst2 --explain
  textseq train configs/ptb_lstm_small.yaml --out runs/ptb_small     # a language model
  textseq evaluate runs/ptb_small --data ptb:test                     # loss, perplexity, tokens
  textseq generate runs/ptb_small --prompt "the market" --top-p 0.9 --seed 1
  textseq train configs/conll2003_bilstm_crf.yaml --out runs/ner             # a tagger
  textseq evaluate runs/ner --data conll2003:test      # entity P/R/F1 per type, token accuracy
  textseq predict runs/ner "U.N. official Ekeus heads for Baghdad ."
  textseq predict runs/ner --tokens "U.N. official Ekeus heads for Baghdad ." --nbest 3

  textseq predict runs/sst2 --quantize int8 --file reviews.txt  # int8 LSTM/Linear layers
  textseq export runs/sst2 --format onnx --quantize int8  # parity-checked runs/sst2/model.int8.onnx

  textseq serve runs/sst2 --port 8000     # HTTP: POST /predict {"texts": [...]}, GET /health

  textseq train configs/multi30k_gru_bahdanau.yaml --out runs/de_en         # translation
  textseq evaluate runs/de_en --data multi30k:test2016 --beam 5   # BLEU, chrF: greedy and beam
  textseq evaluate runs/de_en --src test.de --tgt test.en
  textseq translate runs/de_en "ein mann mit einem orangefarbenen hut ." --beam 5 --nbest 3

  textseq explain runs/sst2 "not bad at all" --out why.html   # or why.png; JSON without --out
  textseq neighbors runs/sst2 good -k 5
  textseq embeddings-plot runs/sst2 --words good,great,bad,awful,film,movie --out words.png

data specs: a file (.tsv, .csv, .jsonl, optionally .gz) or a named dataset NAME:SPLIT
(sst2:train|dev, sst2_sentences:train|dev|test, imdb:train|test, ag_news:train|test);
for language models a plain-text file (.txt, optionally .gz) or a named corpus
(ptb:train|valid|test, tiny_shakespeare:train|valid, wikitext2:train|valid|test);
for taggers a CoNLL file (token per line, optionally .gz) or conll2003:train|dev|test
(NER or POS tags, as the model was trained); for translation models two aligned files
(--src F --tgt F, one sentence per line, optionally .gz) or multi30k:train|val|test2016 (in
the model's direction, official lower-cased tokenised files by default).
Named datasets are read from $TEXTSEQ_DATASETS when set, else downloaded once into
$TEXTSEQ_CACHE (default ~/.cache/textseq).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textseq",
        description="Sequence models over text: train, evaluate, use and explain text "
        "classifiers, taggers and language models.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"textseq {__version__}")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors on stderr"
    )
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = verbs.add_parser(
        "train",
        help="train a model from a YAML config and write a model directory",
        description="Train a model from a YAML config and write a model directory "
        "(config.yaml, vocab.json, labels.json for classifiers, model.safetensors, "
        "metrics.json, last.ckpt). The config's task key (classify, lm or tag) chooses the schema.",
    )
    train.add_argument("config", nargs="?", help="YAML config file (optional with --resume)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.encoder.hidden_size=256 (repeatable; "
        "values are parsed as YAML)",
    )
    train.add_argument("--out", help="model directory to write (default: runs/<config name>)")
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue training from DIR's last checkpoint: a model directory or an "
        "interrupted run's DIR.partial",
    )
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    evaluate = verbs.add_parser(
        "evaluate",
        help="score a model on labelled data or a corpus; prints one JSON object",
        description="Score a model. A classifier on labelled data prints n, accuracy, "
        "macro_f1, per_class precision/recall/f1/support, labels and confusion_matrix (rows: "
        "true label, columns: predicted). A language model on a corpus prints loss (nats per "
        "token), perplexity (word level) or bits_per_character (character level), and tokens. "
        "A tagger on CoNLL data prints n, tokens, accuracy (per token), entity-level precision, "
        "recall, f1 and per_type scores (seqeval), and sentences_per_second. A translation "
        'model prints n and, for "greedy" and "beam" decoding, bleu (sacrebleu; on the '
        'official tokenised references with tokenize="none"), chrf, bleu_raw (named corpora: '
        "against the raw references, 13a tokenizer, case-insensitive) and "
        "sentences_per_second.",
    )
    evaluate.add_argument("model", metavar="DIR", help="model directory")
    evaluate.add_argument(
        "--data", metavar="SPEC", help="file or NAME:SPLIT (required unless --src/--tgt)"
    )
    evaluate.add_argument("--src", metavar="FILE", help="(translation) source sentences")
    evaluate.add_argument("--tgt", metavar="FILE", help="(translation) reference translations")
    evaluate.add_argument(
        "--beam",
        type=int,
        default=None,
        help="(translation) beam size scored beside greedy decoding (default: the config's "
        "decoding.beam_size; 1: greedy only)",
    )
    _column_options(evaluate)
    evaluate.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="texts per batch (classifiers, 256) or contiguous streams (language models, 10)",
    )
    _conll_options(evaluate)
    _inference_options(evaluate)

    predict = verbs.add_parser(
        "predict",
        help="label texts; writes one JSON line per text",
        description="Label texts given as arguments, in a file (--file), or on stdin (one per "
        'line). Writes one JSON line per text: {"text", "label", "probs": {label: p}} for a '
        'classifier; {"tokens", "tags", "confidences", "entities": [{"text", "type", "start", '
        '"end", "confidence"}]} for a tagger (start, end: token positions, end exclusive).',
    )
    predict.add_argument("model", metavar="DIR", help="model directory")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label")
    predict.add_argument(
        "--file",
        help="read texts from a file: .txt (one per line) or .tsv/.csv/.jsonl (the text column)",
    )
    predict.add_argument(
        "--explain",
        action="store_true",
        help='add "attention": [[token, weight], ...] (models with attention pooling)',
    )
    _column_options(predict, labels=False)
    predict.add_argument("--batch-size", type=int, default=256, help="texts per batch (256)")
    predict.add_argument(
        "--tokens",
        action="store_true",
        help="(taggers) the texts are already tokenised: split them on whitespace only",
    )
    predict.add_argument(
        "--nbest",
        type=int,
        default=1,
        help='(taggers with a CRF) add "nbest": the N best tag sequences with their scores',
    )
    _inference_options(predict)

    serve = verbs.add_parser(
        "serve",
        help="serve a classifier or tagger over HTTP (FastAPI + uvicorn)",
        description='Serve a classifier or tagger over HTTP. POST /predict with {"texts": '
        '[...]} answers {"predictions": [...]}, one dict per text as textseq predict prints '
        'them; GET /health answers {"status": "ok"}; GET /metadata the task, labels, '
        "model config, textseq version and limits. Concurrent requests are micro-batched: "
        "texts waiting at most --max-wait-ms share one model call of at most --max-batch "
        "texts. A body that is not JSON answers 400, wrong types 422, more than --max-texts "
        "texts or a text longer than --max-chars characters 413, each with a JSON "
        '{"error": ...}. Needs the serve extra: pip install "textseq[serve]".',
    )
    serve.add_argument("model", metavar="DIR", help="classifier or tagger model directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes, each with its own copy of the model (1)",
    )
    serve.add_argument(
        "--max-batch", type=int, default=64, help="most texts in one model call (64)"
    )
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=5.0,
        help="longest a request waits for others to share its model call, in ms (5)",
    )
    serve.add_argument(
        "--max-texts", type=int, default=256, help="most texts in one request; more: 413 (256)"
    )
    serve.add_argument(
        "--max-chars",
        type=int,
        default=10_000,
        help="most characters in one text; more: 413 (10000)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=None,
        help="PyTorch threads per worker (default: PyTorch's own choice)",
    )
    _inference_options(serve)

    translate = verbs.add_parser(
        "translate",
        help="translate sentences with a translation model; writes one JSON line per input",
        description="Translate sentences given as arguments, in a file (--file, one per line, "
        "optionally .gz) or on stdin. Writes one JSON line per sentence: "
        '{"source", "translation", "score", "log_prob"} and, with --nbest N, "nbest": '
        '[{"translation", "score", "log_prob"}], best first. score is log P(translation) '
        "divided by the length penalty of Wu et al. 2016 (beam search) or log P (greedy).",
    )
    translate.add_argument("model", metavar="DIR", help="translation model directory")
    translate.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    translate.add_argument("--file", help="read sentences from a file, one per line")
    translate.add_argument(
        "--beam",
        type=int,
        default=None,
        help="beam size (default: the config's decoding.beam_size; 1: greedy)",
    )
    translate.add_argument(
        "--nbest", type=int, default=1, help="also list the N best translations (1)"
    )
    translate.add_argument("--batch-size", type=int, default=64, help="sentences per batch (64)")

    generate = verbs.add_parser(
        "generate",
        help="sample text from a language model, streamed to stdout",
        description="Continue a prompt with a language model, printing each token as it is "
        "chosen. Greedy with --temperature 0; otherwise sampling, optionally restricted to "
        "the --top-k most probable tokens and to the smallest set whose probability reaches "
        "--top-p (nucleus sampling). The same --seed gives the same text.",
    )
    generate.add_argument("model", metavar="DIR", help="language model directory")
    generate.add_argument("--prompt", default="", help="text to continue (default: none)")
    generate.add_argument(
        "--max-tokens", type=int, default=100, help="tokens to generate per sample (100)"
    )
    generate.add_argument(
        "--temperature", type=float, default=1.0, help="softmax temperature; 0 is greedy (1.0)"
    )
    generate.add_argument("--top-k", type=int, default=None, help="sample among the K best")
    generate.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass P")
    generate.add_argument("--seed", type=int, default=None, help="random seed (sample i: S+i)")
    generate.add_argument("--num", type=int, default=1, help="number of samples (1)")

    explain = verbs.add_parser(
        "explain",
        help="why a model labels a text as it does: saliency and attention",
        description="Explain one text's label: gradient × input saliency per token (every "
        "model), attention-pooling weights (attention poolings) and per-layer, per-head "
        "attention maps (Transformer encoders). Without --out, prints one JSON object: text, "
        "tokens, label, probs, saliency (signed, divided by its largest magnitude "
        "saliency_scale; positive pushes towards the predicted label), attention, "
        "layer_attention and layer_tokens (null when the model has none). For a tagger: "
        "tokens, tags, tag_names and marginals (p(tag | sentence) per token), drawn as a "
        "heatmap with --out FILE.png. For a translation model: the greedy translation, "
        "source_tokens, target_tokens and attention (target x source), plus layer_attention "
        "(every decoder layer's and head's cross-attention) for Transformers; --out draws the "
        "heatmap with tokens on both axes.",
    )
    explain.add_argument("model", metavar="DIR", help="model directory")
    explain.add_argument(
        "text", nargs="?", metavar="TEXT", help="the text to explain (default: read stdin)"
    )
    explain.add_argument(
        "--out",
        metavar="FILE",
        help="write a figure instead: FILE.png (matplotlib) or FILE.html (self-contained "
        "page, opens in a browser); prints FILE",
    )

    export = verbs.add_parser(
        "export",
        help="write a classifier or tagger as an ONNX or TorchScript file, parity-checked",
        description="Export a classifier (RNN or Transformer encoder) or a tagger to one graph "
        "file with dynamic batch and length axes. The export runs on held-out inputs (the "
        "model's validation data, or --data) next to the PyTorch model; it prints the largest "
        "probability difference and the latency of both as one JSON object, and writes "
        "nothing when the difference exceeds the tolerance. Graph inputs: token_ids (B, T) and "
        "lengths (B,) -> logits (B, C) [and attention (B, T)] for classifiers; word_ids, "
        "lengths [, char_ids, casing_ids] -> emissions (B, T, K) and tags (B, T) for "
        "taggers, the tags decoded in the graph (a CRF's Viterbi path, a softmax's argmax).",
    )
    export.add_argument("model", metavar="DIR", help="model directory")
    export.add_argument(
        "--format", required=True, choices=("onnx", "torchscript"), help="graph format"
    )
    export.add_argument(
        "--quantize", choices=("int8",), default=None, help="dynamic int8 quantisation"
    )
    export.add_argument(
        "--out",
        metavar="FILE",
        help="file to write (default: DIR/model[.int8].onnx or DIR/model[.int8].torchscript.pt)",
    )
    export.add_argument(
        "--data", metavar="SPEC", help="held-out inputs for the check (default: the val data)"
    )
    export.add_argument(
        "--limit", type=int, default=512, help="held-out inputs in the parity check (512)"
    )
    export.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="largest allowed probability difference (1e-3; 0.1 with --quantize int8)",
    )

    neighbors = verbs.add_parser(
        "neighbors",
        help="nearest words by cosine similarity in a model's embedding table",
        description="The K words nearest to WORD by cosine similarity in the model's "
        'embedding table (WORD itself and special tokens excluded). Prints {"word", '
        '"neighbors": [{"word", "cosine"}, ...]}.',
    )
    neighbors.add_argument("model", metavar="DIR", help="model directory")
    neighbors.add_argument("word", metavar="WORD", help="a word in the model's vocabulary")
    neighbors.add_argument("-k", type=int, default=10, help="how many neighbours (10)")

    embeddings_plot = verbs.add_parser(
        "embeddings-plot",
        help="2-D map (PCA or t-SNE) of chosen words' embeddings, as a PNG",
        description="Project chosen words' rows of the embedding table to 2-D (scikit-learn "
        "PCA or t-SNE) and write a labelled scatter plot. Words not in the vocabulary are "
        'reported on stderr and in the printed JSON {"out", "method", "words", "missing"}.',
    )
    embeddings_plot.add_argument("model", metavar="DIR", help="model directory")
    embeddings_plot.add_argument(
        "--words", required=True, help="comma-separated words, e.g. good,great,bad,awful"
    )
    embeddings_plot.add_argument("--out", required=True, metavar="FILE.png", help="PNG to write")
    embeddings_plot.add_argument(
        "--method", choices=("pca", "tsne"), default="pca", help="projection (pca)"
    )
    embeddings_plot.add_argument(
        "--seed", type=int, default=0, help="random seed of the projection (0)"
    )
    return parser


def _column_options(parser: argparse.ArgumentParser, *, labels: bool = True) -> None:
    parser.add_argument(
        "--text-column", default="text", help="text column of a .tsv/.csv/.jsonl file (text)"
    )
    if labels:
        parser.add_argument(
            "--label-column", default="label", help="label column of a file (label)"
        )


def _inference_options(parser: argparse.ArgumentParser) -> None:
    from textseq.inference import PRECISIONS, QUANTIZATIONS

    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default=None,
        help="run with dynamically quantised int8 LSTM/GRU/Linear layers (faster on CPU; "
        "evaluate shows the accuracy it costs)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="(classifiers, taggers) bf16: run under bf16 autocast (fp32)",
    )


def _load(args: argparse.Namespace):
    """The model of `args.model`, run as --quantize and --precision say."""
    import textseq

    try:
        return textseq.load(args.model, quantize=args.quantize, precision=args.precision)
    except ValueError as error:
        raise TextseqError(str(error)) from None


def _conll_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-column", type=int, default=0, help="(taggers) token column of a CoNLL file (0)"
    )
    parser.add_argument(
        "--tag-column",
        type=int,
        default=-1,
        help="(taggers) tag column of a CoNLL file; negative counts from the end (-1)",
    )


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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging(quiet=args.quiet)
    try:
        verbs = {
            "train": _train,
            "evaluate": _evaluate,
            "predict": _predict,
            "explain": _explain,
            "neighbors": _neighbors,
            "embeddings-plot": _embeddings_plot,
            "generate": _generate,
            "export": _export,
            "serve": _serve,
            "translate": _translate,
        }
        return verbs[args.command](args)
    except TextseqError as error:
        print(f"textseq: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("textseq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `textseq predict ... | head`
        return 0


def _configure_logging(*, quiet: bool) -> None:
    """textseq's messages on stderr; Lightning keeps its own handler, quieted with -q."""
    import warnings

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
    # Language-model windows are an IterableDataset read in one process; its length only sizes
    # the progress bar.
    warnings.filterwarnings("ignore", message=".*`IterableDataset` has `__len__` defined.*")


def _train(args: argparse.Namespace) -> int:
    if args.config is None and args.resume is None:
        raise TextseqError("train needs a CONFIG file (or --resume DIR)")
    import textseq

    directory = textseq.train(
        args.config,
        out=args.out,
        overrides=args.overrides,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    print(directory)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from textseq.tasks.classify.data import load_examples

    model = _load(args)
    if _is_translator(model):
        print(json.dumps(_evaluate_translator(model, args)))
        return 0
    if args.data is None:
        raise TextseqError("evaluate needs --data FILE or NAME:SPLIT")
    if args.src or args.tgt or args.beam is not None:
        raise TextseqError("--src, --tgt and --beam are for translation models")
    if _is_tagger(model):
        from textseq.tasks.tag.datasets import load_tagged

        sentences = load_tagged(
            args.data,
            tag_set=model.config.data.tags,
            token_column=args.token_column,
            tag_column=args.tag_column,
        )
        print(json.dumps(model.evaluate(sentences, batch_size=args.batch_size or 256)))
        return 0
    if _is_language_model(model):
        from textseq.tasks.lm.data import read_corpus_lines

        lines = read_corpus_lines(args.data)
        print(json.dumps(model.evaluate(lines, batch_size=args.batch_size or 10)))
        return 0
    examples = load_examples(
        args.data, text_column=args.text_column, label_column=args.label_column
    )
    print(json.dumps(model.evaluate(examples, batch_size=args.batch_size or 256)))
    return 0


def _evaluate_translator(model, args: argparse.Namespace) -> dict:
    from textseq.tasks.translate.data import load_parallel
    from textseq.tasks.translate.metrics import bleu_tokenize

    data = model.config.data
    if args.data is not None and (args.src or args.tgt):
        raise TextseqError("give --data NAME:SPLIT or --src and --tgt, not both")
    if args.data is None and not (args.src and args.tgt):
        raise TextseqError(
            "evaluate needs --data NAME:SPLIT (e.g. multi30k:test2016) or --src FILE --tgt FILE"
        )
    if args.beam is not None and args.beam < 1:
        raise TextseqError(f"--beam ({args.beam}) must be at least 1")
    common = dict(direction=data.direction, variant=data.variant)
    pairs = load_parallel(args.data, src=args.src, tgt=args.tgt, **common)
    raw = None
    if args.data is not None and data.variant == "tok":
        raw = [p.tgt for p in load_parallel(args.data, direction=data.direction, variant="raw")]
        if len(raw) != len(pairs):
            raise TextseqError(
                f"{args.data}: the raw references ({len(raw)}) do not pair up with the "
                f"tokenised ones ({len(pairs)})"
            )
    result = model.evaluate(
        pairs,
        beam_size=args.beam,
        raw_references=raw,
        bleu_tokenize=bleu_tokenize(model.config, named=args.data is not None),
        batch_size=args.batch_size or 64,
    )
    return {"data": args.data or f"{args.src} -> {args.tgt}", **result}


def _is_translator(model) -> bool:
    from textseq.tasks.translate.predictor import TranslatorPredictor

    return isinstance(model, TranslatorPredictor)


def _translate(args: argparse.Namespace) -> int:
    import textseq
    from textseq.data.readers import iter_lines

    if args.texts and args.file:
        raise TextseqError("give sentences as arguments or with --file, not both")
    if args.file:
        texts = [line.strip() for _, line in iter_lines(args.file) if line.strip()]
    elif args.texts:
        texts = list(args.texts)
    elif not sys.stdin.isatty():
        texts = [line.strip() for line in sys.stdin if line.strip()]
    else:
        raise TextseqError("no sentences: give them as arguments, with --file, or on stdin")
    if not texts:
        raise TextseqError("no sentences to translate")
    model = textseq.load(args.model)
    if not _is_translator(model):
        raise TextseqError(f"{args.model} does not hold a translation model (task: translate)")
    beam = model.config.decoding.beam_size if args.beam is None else args.beam
    if beam < 1:
        raise TextseqError(f"--beam ({beam}) must be at least 1")
    if not 1 <= args.nbest <= beam:
        raise TextseqError(f"--nbest ({args.nbest}) must be between 1 and the beam size ({beam})")
    if args.batch_size < 1:
        raise TextseqError(f"--batch-size ({args.batch_size}) must be at least 1")
    for start in range(0, len(texts), args.batch_size):
        chunk = texts[start : start + args.batch_size]
        for result in model.translate(chunk, beam_size=beam, nbest=args.nbest):
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def _is_language_model(model) -> bool:
    from textseq.tasks.lm.predictor import LanguageModelPredictor

    return isinstance(model, LanguageModelPredictor)


def _is_tagger(model) -> bool:
    from textseq.tasks.tag.predictor import TaggerPredictor

    return isinstance(model, TaggerPredictor)


def _generate(args: argparse.Namespace) -> int:
    import textseq

    model = textseq.load(args.model)
    if _is_translator(model):
        raise TextseqError(
            f"{args.model} holds a translation model; generate is not for translation "
            f"(use: textseq translate {args.model} TEXT)"
        )
    if not _is_language_model(model):
        raise TextseqError(
            f"{args.model} holds a {'tagger' if _is_tagger(model) else 'classifier'}; generate "
            "needs a language model (task: lm). "
            f"Label texts with: textseq predict {args.model} TEXT"
        )
    for name, value, low in (("--max-tokens", args.max_tokens, 0), ("--num", args.num, 1)):
        if value < low:
            raise TextseqError(f"{name} ({value}) must be at least {low}")
    if args.temperature < 0:
        raise TextseqError(f"--temperature ({args.temperature}) must be at least 0")
    if args.top_k is not None and args.top_k < 1:
        raise TextseqError(f"--top-k ({args.top_k}) must be at least 1")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise TextseqError(f"--top-p ({args.top_p}) must be in (0, 1]")

    def show(index: int, piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    for index in range(args.num):
        if index:
            sys.stdout.write("\n")
        sys.stdout.write(args.prompt)
        sys.stdout.flush()
        model.generate(
            args.prompt,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=None if args.seed is None else args.seed + index,
            num=1,
            on_text=show,
        )
        sys.stdout.write("\n")
        sys.stdout.flush()
    return 0


def _predict(args: argparse.Namespace) -> int:
    from textseq.data.readers import read_examples

    if args.texts and args.file:
        raise TextseqError("give texts as arguments or with --file, not both")
    if args.file:
        texts = [
            e.text
            for e in read_examples(args.file, text_column=args.text_column, label_column=None)
        ]
    elif args.texts:
        texts = list(args.texts)
    elif not sys.stdin.isatty():
        texts = [line.strip() for line in sys.stdin if line.strip()]
        if not texts:
            raise TextseqError("no texts on stdin")
    else:
        raise TextseqError("no texts: give them as arguments, with --file, or on stdin")
    model = _load(args)
    if _is_translator(model):
        raise TextseqError(
            f"{args.model} holds a translation model; predict is not for translation "
            f"(use: textseq translate {args.model} TEXT)"
        )
    if _is_language_model(model):
        raise TextseqError(
            f"{args.model} holds a language model, which does not label texts; continue a "
            f"prompt with: textseq generate {args.model} --prompt TEXT"
        )
    if _is_tagger(model):
        if args.explain:
            raise TextseqError(
                "--explain is for classifiers; a tagger's per-token tag probabilities are in "
                f'"confidences", and textseq explain {args.model} TEXT gives the whole matrix'
            )
        if args.nbest < 1:
            raise TextseqError(f"--nbest ({args.nbest}) must be at least 1")
        if args.nbest > 1 and model.config.model.output != "crf":
            raise TextseqError("--nbest needs a tagger with a CRF output layer")
        inputs = [text.split() if args.tokens else text for text in texts]
        for result in model.predict(inputs, nbest=args.nbest, batch_size=args.batch_size):
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return 0
    if args.tokens or args.nbest != 1:
        raise TextseqError("--tokens and --nbest are for taggers")
    if args.explain and not model.has_attention:
        raise TextseqError(
            f"--explain needs a model with attention pooling; this one pools with "
            f"{model.config.model.pooling.type!r} (`textseq explain` gives gradient saliency "
            "for any model)"
        )
    for result in model.predict(texts, explain=args.explain, batch_size=args.batch_size):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:  # pragma: no cover - the serve extra is missing
        raise TextseqError(
            f'serve needs FastAPI and uvicorn ({error}): pip install "textseq[serve]"'
        ) from None
    from textseq.serving import ServeSettings, serve

    settings = ServeSettings(
        model_dir=args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        threads=args.threads,
        quantize=args.quantize,
        precision=args.precision,
    )
    serve(settings)
    return 0


def _explain(args: argparse.Namespace) -> int:
    import textseq

    if args.text is not None:
        text = args.text
    elif not sys.stdin.isatty():
        text = " ".join(line.strip() for line in sys.stdin if line.strip())
        if not text:
            raise TextseqError("no text on stdin")
    else:
        raise TextseqError("no text: give it as an argument or on stdin")
    if args.out is not None and not args.out.lower().endswith((".png", ".html", ".htm")):
        raise TextseqError(f"--out {args.out}: the name must end in .png or .html")
    model = textseq.load(args.model)
    if _is_language_model(model):
        raise TextseqError(f"{args.model} holds a language model; explain is for classifiers")
    explanation = model.explain(text)
    if args.out is None:
        print(json.dumps(explanation.to_dict(), ensure_ascii=False))
    else:
        print(explanation.save(args.out))
    return 0


def _export(args: argparse.Namespace) -> int:
    from textseq.export import export_model

    try:
        report = export_model(
            args.model,
            format=args.format,
            quantize=args.quantize,
            out=args.out,
            data=args.data,
            limit=args.limit,
            tolerance=args.tolerance,
        )
    except ValueError as error:
        raise TextseqError(str(error)) from None
    logger = logging.getLogger("textseq")
    logger.info(
        "parity on %d held-out inputs: largest probability difference %.3g (tolerance %g), "
        "labels agree %.2f%%; latency per batch of %d: PyTorch fp32 %.1f ms, export %.1f ms",
        report.inputs,
        report.max_prob_diff,
        report.tolerance,
        100 * report.label_agreement,
        report.batch_size,
        report.torch_ms_per_batch,
        report.export_ms_per_batch,
    )
    if report.task == "tag":
        decoder = "the CRF's Viterbi path" if report.viterbi_in_graph else "the softmax's argmax"
        logger.info("the graph outputs emissions and tags: %s, decoded in the graph", decoder)
    print(json.dumps(report.to_dict()))
    return 0


def _neighbors(args: argparse.Namespace) -> int:
    import textseq

    if args.k < 1:
        raise TextseqError(f"-k ({args.k}) must be at least 1")
    from textseq.embedding_space import lookup_word

    model = textseq.load(args.model)
    if _is_translator(model):
        raise TextseqError(
            f"{args.model} holds a translation model; neighbors is not for translation "
            f"(use: textseq translate {args.model} TEXT)"
        )
    word = lookup_word(model.pipeline.vocab, args.word, normalise=model.pipeline.cleaner)
    found = model.neighbors(word, k=args.k)
    neighbors = [{"word": w, "cosine": round(c, 6)} for w, c in found]
    print(json.dumps({"word": word, "neighbors": neighbors}, ensure_ascii=False))
    return 0


def _embeddings_plot(args: argparse.Namespace) -> int:
    import textseq
    from textseq.embedding_space import project_words
    from textseq.plots import plot_embeddings

    if not args.out.lower().endswith(".png"):
        raise TextseqError(f"--out {args.out}: the name must end in .png")
    words = [w.strip() for w in args.words.split(",") if w.strip()]
    model = textseq.load(args.model)
    if _is_translator(model):
        raise TextseqError(
            f"{args.model} holds a translation model; embeddings-plot is not for translation "
            f"(use: textseq translate {args.model} TEXT)"
        )
    projection = project_words(
        model.model.embedding.weight,
        model.pipeline.vocab,
        words,
        method=args.method,
        seed=args.seed,
        normalise=model.pipeline.cleaner,
    )
    if projection.missing:
        logging.getLogger("textseq").warning(
            "not in the vocabulary, not plotted: %s", ", ".join(projection.missing)
        )
    path = plot_embeddings(projection, args.out)
    report = {
        "out": str(path),
        "method": projection.method,
        "words": projection.words,
        "missing": projection.missing,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
