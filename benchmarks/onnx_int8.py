"""int8 ONNX against fp32 ONNX for one classifier (e.g. a fine-tuned MiniLM), on labelled data:
accuracy, agreement, probability differences and speed, beside ONNX Runtime's default dynamic
quantisation (the baseline textseq's int8 recipe replaced).

    python benchmarks/onnx_int8.py runs/sst2_minilm [--data sst2:dev] [--repeats 3]

Exports DIR's model with `textseq export --format onnx` and `--quantize int8` (into a temporary
folder), quantises the fp32 file with `quantize_dynamic`'s defaults, then runs the three
files on every text of `--data` in batches of 64 (one thread; the repeats alternate between
the files, and the fastest repeat of each is kept). Prints one JSON line per file:
accuracy, predicted labels equal to fp32's, the largest / 99th percentile / mean absolute
probability difference from fp32, seconds per pass and the speed-up over fp32.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic

import textseq
from textseq.export import export_model
from textseq.tasks.classify.data import load_examples


def session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(model: onnxruntime.InferenceSession, batches, n: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    rows_all, outs = [], []
    for rows, token_ids, lengths in batches:
        logits = model.run(None, {"token_ids": token_ids, "lengths": lengths})[0]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        rows_all.append(rows)
        outs.append(exp / exp.sum(axis=1, keepdims=True))
    seconds = time.perf_counter() - started
    probs = np.zeros((n, outs[0].shape[1]))
    for rows, out in zip(rows_all, outs, strict=True):
        probs[rows] = out
    return probs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a classifier's model directory")
    parser.add_argument("--data", default="sst2:dev", help="labelled texts (sst2:dev)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per file (3)")
    args = parser.parse_args()
    model = textseq.load(args.model)
    examples = load_examples(args.data)
    gold = np.array([model.labels.index(e.label) for e in examples])
    ids = model.encode([e.text for e in examples])
    batches = [
        (rows, token_ids.numpy(), lengths.numpy())
        for rows, token_ids, lengths in model.batches(ids, batch_size=64)
    ]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        export_model(args.model, format="onnx", out=folder / "fp32.onnx", limit=64)
        export_model(
            args.model,
            format="onnx",
            quantize="int8",
            out=folder / "int8.onnx",
            limit=64,
            tolerance=1.0,  # measured here on all of --data, not refused
        )
        quantize_dynamic(
            str(folder / "fp32.onnx"), str(folder / "ort_default.onnx"), weight_type=QuantType.QInt8
        )
        names = ["fp32", "int8", "ort_default"]
        sessions = {name: session(folder / f"{name}.onnx") for name in names}
        sizes = {name: (folder / f"{name}.onnx").stat().st_size for name in names}
        for model_session in sessions.values():
            run(model_session, batches[:1], len(ids))  # warm-up
        probs, seconds = {}, {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:
                probs[name], taken = run(sessions[name], batches, len(ids))
                seconds[name].append(taken)
    reference = probs["fp32"]
    for name in names:
        diff = np.abs(probs[name] - reference).max(axis=1)
        predicted = probs[name].argmax(axis=1)
        record = {
            "file": name,
            "data": args.data,
            "n": len(ids),
            "accuracy": round(float((predicted == gold).mean()), 4),
            "labels_equal_to_fp32": int((predicted == reference.argmax(axis=1)).sum()),
            "max_prob_diff": round(float(diff.max()), 4),
            "p99_prob_diff": round(float(np.quantile(diff, 0.99)), 4),
            "mean_prob_diff": round(float(diff.mean()), 5),
            "seconds": round(min(seconds[name]), 2),
            "speedup": round(min(seconds["fp32"]) / min(seconds[name]), 2),
            "megabytes": round(sizes[name] / 1e6, 1),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
