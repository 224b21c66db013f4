"""Issue 21's DDP measurement: for each task, a tiny 2-process DDP run (gloo, CPU) and a
1-process evaluation of its published weights on the same validation data, side by side: the
best validation's metrics the DDP run logged vs those the single process computes.

    TEXTSEQ_DATASETS=... python benchmarks/ddp_parity.py [--tasks classify,tag,lm,translate]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

import textseq
from textseq.data.splits import sample
from textseq.tasks import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = ["trainer.max_epochs=2", "trainer.threads=1", "trainer.progress_bar=false"]
RUNS = {
    "classify": (
        "sst2_bilstm_attention.yaml",
        [
            *("data.limit_train=256", "data.limit_val=100", "data.eval_batch_size=32"),
            *("model.words_from_vectors=false", "model.embedding.vectors=null"),
            *("model.embedding.dim=16", "model.encoder.hidden_size=16"),
        ],
    ),
    "tag": (
        "conll2003_bilstm_crf.yaml",
        [
            *("data.limit_train=400", "data.limit_val=20", "data.eval_batch_size=8"),
            *("data.batch_size=16", "model.words_from_vectors=false", "optim.lr=0.02"),
            *("model.encoder.hidden_size=32", "trainer.max_epochs=3"),
        ],
    ),
    "lm": (
        "ptb_lstm_small.yaml",
        [
            *("data.limit_train=3000", "data.limit_val=400", "data.eval_batch_size=5"),
            *("data.batch_size=4", "model.embedding.dim=8", "model.rnn.hidden_size=8"),
            "model.rnn.num_layers=1",
        ],
    ),
    "translate": (
        "multi30k_gru_bahdanau.yaml",
        [
            *("data.limit_train=64", "data.limit_val=20", "data.eval_batch_size=8"),
            *("data.batch_size=16", "model.embedding.dim=8", "model.rnn.attention_dim=8"),
            *("model.rnn.encoder_hidden_size=8", "model.rnn.decoder_hidden_size=8"),
            "decoding.val_beam_size=1",
        ],
    ),
}


def one_process(task: str, out: Path, cfg) -> dict:
    """The published weights' metrics on the run's validation data, in this process."""
    model = textseq.load(out)
    if task == "classify":
        from textseq.tasks.classify.recipe import read_splits

        report = model.evaluate(read_splits(cfg)[1])
        return {"val_acc": report["accuracy"]}
    if task == "tag":
        from textseq.tasks.tag.recipe import read_tagged_splits

        report = model.evaluate(
            sample(read_tagged_splits(cfg)[1], cfg.data.limit_val, cfg.seed + 1)
        )
        return {"val_acc": report["accuracy"], "val_f1": report["f1"]}
    if task == "lm":
        from textseq.tasks.lm.data import corpus_ids
        from textseq.tasks.lm.metrics import nll_of
        from textseq.tasks.lm.recipe import read_splits

        ids = corpus_ids(model.pipeline, read_splits(cfg)[1], limit=cfg.data.limit_val)
        total, count = nll_of(
            model.model, ids, batch_size=cfg.data.eval_batch_size, bptt=cfg.data.bptt
        )
        return {"val_loss": total / count}
    from textseq.tasks.translate.metrics import bleu_tokenize
    from textseq.tasks.translate.recipe import read_parallel_splits

    pairs = sample(read_parallel_splits(cfg)[1], cfg.data.limit_val, cfg.seed + 1)
    tokenize = bleu_tokenize(cfg, named=cfg.data.val is not None)
    greedy = model.evaluate(pairs, beam_size=1, bleu_tokenize=tokenize)["greedy"]
    return {"val_bleu": greedy["bleu"], "val_chrf": greedy["chrf"]}


def measure(task: str, root: Path) -> dict:
    name, overrides = RUNS[task]
    out = root / task
    command = [sys.executable, "-m", "textseq", "-q", "train", str(CONFIGS / name)]
    command += ["--out", str(out)]
    for override in [*TINY, *overrides, "trainer.strategy=ddp", "trainer.devices=2"]:
        command += ["--set", override]
    command += ["--set", "trainer.accelerator=cpu"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return {"task": task, "error": run.stderr[-1500:]}
    best = json.loads((out / "metrics.json").read_text())["best"]
    cfg = load_config(yaml.safe_load((out / "config.yaml").read_text()), [])
    single = one_process(task, out, cfg)
    return {"task": task, "pairs": {k: [best[k], single[k]] for k in single}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(RUNS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ddp-parity-") as root:
        for task in args.tasks.split(","):
            print(json.dumps(measure(task, Path(root))), flush=True)


if __name__ == "__main__":
    main()
