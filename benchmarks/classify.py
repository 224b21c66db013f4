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

`--threads 1 2` measures the inference table once per torch thread count, and `--ways fp32`
keeps only some of the ways of running the models. For each recurrent model the inference
table is followed by its profile at batch 256: where `predict` spends its time (cleaning and
tokenising, vocabulary lookup, batching, embedding, recurrence, pooling, head, softmax and the
rest: Python and result building) and the recurrence's arithmetic rate (FLOPs from the model's
own LSTM/GRU weight shapes, 2 per multiply-add of W_ih and W_hh, x real tokens / seconds in the
encoder) next to `torch.mm`'s rate on 512 x 512 matrices in the same run and thread count:

    python benchmarks/classify.py sst2 configs/sst2_bilstm_attention.yaml --inference \
        --model runs/sst2 --model runs/sst2_student --threads 1 2 --ways fp32
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


WAYS = ("fp32", "bf16", "int8", "onnx")


def textseq_inference(
    directory: Path, evaluation, *, single: int, many: int, ways: tuple[str, ...] = WAYS
) -> dict:
    """One row per way of running the model in `directory`: accuracy and speeds."""
    import textseq
    from textseq.export import export_model

    texts = [e.text for e in evaluation]
    rows = {}
    loads = {"fp32": {}, "bf16": {"precision": "bf16"}, "int8": {"quantize": "int8"}}
    ways_to_run = [(way, loads[way]) for way in ways if way in loads]
    for quantize in (None, "int8") if "onnx" in ways else ():
        try:
            report = export_model(directory, format="onnx", quantize=quantize)
            ways_to_run.append((f"onnxruntime {quantize or 'fp32'}", {"onnx": report.path}))
        except Exception as error:  # the table says what could not be measured
            print(f"ONNX export ({quantize or 'fp32'}) failed: {error}", file=sys.stderr)
    for name, options in ways_to_run:
        model = textseq.load(directory, **options)
        accuracy = model.evaluate(evaluation)["accuracy"]

        def predict(batch, model=model):
            return model.predict(batch, batch_size=256)

        speeds = speed_columns(predict, texts, single=single, many=many)
        rows[name] = {"accuracy": accuracy, **speeds}
    return rows


def recurrent_flops_per_token(model) -> int:
    """FLOPs per real token of every LSTM/GRU/RNN in `model`: 2 per multiply-add of its input
    and recurrent weights (W_ih: (G*H, E'), W_hh: (G*H, H), per layer and direction); the
    gates' element-wise work is not counted."""
    flops = 0
    for module in model.modules():
        if isinstance(module, torch_rnn_types()):
            for name, weight in module.named_parameters():
                if name.startswith(("weight_ih", "weight_hh")):
                    flops += 2 * weight.numel()
    return flops


def torch_rnn_types() -> tuple[type, ...]:
    from torch import nn

    return (nn.LSTM, nn.GRU, nn.RNN)


def mm_rate(*, n: int = 512, repeats: int = 20) -> float:
    """GFLOP/s of torch.mm on two n x n fp32 matrices at the current thread count."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def profile_predict(directory: Path, texts: list[str], *, batch_size: int = 256) -> dict | None:
    """Where `predict` spends its time on `texts` at `batch_size` (seconds per stage, each
    stage timed on its own, the model's parts by forward hooks), and the recurrence's rate
    against torch.mm's. None for models without a recurrent encoder."""
    import torch

    import textseq

    predictor = textseq.load(directory)
    net = predictor.model
    flops_per_token = recurrent_flops_per_token(net)
    if not flops_per_token:
        return None
    parts = {name: getattr(net, name) for name in ("embedding", "encoder", "pooling", "head")}
    seconds = dict.fromkeys(parts, 0.0)
    starts: dict[str, float] = {}

    def before(name):
        return lambda module, inputs: starts.__setitem__(name, time.perf_counter())

    def after(name):
        def hook(module, inputs, output):
            seconds[name] += time.perf_counter() - starts[name]

        return hook

    handles = [m.register_forward_pre_hook(before(n)) for n, m in parts.items()]
    handles += [m.register_forward_hook(after(n)) for n, m in parts.items()]
    pipeline = predictor.pipeline
    predictor.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    for name in seconds:
        seconds[name] = 0.0
    profile = {}
    started = time.perf_counter()
    tokens = [pipeline.tokens(text) for text in texts]
    profile["clean + tokenise"] = time.perf_counter() - started
    started = time.perf_counter()
    ids = [pipeline.vocab.encode(t) for t in tokens]
    profile["vocabulary lookup"] = time.perf_counter() - started
    started = time.perf_counter()
    batches = list(predictor.batches(ids, batch_size=batch_size))
    profile["batching (sort, pad)"] = time.perf_counter() - started
    softmax = 0.0
    with torch.inference_mode():
        started = time.perf_counter()
        for _, token_ids, lengths in batches:
            logits = net(token_ids, lengths).logits
            begin = time.perf_counter()
            torch.softmax(logits, dim=-1)
            softmax += time.perf_counter() - begin
        forward = time.perf_counter() - started
    encoder_seconds = seconds["encoder"]
    for name in parts:
        profile[{"encoder": "recurrence (encoder)"}.get(name, name)] = seconds[name]
    profile["softmax"] = softmax
    model_parts = sum(seconds.values()) + softmax
    profile["other forward (masks, dropout, glue)"] = forward - model_parts
    for handle in handles:
        handle.remove()
    started = time.perf_counter()
    predictor.predict(texts, batch_size=batch_size)
    total = time.perf_counter() - started
    profile["rest of predict (Python, results)"] = total - sum(profile.values())
    real_tokens = sum(len(i) for i in ids)
    recurrent = flops_per_token * real_tokens / encoder_seconds / 1e9
    return {
        "seconds": profile,
        "predict_seconds": total,
        "sentences_per_second": len(texts) / total,
        "recurrent_mflop_per_token": flops_per_token / 1e6,
        "recurrent_gflops": recurrent,
        "mm_gflops": mm_rate(),
    }


def print_profiles(models: list[Path], names: list[str], texts: list[str], many: int) -> None:
    import torch

    repeated = texts * max(1, -(-many // len(texts)))
    for directory, name in zip(models, names, strict=True):
        result = profile_predict(directory, repeated)
        if result is None:
            continue
        ratio = result["recurrent_gflops"] / result["mm_gflops"]
        print(
            f"\nprofile of {name}: predict on {len(repeated):,} texts at batch 256, "
            f"{torch.get_num_threads()} thread(s): {result['predict_seconds']:.2f} s "
            f"({result['sentences_per_second']:,.0f} sentences/s)"
        )
        print(
            f"  recurrence: {result['recurrent_mflop_per_token']:.3f} MFLOP/token, "
            f"{result['recurrent_gflops']:.2f} GFLOP/s = {ratio:.0%} of torch.mm's "
            f"{result['mm_gflops']:.2f} GFLOP/s (512 x 512, same run)"
        )
        for stage, seconds in result["seconds"].items():
            share = seconds / result["predict_seconds"]
            print(f"  {stage:<40}{seconds * 1000:>9.1f} ms {share:>7.1%}")


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
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="with --inference: torch thread counts to measure at, one table each "
        "(default: torch's)",
    )
    parser.add_argument(
        "--ways",
        default=",".join(WAYS),
        help=f"with --inference: ways of running textseq models ({','.join(WAYS)})",
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
    """The inference table (and recurrent models' profiles) at each of `--threads`."""
    import torch

    names = names or [f"textseq {directory.name}" for directory in models]
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        print_inference_table(args, train, evaluation, models, names)
        print_profiles(models, names, [e.text for e in evaluation], args.throughput_texts)
    return 0


def print_inference_table(args, train, evaluation, models: list[Path], names) -> int:
    """The inference table: accuracy and sentences/s at batch 1 and 256 per system."""
    import torch

    options = {"single": args.single_texts, "many": args.throughput_texts}
    ways = tuple(args.ways.split(","))
    rows = {}
    print("inference: TF-IDF + logistic regression ...", file=sys.stderr)
    rows["tf-idf + logistic regression"] = tfidf_inference(train, evaluation, **options)
    print("inference: fastText ...", file=sys.stderr)
    fast = fasttext_inference(train, evaluation, **options)
    if fast is not None:
        rows["fasttext (bigrams, 10 epochs)"] = fast
    for directory, name in zip(models, names, strict=True):
        print(f"inference: {name} ...", file=sys.stderr)
        rows_of_model = textseq_inference(directory, evaluation, **options, ways=ways)
        for way, row in rows_of_model.items():
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
        path = Path(args.json).with_suffix(f".inference-{torch.get_num_threads()}t.json")
        path.write_text(json.dumps(rows, indent=2, default=float))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
