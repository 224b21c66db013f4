"""Validation metrics under DDP cover the whole validation set: a 2-process (gloo, CPU) run of
the tagger, whose 20 validation sentences make 3 batches (2 on one process, 1 on the other),
logs the token accuracy and entity F1 that a 1-process evaluation of its published weights on
the same sentences gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import textseq
from textseq.data.splits import sample
from textseq.tasks import load_config
from textseq.tasks.tag.recipe import read_tagged_splits

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "conll2003_bilstm_crf.yaml"


def test_tagger_metrics_over_two_processes_are_those_of_one(real_data_env, tmp_path):
    config = yaml.safe_load(CONFIG.read_text())
    config["data"].update(limit_train=64, limit_val=20, eval_batch_size=8, batch_size=16)
    config["model"]["words_from_vectors"] = False
    config["model"]["encoder"]["hidden_size"] = 16
    config["trainer"].update(max_epochs=2, threads=1, progress_bar=False)
    config["optim"]["lr"] = 0.02
    path = tmp_path / "tagger.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "textseq", "-q", "train", str(path), "--out", str(out)]
    command += ["--set", "trainer.strategy=ddp", "--set", "trainer.devices=2"]
    command += ["--set", "trainer.accelerator=cpu"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    best = json.loads((out / "metrics.json").read_text())["best"]
    cfg = load_config(yaml.safe_load((out / "config.yaml").read_text()), [])
    val = sample(read_tagged_splits(cfg)[1], cfg.data.limit_val, cfg.seed + 1)
    report = textseq.load(out).evaluate(val)
    assert report["n"] == 20
    assert best["val_acc"] == pytest.approx(report["accuracy"], abs=1e-5)
    assert best["val_f1"] == pytest.approx(report["f1"], abs=1e-5)
