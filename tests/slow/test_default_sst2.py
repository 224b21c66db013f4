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
    # One thread, about 10 minutes. The run is deterministic on a given CPU, but oneDNN's
    # kernels round differently on different CPUs: the best dev accuracy was 0.8624 where
    # benchmarks/results/notebook.md records it and 0.8647 on an AMD EPYC (AVX-512), the same code.
    directory = textseq.train(
        CONFIGS / "sst2_bilstm_attention.yaml",
        out=tmp_path / "sst2",
        overrides=["trainer.threads=1", "trainer.progress_bar=false"],
    )
    metrics = json.loads((directory / "metrics.json").read_text())
    best = metrics["best"]["val_acc"]
    assert best >= 0.86
    dev = textseq.load(directory).evaluate(load_examples("sst2:dev"))
    assert dev["accuracy"] == pytest.approx(best, abs=1e-4)
