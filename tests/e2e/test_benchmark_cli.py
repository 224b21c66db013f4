"""`textseq benchmark` on a slice of real SST-2: two seeds of a tiny config with its baselines,
one JSON line per run, resumed without rerunning, and the report rendered from the file."""

import json

import pytest
import yaml

from textseq.benchmarking.run import config_hash
from textseq.cli import main
from textseq.tasks import load_config

pytestmark = pytest.mark.e2e

TINY = {
    "task": "classify",
    "seed": 3,
    "data": {"train": "sst2:train", "val": None, "val_fraction": 0.2, "limit_train": 400},
    "model": {
        "embedding": {"dim": 16, "vectors": None},
        "words_from_vectors": False,
        "encoder": {"type": "rnn", "cell": "gru", "hidden_size": 16},
        "pooling": {"type": "mean"},
        "head": {"hidden_size": 16},
    },
    "trainer": {"max_epochs": 1, "threads": 1, "progress_bar": False},
}


def test_two_seeds_with_baselines_resume_and_report(real_data_env, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    results, work = tmp_path / "results", tmp_path / "work"
    args = ["-q", "benchmark", str(config), "--seeds", "2", "--baselines"]
    args += ["--set", "data.limit_val=200", "--results", str(results), "--work-dir", str(work)]
    assert main(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    lines = (results / "tiny.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records == printed
    assert sorted((r["system"], r["seed"]) for r in records) == [
        (system, seed) for system in ("fasttext", "textseq", "tfidf+lr") for seed in (3, 4)
    ]
    expected_hash = config_hash(load_config(config, ["data.limit_val=200"]))
    for record in records:
        assert record["config_hash"] == expected_hash
        assert record["overrides"] == ["data.limit_val=200"]
        assert record["data"] == {"train": "sst2:train", "dev": "sst2:dev"}  # SST-2: no test
        assert record["metrics"]["dev"]["n"] == 872
        assert 0.0 <= record["metrics"]["dev"]["accuracy"] <= 1.0
        assert {"accuracy", "macro_f1"} <= set(record["metrics"]["val"])
        assert record["threads"] == 1 and record["load_average"]["samples"] >= 2
        assert record["commit"] is None or len(record["commit"]) == 40
        assert record["train_seconds"] > 0
    models = [r for r in records if r["system"] == "textseq"]
    # The seed reaches training: the two held-out splits differ, so do the models' files.
    assert {r["model_dir"] for r in models} == {
        str(work / "tiny" / f"{expected_hash}-textseq-seed{seed}") for seed in (3, 4)
    }
    # TF-IDF + LR learns from 400 phrases: above chance on the 872 dev sentences.
    tfidf = [r["metrics"]["dev"]["accuracy"] for r in records if r["system"] == "tfidf+lr"]
    assert min(tfidf) > 0.55

    # Run again: every seed is recorded for this commit and config, so nothing runs.
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    assert (results / "tiny.jsonl").read_text().splitlines() == lines

    out = tmp_path / "benchmarks.md"
    report = ["-q", "benchmark", "report", "--results", str(results), "--out", str(out)]
    assert main([*report, "--anchors", str(tmp_path / "none.yaml")]) == 0
    page = out.read_text()
    assert "| metric | textseq (2 seeds) | fasttext (2 seeds) | tfidf+lr (2 seeds) |" in page
    assert f"(config hash {expected_hash})" in page
