"""A consumer of an exported classifier that has only onnxruntime, tokenizers and numpy: no
textseq, no torch. It reads DIR/model.onnx (or --onnx FILE) and the tokenizer.json beside it,
the labels from the ONNX metadata, and classifies the texts of a TSV/JSONL file (with a label
column, it also prints the accuracy).

    python benchmarks/onnx_consumer.py runs/sst2/model.onnx --data dev.tsv [--predictions out.jsonl]

Prints one JSON line: {"n", "accuracy" (if labelled), "labels", "task", "textseq_version",
"modules"} where "modules" lists the third-party top-level modules that were imported.
"""

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer


def read_rows(path: Path) -> list[dict]:
    """Rows of a TSV (header line, tab-separated) or JSON-lines file, gzip'd or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        lines = [line.rstrip("\n") for line in stream if line.strip()]
    if ".jsonl" in path.suffixes:
        return [json.loads(line) for line in lines]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def classify(session, tokenizer: Tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Class probabilities (N, C) of `texts`."""
    unk = tokenizer.token_to_id("<unk>")
    rows = []
    for start in range(0, len(texts), batch_size):
        encodings = tokenizer.encode_batch(texts[start : start + batch_size])
        # A text with no tokens is one <unk>, as textseq reads it (textseq.text.portable).
        ids = [
            [i for i, m in zip(e.ids, e.attention_mask, strict=True) if m] or [unk]
            for e in encodings
        ]
        lengths = np.array([len(x) for x in ids], dtype=np.int64)
        token_ids = np.zeros((len(ids), int(lengths.max())), dtype=np.int64)
        for row, x in enumerate(ids):
            token_ids[row, : len(x)] = x
        logits = session.run(None, {"token_ids": token_ids, "lengths": lengths})[0]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        rows.append(exp / exp.sum(axis=1, keepdims=True))
    return np.concatenate(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", help="the exported classifier (model.onnx)")
    parser.add_argument("--data", required=True, help="a .tsv or .jsonl file (optionally .gz)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--predictions", help="write {text, label, probs} JSON lines here")
    args = parser.parse_args()
    path = Path(args.onnx)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    labels = json.loads(meta["textseq.labels"])
    tokenizer = Tokenizer.from_file(str(path.parent / meta["textseq.tokenizer"]))
    rows = read_rows(Path(args.data))
    texts = [row[args.text_column] for row in rows]
    probs = classify(session, tokenizer, texts)
    predicted = [labels[i] for i in probs.argmax(axis=1)]
    result = {"n": len(texts), "labels": labels, "task": meta["textseq.task"]}
    result["textseq_version"] = meta["textseq.version"]
    if rows and args.label_column in rows[0]:
        truth = [str(row[args.label_column]) for row in rows]
        result["accuracy"] = float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))
    if args.predictions:
        with open(args.predictions, "w", encoding="utf-8") as out:
            for text, label, p in zip(texts, predicted, probs, strict=True):
                record = {
                    "text": text,
                    "label": label,
                    "probs": dict(zip(labels, map(float, p), strict=True)),
                }
                out.write(json.dumps(record) + "\n")
    result["modules"] = sorted(
        {name.split(".")[0] for name in sys.modules if not name.startswith("_")}
        - set(sys.stdlib_module_names)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
