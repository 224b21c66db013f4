"""Tagging benchmark: the BiLSTM-CRF config and the same model with a per-token softmax
instead of the CRF, trained one after the other in one run and scored on the same split.

    python benchmarks/tag.py                                  # the NER config, on the test split
    python benchmarks/tag.py --epochs 3 --minutes 30 --set trainer.threads=1
    python benchmarks/tag.py --systems bilstm-softmax     # one system (run two on two cores)

Prints, for each system, the dev entity F1 of every epoch as it goes, then a table: entity
precision, recall and F1 on the evaluation split (conll2003:test by default), token
accuracy, training seconds, epochs run and tagging speed (sentences/s, decoding included).
`--minutes` is a training budget per system: an epoch is not started when the epochs so far
say it would not finish in time. Data comes from the named dataset (its mirror is read when
$TEXTSEQ_DATASETS is set).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl

ROOT = Path(__file__).resolve().parents[1]
# Each system: the overrides that make it from the config (a BiLSTM-CRF).
SYSTEMS = {"bilstm-crf": [], "bilstm-softmax": ["model.output=softmax"]}


class TimeBudget(pl.Callback):
    """Stops training at an epoch's end when the next epoch would overrun the budget."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.longest = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch_started = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.epoch_started)
        if now - self.started + self.longest > self.seconds:
            print(
                f"  time budget: stopping after epoch {trainer.current_epoch + 1}",
                file=sys.stderr,
                flush=True,
            )
            trainer.should_stop = True


class PrintEpochs(pl.Callback):
    def __init__(self, name: str):
        self.name = name

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        shown = " ".join(
            f"{key} {float(metrics[key]):.4f}"
            for key in ("val_f1", "val_acc", "val_loss")
            if key in metrics
        )
        print(f"[{self.name}] epoch {trainer.current_epoch + 1}: {shown}", flush=True)


def run_system(
    name: str, config: str, overrides: list[str], evaluation, out: Path, budget: float | None
):
    import textseq

    callbacks: list[pl.Callback] = [PrintEpochs(name)]
    if budget is not None:
        callbacks.append(TimeBudget(budget))
    directory = textseq.train(
        config, out=out, overrides=overrides, overwrite=True, callbacks=callbacks
    )
    metrics = json.loads((directory / "metrics.json").read_text())
    model = textseq.load(directory)
    model.evaluate(evaluation[:256])  # warm-up
    report = model.evaluate(evaluation)
    return {
        "system": name,
        "precision": report.get("precision"),
        "recall": report.get("recall"),
        "f1": report.get("f1"),
        "accuracy": report["accuracy"],
        "per_type": report.get("per_type"),
        "train_seconds": metrics["train_seconds"],
        "epochs": len(metrics["epochs"]),
        "best_epoch": metrics["best_epoch"],
        "dev": [
            {k: row[k] for k in ("epoch", "val_f1", "val_acc") if k in row}
            for row in metrics["validations"]
        ],
        "sentences_per_second": report["sentences_per_second"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default=str(ROOT / "configs" / "conll2003_bilstm_crf.yaml"), help="config"
    )
    parser.add_argument("--eval", default="conll2003:test", help="evaluation split")
    parser.add_argument("--epochs", type=int, default=None, help="trainer.max_epochs")
    parser.add_argument("--minutes", type=float, default=None, help="training budget per system")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="override (repeatable)"
    )
    parser.add_argument("--out", default=None, help="directory for the models (default: temp)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated systems to run, from {','.join(SYSTEMS)} (all)",
    )
    args = parser.parse_args()
    chosen = [name for name in args.systems.split(",") if name]
    unknown = sorted(set(chosen) - set(SYSTEMS))
    if unknown or not chosen:
        parser.error(f"--systems: choose from {', '.join(SYSTEMS)} (got {args.systems!r})")

    import logging

    from textseq.tasks import load_config
    from textseq.tasks.tag.datasets import load_tagged

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("textseq: %(message)s"))
    logging.getLogger("textseq").addHandler(handler)
    logging.getLogger("textseq").setLevel(logging.INFO)

    overrides = [*args.overrides, "trainer.progress_bar=false"]
    if args.epochs is not None:
        overrides.append(f"trainer.max_epochs={args.epochs}")
    cfg = load_config(args.config, overrides)
    evaluation = load_tagged(args.eval, tag_set=cfg.data.tags)
    systems = [(name, [*overrides, *SYSTEMS[name]]) for name in SYSTEMS if name in chosen]
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="textseq-tag-bench-"))
    budget = None if args.minutes is None else args.minutes * 60
    print(f"config {args.config}, overrides {overrides}, evaluated on {args.eval}", flush=True)
    results = []
    for name, system_overrides in systems:
        results.append(
            run_system(name, args.config, system_overrides, evaluation, out / name, budget)
        )
        print(json.dumps(results[-1]), flush=True)

    print()
    print(f"{args.eval} ({len(evaluation)} sentences)")
    header = (
        f"{'system':<16} {'P':>7} {'R':>7} {'F1':>7} {'tok acc':>8} {'train s':>9} "
        f"{'epochs':>6} {'best':>5} {'sent/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:

        def pct(value):
            return "   n/a" if value is None else f"{100 * value:7.2f}"

        print(
            f"{r['system']:<16} {pct(r['precision'])} {pct(r['recall'])} {pct(r['f1'])} "
            f"{100 * r['accuracy']:8.2f} {r['train_seconds']:9.1f} {r['epochs']:6d} "
            f"{r['best_epoch']!s:>5} {r['sentences_per_second']:8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
