"""Word vectors benchmark: GloVe against vectors trained on IMDB, scored on the standard sets
and used by the centroid classifier, next to TF-IDF + logistic regression and fastText.

    nice -n 10 python benchmarks/vectors.py --work runs/vectors_bench --epochs 5 --workers 2

Prints three tables (Markdown) and writes them, with every number, to WORK/results.json:

1. `textseq vectors evaluate` on the GloVe 6B 50d subset and on vectors trained on the IMDB
   reviews (train + test texts, labels unused; textseq's basic_english tokenizer, lower-cased,
   HTML stripped) with CBOW, skip-gram and fastText at 50 and 100 dimensions: analogy accuracy
   (semantic / syntactic, with coverage), WordSim-353 and SimLex-999 Spearman, training
   seconds.
2. The centroid classifier (configs/sst2_centroid.yaml's model on IMDB; validation: 10% of
   train) with GloVe 50d and with the IMDB vectors of best WordSim-353 Spearman among the
   50-d ones (the GloVe row's dimension), on IMDB test, next to TF-IDF + logistic regression
   trained on the same split in the same run.
3. The centroid classifier on SST-2 (configs/sst2_centroid.yaml): dev accuracy and sentences/s
   at batch 256, next to fastText (fasttext-wheel, bigrams, 10 epochs).

Everything is kept in WORK and reused on a second run (delete a directory to redo it).
`--stages` picks stages (vectors, imdb, sst2); `--methods`/`--dims` fewer vector sets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import fasttext_inference, speed_columns, tfidf_baseline

import textseq
from textseq.tasks.classify.data import load_examples
from textseq.text.pipeline import build_cleaner
from textseq.text.tokenizers import create_tokenizer
from textseq.word_vectors.corpus import tokenized_corpus
from textseq.word_vectors.evaluation import evaluate_vectors
from textseq.word_vectors.space import open_space
from textseq.word_vectors.training import VectorSettings, train_vectors

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GLOVE = "glove.6B.50d"


def vectors_stage(work: Path, args) -> list[dict]:
    """Trains the IMDB vector sets (once) and scores them and GloVe."""
    corpus = work / "imdb_tokens.txt"
    if not corpus.is_file():
        cleaner = build_cleaner(lowercase=True, strip_html=True, remove_urls=True)
        started = time.perf_counter()
        lines = tokenized_corpus(
            ["imdb"], cleaner=cleaner, tokenizer=create_tokenizer("basic_english")
        )
        partial = corpus.with_suffix(".partial")
        partial.write_text("".join(" ".join(t) + "\n" for t in lines), encoding="utf-8")
        partial.rename(corpus)
        print(f"tokenised IMDB in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = [{"vectors": "GloVe 6B 50d (subset)", "dim": 50, "train_seconds": None,
             **evaluate_vectors(open_space(GLOVE).vectors)}]  # fmt: skip
    for dim in args.dims:
        for method in args.methods:
            out = work / f"imdb_{method}{dim}"
            if not (out / "report.json").is_file():
                settings = VectorSettings(
                    method=method, dim=dim, epochs=args.epochs, workers=args.workers,
                    buckets=args.buckets,
                )  # fmt: skip
                sentences = (line.split() for line in corpus.open(encoding="utf-8"))
                about = {"corpora": ["imdb (train + test texts)"], "text": "basic_english"}
                train_vectors(sentences, out, settings, about=about)
            report = json.loads((out / "report.json").read_text())
            scores = evaluate_vectors(open_space(str(out)).vectors)
            rows.append({"vectors": f"IMDB {method}", "dim": dim, "path": str(out),
                         "train_seconds": report["train_seconds"],
                         "corpus_tokens": report["corpus_tokens"], **scores})  # fmt: skip
            print(f"scored {out.name}", file=sys.stderr)
    return rows


def vectors_table(rows: list[dict]) -> str:
    lines = [
        "| vectors | dim | vocab | analogy sem. (cov.) | analogy syn. (cov.) | WS-353 rho (cov.) "
        "| SimLex rho (cov.) | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, s = r["analogy"], r["similarity"]
        cell = lambda x, key: f"{x[key]:.3f} ({x['coverage']:.0%})" if x[key] is not None else "-"  # noqa: E731
        lines.append(
            f"| {r['vectors']} | {r['dim']} | {r['vocab_size']:,} "
            f"| {cell(a['semantic'], 'accuracy')} "
            f"| {cell(a['syntactic'], 'accuracy')} | {cell(s['wordsim353'], 'spearman')} "
            f"| {cell(s['simlex999'], 'spearman')} | {r['train_seconds'] or '-'} |"
        )
    return "\n".join(lines)


def train_centroid(out: Path, overrides: list[str]) -> Path:
    if not (out / "metrics.json").is_file():
        textseq.train(str(CONFIGS / "sst2_centroid.yaml"), out=out, overrides=overrides)
    return out


def imdb_stage(work: Path, rows: list[dict], args) -> list[dict]:
    """Centroid classifier with GloVe and with the best 50-d IMDB vectors, and TF-IDF + LR."""
    if args.imdb_vectors:  # chosen by hand (e.g. the only set trained so far)
        best = {"vectors": f"IMDB {Path(args.imdb_vectors).name}", "path": args.imdb_vectors}
    else:
        imdb50 = [r for r in rows if r["vectors"].startswith("IMDB") and r["dim"] == 50]
        best = max(imdb50, key=lambda r: r["similarity"]["wordsim353"]["spearman"] or -1)
    common = ["data.train=imdb:train", "data.val=null", "data.val_fraction=0.1",
              "data.max_length=400", f"trainer.max_epochs={args.imdb_epochs}",
              "trainer.threads=1", "trainer.progress_bar=false"]  # fmt: skip
    test = load_examples("imdb:test")
    table = []
    for name, vectors, dim in ((GLOVE, GLOVE, 50), (best["vectors"], best["path"], 50)):
        out = work / f"centroid_imdb_{'glove' if vectors == GLOVE else Path(vectors).name}"
        started = time.perf_counter()
        train_centroid(out, [*common, f"model.embedding.vectors={vectors}",
                             f"model.embedding.dim={dim}"])  # fmt: skip
        seconds = json.loads((out / "metrics.json").read_text()).get("train_seconds")
        scores = textseq.load(out).evaluate(test)
        system = f"centroid (mean_max) + {name} {dim}d"
        table.append({"system": system, "accuracy": scores["accuracy"],
                      "train_seconds": seconds, "wall": time.perf_counter() - started})  # fmt: skip
    baseline = tfidf_baseline(load_examples("imdb:train"), test)
    table.append({"system": "TF-IDF (1-2 grams) + logistic regression", **baseline})
    return table


def sst2_stage(work: Path, args) -> list[dict]:
    out = train_centroid(
        work / "centroid_sst2", ["trainer.threads=1", "trainer.progress_bar=false"]
    )
    dev = load_examples("sst2:dev")
    texts = [e.text for e in dev]
    torch.set_num_threads(1)
    model = textseq.load(out)
    accuracy = model.evaluate(dev)["accuracy"]
    speed = speed_columns(lambda b: model.predict(b, batch_size=256), texts, single=200, many=5000)
    rows = [{"system": "textseq centroid (GloVe 50d, mean_max, hidden 100)", "accuracy": accuracy,
             "batch256_per_second": speed["batch256_per_second"]}]  # fmt: skip
    fast = fasttext_inference(load_examples("sst2:train"), dev, single=200, many=5000)
    if fast is not None:
        rows.append({"system": "fastText (bigrams, 10 epochs, 1 thread)", **fast})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="directory for every run")
    parser.add_argument("--stages", default="vectors,imdb,sst2", help="(vectors,imdb,sst2)")
    parser.add_argument("--methods", default="cbow,skipgram,fasttext")
    parser.add_argument("--dims", default="50,100")
    parser.add_argument("--epochs", type=int, default=5, help="vector training epochs (5)")
    parser.add_argument("--workers", type=int, default=2, help="gensim threads (2)")
    parser.add_argument("--buckets", type=int, default=2_000_000, help="fastText n-gram buckets")
    parser.add_argument("--imdb-vectors", help="50-d IMDB vectors for the centroid (default: best)")
    parser.add_argument("--imdb-epochs", type=int, default=5, help="centroid epochs on IMDB (5)")
    args = parser.parse_args()
    args.methods, args.dims = args.methods.split(","), [int(d) for d in args.dims.split(",")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    stages = args.stages.split(",")
    if "vectors" in stages:
        results["vectors"] = vectors_stage(args.work, args)
        results["settings"] = {
            "epochs": args.epochs,
            "workers": args.workers,
            "buckets": args.buckets,
        }
        results_path.write_text(json.dumps(results, indent=1))
        print(vectors_table(results["vectors"]), "\n")
    if "imdb" in stages:
        results["imdb"] = imdb_stage(args.work, results.get("vectors", []), args)
        results_path.write_text(json.dumps(results, indent=1))
        for r in results["imdb"]:
            print(f"| {r['system']} | {r['accuracy']:.4f} | {r.get('train_seconds') or 0:.0f} |")
    if "sst2" in stages:
        results["sst2"] = sst2_stage(args.work, args)
        results_path.write_text(json.dumps(results, indent=1))
        for r in results["sst2"]:
            print(f"| {r['system']} | {r['accuracy']:.4f} | {r['batch256_per_second']:.0f} |")


if __name__ == "__main__":
    main()
