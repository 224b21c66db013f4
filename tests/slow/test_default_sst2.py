"""Benchmark-sized runs, deselected by default (`python -m pytest -m slow` runs them): the
shipped default config reproduces its published figure."""

import json
from pathlib import Path

import pytest

import textseq
from textseq.tasks.classify.data import load_examples

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_the_default_sst2_config_reaches_its_published_dev_accuracy(real_data_env, tmp_path):
    # One thread: the run is deterministic, so the best dev accuracy is docs/benchmarks.md's
    # 0.8624 to four digits (about 10 minutes of training on one core).
    directory = textseq.train(
        CONFIGS / "sst2_bilstm_attention.yaml",
        out=tmp_path / "sst2",
        overrides=["trainer.threads=1", "trainer.progress_bar=false"],
    )
    metrics = json.loads((directory / "metrics.json").read_text())
    assert round(metrics["best"]["val_acc"], 4) == 0.8624
    dev = textseq.load(directory).evaluate(load_examples("sst2:dev"))
    assert round(dev["accuracy"], 4) == 0.8624
