"""The README's tour, run as written from a fresh working directory holding `configs/`: each
`textseq` line through the CLI (training on tiny settings appended to the train lines), piped
input as the shell would pipe it, the `python -c` line as Python code. The resume line finds
the finished run's checkpoint (runs/sst2.ckpt) with nothing left to train: it republishes the
same weights."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from textseq.cli import main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    *("data.limit_train=200", "data.limit_val=50", "model.embedding.vectors=null"),
    *("model.words_from_vectors=false", "model.embedding.dim=8", "model.encoder.hidden_size=8"),
    *("model.encoder.num_layers=1", "model.pooling.attention_dim=8", "model.head.hidden_size=8"),
    *("trainer.max_epochs=1", "trainer.threads=1", "trainer.progress_bar=false"),
]


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## A ten-line tour", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def test_the_tour_starts_by_activating_the_environment():
    assert tour_lines()[0].startswith("source .venv/bin/activate")


def test_every_tour_command_works_as_written(real_data_env, tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for line in tour_lines()[1:]:
        words = shlex.split(line, comments=True)
        stdin = None
        if "|" in words:  # `echo ... | textseq ...`: the left side run by the shell's tools
            bar = words.index("|")
            stdin, words = (
                subprocess.run(words[:bar], capture_output=True, text=True).stdout,
                words[bar + 1 :],
            )
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        if words[0] == "python":
            assert words[1] == "-c"
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                exec(words[2], {})
            outputs.append((line, printed.getvalue()))
            continue
        assert words[0] == "textseq", line
        args = words[1:]
        if args[0] == "train" and "--resume" in args:
            weights = Path("runs/sst2/model.safetensors").read_bytes()
            assert main(args) == 0, line
            assert json.loads(capsys.readouterr().out)["model_dir"].endswith("sst2")
            assert Path("runs/sst2/model.safetensors").read_bytes() == weights
            continue
        if args[0] == "train":
            args += [arg for setting in TINY for arg in ("--set", setting)]
        assert main(args) == 0, line
        outputs.append((line, capsys.readouterr().out))
    results = dict(outputs)
    for line, out in outputs:
        if "config show" in line:
            assert "task: classify" in out
        elif line.startswith("python"):
            assert "'label':" in out
        else:  # JSON or JSON lines, nothing else
            assert all(json.loads(row) for row in out.splitlines()), line
    assert Path("runs/sst2/model.safetensors").is_file()
    assert len(results) == len(tour_lines()) - 2  # all but the activate and resume lines
