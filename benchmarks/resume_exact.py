"""Issue 21's acceptance measurement: for each task, an 8-epoch tiny run with a fixed LR decay
(every epoch after the third), killed by SIGKILL in the middle of epoch 5 and resumed, publishes
the weights the uninterrupted run publishes: the sha256 of both model.safetensors side by side
(the uninterrupted run is the baseline, measured in the same run).

    TEXTSEQ_DATASETS=... python benchmarks/resume_exact.py [--tasks classify,tag,lm,translate]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import textseq

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RUNS = {
    "classify": (
        "sst2_bilstm_attention.yaml",
        [
            *("data.limit_train=256", "data.limit_val=64", "model.words_from_vectors=false"),
            *("model.embedding.vectors=null", "model.encoder.hidden_size=8"),
            "model.embedding.dim=8",
        ],
    ),
    "tag": (
        "conll2003_bilstm_crf.yaml",
        [
            *("data.limit_train=96", "data.limit_val=16", "model.words_from_vectors=false"),
            *("model.encoder.hidden_size=8", "model.chars.hidden_size=4", "model.chars.dim=4"),
            "data.batch_size=16",
        ],
    ),
    "lm": (
        "ptb_lstm_small.yaml",
        [
            *("data.limit_train=3000", "data.limit_val=300", "model.embedding.dim=8"),
            *("model.rnn.hidden_size=8", "model.rnn.num_layers=1"),
        ],
    ),
    "translate": (
        "multi30k_gru_bahdanau.yaml",
        [
            *("data.limit_train=96", "data.limit_val=12", "model.embedding.dim=8"),
            *("model.rnn.encoder_hidden_size=8", "model.rnn.decoder_hidden_size=8"),
            *("model.rnn.attention_dim=8", "data.batch_size=16"),
        ],
    ),
}
COMMON = ["trainer.max_epochs=8", "trainer.threads=1", "trainer.progress_bar=false"]
COMMON += ["optim.lr_decay_after=3", "optim.lr_factor=0.5", "trainer.early_stopping_patience=null"]

KILLER = """
import os, signal, sys, json
import lightning.pytorch as pl
import textseq

class Kill(pl.Callback):  # SIGKILL in epoch 5, after its second batch
    def on_train_batch_end(self, trainer, module, outputs, batch, i):
        if trainer.current_epoch == 4 and i == 1:
            os.kill(os.getpid(), signal.SIGKILL)

config, out, overrides = json.loads(sys.argv[1])
textseq.train(config, out=out, overrides=overrides, callbacks=[Kill()])
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure(task: str, root: Path) -> dict:
    name, overrides = RUNS[task]
    overrides = [*overrides, *COMMON]
    config = yaml.safe_load((CONFIGS / name).read_text())
    config["optim"].pop("lr_patience", None)  # the plateau schedule's: not with lr_decay_after
    started = time.perf_counter()
    whole = textseq.train(config, out=root / f"{task}-whole", overrides=overrides)
    lrs = [row["lr"] for row in json.loads((whole / "metrics.json").read_text())["epochs"]]
    killed = root / f"{task}-killed"
    argument = json.dumps([config, str(killed), overrides])
    run = subprocess.run([sys.executable, "-c", KILLER, argument], capture_output=True)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    saved = sorted(p.name for p in Path(f"{killed}.ckpt").glob("epoch=*.ckpt"))
    resumed = textseq.train(resume=Path(f"{killed}.partial"))
    return {
        "task": task,
        "lrs": lrs,
        "killed_with": saved,
        "uninterrupted": sha256(whole / "model.safetensors"),
        "resumed": sha256(resumed / "model.safetensors"),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(RUNS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="resume-exact-") as root:
        for task in args.tasks.split(","):
            row = measure(task, Path(root))
            row["same"] = row["uninterrupted"] == row["resumed"]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
