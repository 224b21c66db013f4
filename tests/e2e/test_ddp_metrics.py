"""Validation metrics under DDP cover the whole validation set: a 2-process (gloo, CPU) run of
each task logs, at its best validation, the metrics a 1-process evaluation of its published
weights on the same validation data gives. The validation sets are cut so that the processes
get unequal shares (3 batches: 2 on one process, 1 on the other; 5 language-model streams: 3
and 2); the language model's training stream is split between the processes too."""

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
from textseq.tasks.lm.data import corpus_ids
from textseq.tasks.lm.metrics import nll_of
from textseq.tasks.lm.recipe import read_splits
from textseq.tasks.tag.recipe import read_tagged_splits
from textseq.tasks.translate.metrics import bleu_tokenize
from textseq.tasks.translate.recipe import read_parallel_splits

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["trainer.max_epochs=2", "trainer.threads=1", "trainer.progress_bar=false"]


def train_on_two_processes(
    tmp_path: Path, config: str, overrides: list[str]
) -> tuple[dict, object]:
    """Trains `config` with `overrides` by DDP over 2 gloo processes through the CLI; returns
    the best validation's metrics and the run's config."""
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "textseq", "-q", "train", str(CONFIGS / config)]
    command += ["--out", str(out)]
    for override in [*TINY, *overrides, "trainer.strategy=ddp", "trainer.devices=2"]:
        command += ["--set", override]
    command += ["--set", "trainer.accelerator=cpu"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    best = json.loads((out / "metrics.json").read_text())["best"]
    return best, load_config(yaml.safe_load((out / "config.yaml").read_text()), [])


def test_tagger_metrics_over_two_processes_are_those_of_one(real_data_env, tmp_path):
    best, cfg = train_on_two_processes(
        tmp_path,
        "conll2003_bilstm_crf.yaml",
        [
            *("data.limit_train=400", "data.limit_val=20", "data.eval_batch_size=8"),
            *("data.batch_size=16", "model.words_from_vectors=false", "optim.lr=0.02"),
            *("model.encoder.hidden_size=32", "trainer.max_epochs=3"),
        ],
    )
    assert best["val_f1"] > 0  # it finds entities, so F1 tells the runs apart
    val = sample(read_tagged_splits(cfg)[1], cfg.data.limit_val, cfg.seed + 1)
    report = textseq.load(tmp_path / "ddp").evaluate(val)
    assert report["n"] == 20
    assert best["val_acc"] == pytest.approx(report["accuracy"], abs=1e-5)
    assert best["val_f1"] == pytest.approx(report["f1"], abs=1e-5)


def test_language_model_perplexity_over_two_processes_is_that_of_one(real_data_env, tmp_path):
    best, cfg = train_on_two_processes(
        tmp_path,
        "ptb_lstm_small.yaml",
        [
            *("data.limit_train=3000", "data.limit_val=400", "data.eval_batch_size=5"),
            *("data.batch_size=4", "model.embedding.dim=8", "model.rnn.hidden_size=8"),
            "model.rnn.num_layers=1",
        ],
    )
    model = textseq.load(tmp_path / "ddp")
    ids = corpus_ids(model.pipeline, read_splits(cfg)[1], limit=cfg.data.limit_val)
    total, count = nll_of(model.model, ids, batch_size=5, bptt=cfg.data.bptt)
    assert count == 5 * (400 // 5 - 1)
    assert best["val_loss"] == pytest.approx(total / count, abs=1e-5)


def test_translator_scores_over_two_processes_are_those_of_one(real_data_env, tmp_path):
    best, cfg = train_on_two_processes(
        tmp_path,
        "multi30k_gru_bahdanau.yaml",
        [
            *("data.limit_train=64", "data.limit_val=20", "data.eval_batch_size=8"),
            *("data.batch_size=16", "model.embedding.dim=8", "model.rnn.attention_dim=8"),
            *("model.rnn.encoder_hidden_size=8", "model.rnn.decoder_hidden_size=8"),
            "decoding.val_beam_size=1",
        ],
    )
    val = sample(read_parallel_splits(cfg)[1], cfg.data.limit_val, cfg.seed + 1)
    tokenize = bleu_tokenize(cfg, named=cfg.data.val is not None)
    report = textseq.load(tmp_path / "ddp").evaluate(val, beam_size=1, bleu_tokenize=tokenize)
    greedy = report["greedy"]
    assert report["n"] == 20
    assert best["val_chrf"] > 0  # a score that tells the hypotheses apart
    assert best["val_chrf"] == pytest.approx(greedy["chrf"], abs=1e-4)
    assert best["val_bleu"] == pytest.approx(greedy["bleu"], abs=1e-4)
