"""docs/benchmarks.md rendered from a small results file: mean ± sample std over seeds, the
seed counts, one-seed runs marked, anchors cited, dates and machines."""

import json
import statistics

import pytest

from textseq.benchmarking.report import render_report, spread


def record(stem, system, seed, metrics, **more):
    base = {
        "config": f"configs/{stem}.yaml",
        "config_stem": stem,
        "config_hash": "abc123def456",
        "overrides": ["trainer.threads=1"],
        "system": system,
        "seed": seed,
        "data": {"train": "imdb:train", "test": "imdb:test"},
        "metrics": metrics,
        "train_seconds": 100.0 + seed,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "dirty": False,
        "textseq_version": "0.1.0",
        "torch_version": "2.13.0+cpu",
        "cpu": "Test CPU",
        "cpu_count": 2,
        "threads": 1,
        "load_average": {"first": 1.0, "mean": 1.5, "max": 2.0, "samples": 3},
        "started": "2026-12-02T10:00:00+00:00",
        "finished": f"2026-12-02T11:00:{seed:02d}+00:00",
    }
    return base | more


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    rows = [
        record("imdb", "textseq", 13, {"test": {"n": 25000, "accuracy": 0.80}}),
        record("imdb", "textseq", 14, {"test": {"n": 25000, "accuracy": 0.82}}),
        record("imdb", "textseq", 15, {"test": {"n": 25000, "accuracy": 0.86}}),
        # A later record of seed 15 replaces the earlier one.
        record(
            "imdb",
            "textseq",
            15,
            {"test": {"n": 25000, "accuracy": 0.84}},
            finished="2026-12-03T09:00:00+00:00",
        ),
        record("imdb", "tfidf+lr", 13, {"test": {"n": 25000, "accuracy": 0.9031}}),
    ]
    (folder / "imdb.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ptb = record("ptb", "textseq", 13, {"test": {"tokens": 82430, "perplexity": 84.25}})
    (folder / "ptb.jsonl").write_text(json.dumps(ptb) + "\n")
    anchors = tmp_path / "anchors.yaml"
    anchors.write_text(
        "ptb:\n  - {split: test, metric: perplexity, value: 82.7, source: Zaremba et al. 2014}\n"
    )
    return folder, anchors


def test_report_gives_mean_and_sample_std_over_seeds(results, tmp_path):
    folder, anchors = results
    out = tmp_path / "benchmarks.md"
    page = render_report(folder, anchors=anchors, out=out)
    assert out.read_text() == page
    # Seeds 13, 14 and the latest 15: 0.80, 0.82, 0.84 -> 0.8200 ± 0.0200.
    assert statistics.stdev([0.80, 0.82, 0.84]) == pytest.approx(0.02)
    assert "| test accuracy | 0.8200 ± 0.0200 | 0.9031 (1 seed) |" in page
    assert "| metric | textseq (3 seeds) | tfidf+lr (1 seed) |" in page
    assert "| [imdb](#imdb) | textseq | 3 | test accuracy | 0.8200 ± 0.0200 |  |" in page
    assert "| train seconds | 114.0 ± 1.0 | 113.0 (1 seed) |" in page
    assert "test: `imdb:test` (25,000)" in page
    assert "Run 2026-12-02 to 2026-12-03 on Test CPU (2 CPUs), 1 torch thread(s)" in page
    assert "Commits 0123456789; textseq 0.1.0, torch 2.13.0+cpu." in page


def test_report_marks_single_seed_runs_and_cites_anchors(results, tmp_path):
    folder, anchors = results
    page = render_report(folder, anchors=anchors, out=None)
    ptb = page[page.index("## ptb") :]
    assert "**One seed only** (a long run)" in ptb
    assert "| test perplexity | 84.25 (1 seed) |" in ptb
    assert "- Literature, test perplexity: **82.7**, Zaremba et al. 2014." in ptb
    summary = "| [ptb](#ptb) | textseq | 1 (long run) | test perplexity | 84.25 (1 seed) |"
    assert f"{summary} 82.7 (Zaremba et al. 2014) |" in page
    assert "tokens" not in ptb.split("| metric |")[1].split("\n\n")[0]  # a count, not a row


def test_spread_digits_follow_magnitude():
    assert spread([82.7, 84.3]) == "83.50 ± 1.13"
    assert spread([120.0, 130.0]) == "125.0 ± 7.1"
    assert spread([0.5]) == "0.5000 (1 seed)"
    assert spread([]) == ""


def test_report_lists_anchored_configs_not_measured_yet(results, tmp_path):
    folder, anchors = results
    anchors.write_text(
        anchors.read_text() + "ptb_lstm_medium:\n  - {split: test, metric: "
        "perplexity, value: 82.7, source: Zaremba et al. 2014}\n"
    )
    page = render_report(folder, anchors=anchors, out=None)
    assert "Not measured yet (no results file): ptb_lstm_medium." in page


def test_a_seed_given_with_set_joins_the_other_seeds_and_variants_stay_apart(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    rows = [
        record("ner", "textseq", 13, {"test": {"f1": 0.91}}),
        record("ner", "textseq", 14, {"test": {"f1": 0.93}}, overrides=["seed=14"]),
        record(
            "ner",
            "textseq",
            13,
            {"test": {"f1": 0.90}},
            config_hash="fedcba987654",
            overrides=["model.transformer.fine_tune=true", "trainer.threads=1"],
        ),
    ]
    (folder / "ner.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = render_report(folder, anchors=tmp_path / "none.yaml", out=None)
    assert "| [ner](#ner) | textseq | 2 | test f1 | 0.9200 ± 0.0141 |" in page
    assert (
        "| [ner](#ner) | textseq `model.transformer.fine_tune=true` | 1 (long run) | test f1"
        " | 0.9000 (1 seed) |" in page
    )
