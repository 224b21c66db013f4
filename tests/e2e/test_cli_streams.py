"""stdout carries only results: every classifier verb run through the CLI with stdout and
stderr captured at the file-descriptor level (Lightning's and Rich's writes included), stdout
parsed as JSON or JSON lines, and the progress bar, model summary and logs found on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textseq.cli import main

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sst2_bilstm_attention.yaml"
TINY = {
    "data.limit_train": 200,
    "data.limit_val": 50,
    "model.embedding.vectors": "null",
    "model.words_from_vectors": "false",
    "model.embedding.dim": 8,
    "model.encoder.hidden_size": 8,
    "model.encoder.num_layers": 1,
    "model.pooling.attention_dim": 8,
    "model.head.hidden_size": 8,
    "trainer.max_epochs": 2,
    "trainer.threads": 1,
}


def _json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines()]


def test_every_classifier_verb_writes_only_results_to_stdout(
    real_data_env, tmp_path, capfd, monkeypatch
):
    out = tmp_path / "sst2"
    settings = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    assert main(["train", str(CONFIG), "--out", str(out), *settings]) == 0
    captured = capfd.readouterr()
    report = json.loads(captured.out)  # one JSON object, nothing else
    metrics = json.loads((out / "metrics.json").read_text())
    assert report["model_dir"] == str(out) and report["best_epoch"] == metrics["best_epoch"]
    assert report["best"] == metrics["best"] and report["seconds"] > 0
    assert "val_acc" in report["best"] and report["monitor"] == "val_acc"
    # Lightning's progress bar and textseq's epoch lines, counted alike from 1, on stderr
    assert "Epoch 2/2" in captured.err and "textseq: epoch 2/2" in captured.err

    assert main(["-q", "train", str(CONFIG), "--out", str(tmp_path / "quiet"), *settings]) == 0
    quiet = capfd.readouterr()
    assert json.loads(quiet.out)["model_dir"] == str(tmp_path / "quiet")
    assert quiet.err == ""  # -q: Lightning's lines, warnings and the bar silenced too

    texts = tmp_path / "texts.txt"
    texts.write_text("a fine film\n\nawful , dull and long\n", encoding="utf-8")
    png = str(tmp_path / "w.png")
    runs = {
        "evaluate": ["evaluate", str(out), "--data", "sst2:dev"],
        "predict": ["--progress", "predict", str(out), "--file", str(texts)],
        "explain": ["--progress", "explain", str(out), "--file", str(texts)],
        "neighbors": ["neighbors", str(out), "film", "--top-k", "3"],
        "plot": ["embeddings-plot", str(out), "--words", "film,movie,good,bad", "--out", png],
        "schema": ["config", "schema", "--task", "classify"],
        "curves": ["curves", str(out), "--out", str(tmp_path / "curves.png")],
        "export": [
            *("--progress", "export", str(out), "--format", "torchscript"),
            *("--out", str(tmp_path / "model.pt"), "--limit", "20"),
        ],
    }
    results = {}
    for name, args in runs.items():
        assert main(args) == 0, name
        captured = capfd.readouterr()
        lines = name in ("predict", "explain")  # JSON lines; the others one JSON object
        results[name] = _json_lines(captured.out) if lines else [json.loads(captured.out)]
        assert "Traceback" not in captured.err
        if name in ("predict", "explain"):  # progress on stderr, asked for by --progress
            assert f"{args[1]}: 3/3 texts" in captured.err
        if name == "export":
            assert "parity check: torchscript: 23/23 inputs" in captured.err
    assert len(results["evaluate"]) == 1 and results["evaluate"][0]["n"] == 872
    # One output line per input line, in order: the blank one answered by null
    for name in ("predict", "explain"):
        lines = results[name]
        assert len(lines) == 3 and lines[1] is None
        assert [lines[0]["text"], lines[2]["text"]] == ["a fine film", "awful , dull and long"]
    assert len(results["neighbors"][0]["neighbors"]) == 3
    assert results["plot"][0]["out"] == png
    assert results["schema"][0]["type"] == "object"
    assert results["curves"][0]["out"] == str(tmp_path / "curves.png")
    assert results["export"][0]["inputs"] == 23  # 20 held-out inputs and the traced 3

    # stdin: --file - for raw texts, --data - for labelled data
    monkeypatch.setattr("sys.stdin", _Stdin("a fine film\n\nawful\n"))
    assert main(["predict", str(out), "--file", "-"]) == 0
    assert [line and line["text"] for line in _json_lines(capfd.readouterr().out)] == [
        "a fine film",
        None,
        "awful",
    ]
    table = "text\tlabel\na fine film\tpositive\nawful\tnegative\n"
    monkeypatch.setattr("sys.stdin", _Stdin(table))
    assert main(["evaluate", str(out), "--data", "-"]) == 0
    assert json.loads(capfd.readouterr().out)["n"] == 2


class _Stdin:
    """Piped standard input (not a terminal) holding `text`."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)

    def __iter__(self):
        return iter(self.lines)

    def read(self) -> str:
        return "".join(self.lines)

    def isatty(self) -> bool:
        return False
