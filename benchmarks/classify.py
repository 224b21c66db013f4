"""Text classification benchmark: textseq models next to a TF-IDF + logistic regression
baseline, trained on the same split and scored on the same evaluation set in one run.

    python benchmarks/classify.py sst2 configs/sst2_bilstm_attention.yaml \
        --variant "learned embeddings: model.embedding.vectors=null model.embedding.dim=100"
    python benchmarks/classify.py sst2 configs/sst2_bilstm_attention.yaml \
        configs/sst2_transformer.yaml configs/sst2_minilm.yaml --set trainer.threads=1 --jobs 3
    python benchmarks/classify.py sst2 "configs/sst2_bilstm_attention.yaml trainer.max_epochs=2" \
        configs/sst2_minilm.yaml

A CONFIG argument may carry overrides of its own after the path ("PATH K=V K=V"). Several
configs are trained one after the other, or `--jobs N` at a time in separate
processes (give each `--set trainer.threads=1` so they do not fight over the cores; the
training times then include that sharing). Prints a table: accuracy, macro-F1, training
seconds and inference sentences/s for each system, with ratios to the baseline. The baseline
trains on the first config's training split, which every config is expected to share. Data
comes from the named dataset (its mirror is read when $TEXTSEQ_DATASETS is set). The
evaluation split defaults to the first config's validation split (dev); pass --eval
NAME:SPLIT for a test split when reporting a final figure.

With `--inference`, a second table gives each system's accuracy and sentences/s at batch 1
(one `predict` call per text) and batch 256 (texts given together, measured on the evaluation
texts repeated to at least `--throughput-texts`): every textseq model run four ways, in
PyTorch fp32, bf16 autocast and dynamic int8 (`textseq.load(DIR, quantize=...)`) and as an
exported ONNX file in ONNX Runtime (fp32 and int8, `textseq export`), next to TF-IDF +
logistic regression and fastText (the `fasttext-wheel` build, in the bench extra) trained
on the same data:

    python benchmarks/classify.py sst2 configs/sst2_bilstm_attention.yaml --inference
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def tfidf_baseline(train, evaluation) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    model.fit([e.text for e in train], [e.label for e in train])
    train_seconds = time.perf_counter() - started
    texts = [e.text for e in evaluation]
    started = time.perf_counter()
    predicted = model.predict(texts)
    infer_seconds = time.perf_counter() - started
    truth = [e.label for e in evaluation]
    return {
        "accuracy": accuracy_score(truth, predicted),
        "macro_f1": f1_score(truth, predicted, average="macro"),
        "train_seconds": train_seconds,
        "sentences_per_second": len(texts) / infer_seconds,
    }


def throughput(predict, texts: list[str], *, batch_size: int, seconds: float = 0.0) -> float:
    """Sentences per second of `predict(list_of_texts)` called on `batch_size` texts at a
    time over `texts` (after one warm-up call)."""
    predict(texts[:batch_size])
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        predict(texts[start : start + batch_size])
    return len(texts) / (time.perf_counter() - started)


def speed_columns(predict, texts: list[str], *, single: int, many: int) -> dict:
    """Sentences/s at batch 1 (over the first `single` texts) and batch 256 (over the texts
    repeated to at least `many`)."""
    repeated = texts * max(1, -(-many // len(texts)))
    return {
        "batch1_per_second": throughput(predict, texts[:single], batch_size=1),
        "batch256_per_second": throughput(predict, repeated, batch_size=256),
    }


def tfidf_inference(train, evaluation, *, single: int, many: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    model.fit([e.text for e in train], [e.label for e in train])
    texts = [e.text for e in evaluation]
    predicted = model.predict(texts)
    accuracy = float(np.mean([p == e.label for p, e in zip(predicted, evaluation, strict=True)]))
    return {"accuracy": accuracy, **speed_columns(model.predict, texts, single=single, many=many)}


def fasttext_inference(train, evaluation, *, single: int, many: int) -> dict | None:
    """fastText (Joulin et al. 2017): word and bigram embeddings averaged into a linear
    classifier, with the hyperparameters its authors use for sentiment (bigrams, 10 epochs)."""
    try:
        import fasttext
    except ImportError:
        print("no fastText (pip install fasttext-wheel): row skipped", file=sys.stderr)
        return None

    def clean(text: str) -> str:
        return " ".join(text.lower().split())

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        for e in train:
            handle.write(f"__label__{e.label} {clean(e.text)}\n")
    model = fasttext.train_supervised(
        handle.name, epoch=10, lr=0.5, wordNgrams=2, dim=50, verbose=0, thread=1, seed=1
    )
    Path(handle.name).unlink()
    texts = [clean(e.text) for e in evaluation]

    def predict(batch: list[str]) -> list[str]:
        # The C++ predictor directly: fasttext 0.9.3's Python wrapper builds its probability
        # arrays with np.array(copy=False), which NumPy 2 refuses.
        labels, _ = model.f.multilinePredict(batch, 1, 0.0, "strict")
        return [label[0].removeprefix("__label__") for label in labels]

    predicted = predict(texts)
    accuracy = float(np.mean([p == e.label for p, e in zip(predicted, evaluation, strict=True)]))
    return {"accuracy": accuracy, **speed_columns(predict, texts, single=single, many=many)}


def textseq_inference(directory: Path, evaluation, *, single: int, many: int) -> dict:
    """One row per way of running the model in `directory`: accuracy and speeds."""
    import textseq
    from textseq.export import export_model

    texts = [e.text for e in evaluation]
    rows = {}
    ways = [("fp32", {}), ("bf16", {"precision": "bf16"}), ("int8", {"quantize": "int8"})]
    for quantize in (None, "int8"):
        try:
            report = export_model(directory, format="onnx", quantize=quantize)
            ways.append((f"onnxruntime {quantize or 'fp32'}", {"onnx": report.path}))
        except Exception as error:  # the table says what could not be measured
            print(f"ONNX export ({quantize or 'fp32'}) failed: {error}", file=sys.stderr)
    for name, options in ways:
        model = textseq.load(directory, **options)
        accuracy = model.evaluate(evaluation)["accuracy"]

        def predict(batch, model=model):
            return model.predict(batch, batch_size=256)

        speeds = speed_columns(predict, texts, single=single, many=many)
        rows[name] = {"accuracy": accuracy, **speeds}
    return rows


def textseq_system(config: str, overrides: list[str], evaluation, out: Path) -> dict:
    import textseq

    _log_to_stderr()
    directory = textseq.train(config, out=out, overrides=overrides, overwrite=True)
    metrics = json.loads((directory / "metrics.json").read_text())
    model = textseq.load(directory)
    report = model.evaluate(evaluation)
    texts = [e.text for e in evaluation]
    model.predict(texts[:256])  # warm-up
    started = time.perf_counter()
    model.predict(texts, batch_size=256)
    infer_seconds = time.perf_counter() - started
    return {
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "train_seconds": metrics["train_seconds"],
        "best_epoch": metrics["best_epoch"],
        "epochs": len(metrics["epochs"]),
        "sentences_per_second": len(texts) / infer_seconds,
    }


def _log_to_stderr() -> None:
    """textseq's per-epoch lines on stderr, as the CLI shows them (once per process)."""
    logger = logging.getLogger("textseq")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("textseq: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="named dataset, e.g. sst2, imdb")
    parser.add_argument(
        "configs",
        nargs="+",
        metavar="CONFIG",
        help="textseq YAML config, optionally followed by its own overrides: 'PATH K=V K=V'",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override applied to every textseq run",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="'NAME: K=V K=V'",
        help="another run of the first config: a name and its extra overrides",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="train this many textseq systems at once, each in its own process (1)",
    )
    parser.add_argument(
        "--eval", dest="evaluation", help="evaluation split (default: the config's val)"
    )
    parser.add_argument("--out", help="where to keep the trained models (default: a temp dir)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--inference",
        action="store_true",
        help="also print the inference table: sentences/s at batch 1 and 256 for textseq "
        "fp32, bf16, int8 and ONNX Runtime, next to TF-IDF + LR and fastText",
    )
    parser.add_argument(
        "--single-texts", type=int, default=300, help="texts timed at batch 1 (300)"
    )
    parser.add_argument(
        "--throughput-texts",
        type=int,
        default=10000,
        help="texts timed at batch 256: the evaluation texts repeated (10000)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="DIR",
        help="with --inference: an already trained model directory to measure instead of "
        "training the configs (repeatable)",
    )
    args = parser.parse_args()
    _log_to_stderr()

    from textseq.tasks import load_config
    from textseq.tasks.classify.data import load_examples

    configs = [(spec.split()[0], spec.split()[1:]) for spec in args.configs]
    config = load_config(configs[0][0], args.overrides + configs[0][1])
    if config.data.train.partition(":")[0] != args.dataset:
        print(f"note: the config trains on {config.data.train}", file=sys.stderr)
    train = load_examples(config.data.train)
    evaluation_spec = args.evaluation or config.data.val
    if evaluation_spec is None:
        parser.error("the config holds out validation data from train; pass --eval NAME:SPLIT")
    evaluation = load_examples(evaluation_spec)
    out = Path(args.out or tempfile.mkdtemp(prefix="textseq-bench-"))

    if args.inference and args.model:
        return print_inference(args, train, evaluation, [Path(m) for m in args.model])
    rows = {}
    print(f"TF-IDF + logistic regression on {len(train):,} examples ...", file=sys.stderr)
    rows["tf-idf + logistic regression"] = tfidf_baseline(train, evaluation)
    runs = [("textseq " + Path(path).stem, path, extra) for path, extra in configs]
    for variant in args.variant:
        name, _, extra = variant.partition(":")
        runs.append((f"textseq {name.strip()}", configs[0][0], configs[0][1] + extra.split()))
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")  # fresh processes: no forked threads
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=spawn) as pool:
            futures = {
                name: pool.submit(
                    textseq_system, path, args.overrides + extra, evaluation, out / f"run{i}"
                )
                for i, (name, path, extra) in enumerate(runs)
            }
            for name, future in futures.items():
                rows[name] = future.result()
    else:
        for index, (name, path, extra) in enumerate(runs):
            print(f"{name} ...", file=sys.stderr)
            rows[name] = textseq_system(
                path, args.overrides + extra, evaluation, out / f"run{index}"
            )

    baseline = rows["tf-idf + logistic regression"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{args.dataset}: train {config.data.train} ({len(train):,}), evaluate "
        f"{evaluation_spec} ({len(evaluation):,}); peak RSS of this process {peak_mb:,.0f} MB\n"
    )
    header = (
        f"{'system':<38}{'accuracy':>9}{'macro-F1':>9}{'train s':>9}{'sent/s':>10}"
        f"{'acc/base':>9}{'speed/base':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        print(
            f"{name:<38}{row['accuracy']:>9.4f}{row['macro_f1']:>9.4f}{row['train_seconds']:>9.1f}"
            f"{row['sentences_per_second']:>10,.0f}{row['accuracy'] / baseline['accuracy']:>9.3f}"
            f"{row['sentences_per_second'] / baseline['sentences_per_second']:>11.3f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))
    if args.inference:
        models = [out / f"run{index}" for index in range(len(runs))]
        return print_inference(args, train, evaluation, models, names=[r[0] for r in runs])
    return 0


def print_inference(args, train, evaluation, models: list[Path], names=None) -> int:
    """The inference table: accuracy and sentences/s at batch 1 and 256 per system."""
    import torch

    options = {"single": args.single_texts, "many": args.throughput_texts}
    rows = {}
    print("inference: TF-IDF + logistic regression ...", file=sys.stderr)
    rows["tf-idf + logistic regression"] = tfidf_inference(train, evaluation, **options)
    print("inference: fastText ...", file=sys.stderr)
    fast = fasttext_inference(train, evaluation, **options)
    if fast is not None:
        rows["fasttext (bigrams, 10 epochs)"] = fast
    for index, directory in enumerate(models):
        name = names[index] if names else f"textseq {directory.name}"
        print(f"inference: {name} ...", file=sys.stderr)
        for way, row in textseq_inference(directory, evaluation, **options).items():
            rows[f"{name} {way}"] = row
    print(
        f"\ninference on {len(evaluation):,} evaluation texts; {torch.get_num_threads()} torch "
        f"threads; batch 1: {args.single_texts} texts one call each; batch 256: the texts "
        f"repeated to {args.throughput_texts:,}\n"
    )
    header = f"{'system':<52}{'accuracy':>9}{'sent/s b1':>11}{'sent/s b256':>13}"
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        print(
            f"{name:<52}{row['accuracy']:>9.4f}{row['batch1_per_second']:>11,.0f}"
            f"{row['batch256_per_second']:>13,.0f}"
        )
    if args.json:
        path = Path(args.json).with_suffix(".inference.json")
        path.write_text(json.dumps(rows, indent=2, default=float))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
