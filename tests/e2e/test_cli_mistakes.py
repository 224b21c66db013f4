"""Mistakes a user can make on the command line, each answered by one line naming what to
change, the documented exit code (2 usage, 3 bad data, config or model directory) and no
traceback. They run in-process through `textseq.cli.main` (none trains or loads a model); one
runs as a real process, to check the code reaches the shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textseq.cli import main
from textseq.cli_support import BAD_INPUT, USAGE

pytestmark = pytest.mark.e2e

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "sst2_bilstm_attention.yaml")

# (arguments, exit code, what the one line says); {t} is a scratch folder holding the files
# below, {m} a model directory that does not exist (these errors come before any loading).
MISTAKES = [
    ([], USAGE, "the following arguments are required: COMMAND"),
    (["frobnicate"], USAGE, "invalid choice: 'frobnicate'"),
    (["-q", "-v", "predict", "{m}", "x"], USAGE, "not allowed with argument -q/--quiet"),
    (["train"], USAGE, "train needs a CONFIG file (or --resume DIR)"),
    (["train", "{t}/missing.yaml"], BAD_INPUT, "no such config file"),
    (["train", "{t}/unknown.yaml"], BAD_INPUT, "data.bach_size: unknown key; did you mean"),
    (["train", "{t}/syntax.yaml"], BAD_INPUT, "invalid YAML at line 2, column 1: expected ','"),
    (["train", "{t}/task.yaml"], BAD_INPUT, "task: must be one of 'classify'"),
    (["train", CONFIG, "--set", "nonsense"], BAD_INPUT, "--set expects KEY=VALUE"),
    (["train", CONFIG, "--set", "trainer.max_epochs=-1"], BAD_INPUT, "must be in [1, "),
    (["train", CONFIG, "--set", "trainer.devices=abc"], BAD_INPUT, "devices 'abc'"),
    (["train", CONFIG, "--set", "trainer.devices=0"], BAD_INPUT, "number of devices from 1"),
    (["train", CONFIG, "--set", "model.encoder.cell=foo"], BAD_INPUT, "must be one of 'lstm'"),
    (["train", CONFIG, "--set", "optim.lr=abc"], BAD_INPUT, "optim.lr: must be a number"),
    (["train", CONFIG, "--out", "{t}"], BAD_INPUT, "already exists; pass --overwrite"),
    (["train", "--resume", "{t}/nowhere"], BAD_INPUT, "cannot resume"),
    (["evaluate", "{m}", "--data", "sst2:dev"], BAD_INPUT, "no such model directory"),
    (["evaluate", "{t}", "--data", "sst2:dev"], BAD_INPUT, "textseq.json is missing"),
    (["evaluate", "{t}/empty.txt", "--data", "x"], BAD_INPUT, "no such model directory"),
    (["predict", "{m}", "--batch-size", "0", "x"], USAGE, "--batch-size (0) must be at least 1"),
    (["predict", "{m}", "--batch-size", "-3", "x"], USAGE, "--batch-size (-3) must be at least"),
    (["predict", "{m}", "--batch-size", "abc", "x"], USAGE, "invalid int value: 'abc'"),
    (["predict", "{m}", "--quantize", "int4", "x"], USAGE, "invalid choice: 'int4'"),
    (["predict", "{m}", "--precision", "fp16", "x"], USAGE, "invalid choice: 'fp16'"),
    (["predict", "{m}", "--file", "{t}/missing.txt"], BAD_INPUT, "missing.txt: no such file"),
    (["predict", "{m}", "--file", "{t}"], BAD_INPUT, "is a directory, not a data file"),
    (["predict", "{m}", "--file", "{t}/latin.txt"], BAD_INPUT, "line 1: not valid UTF-8"),
    (["predict", "{m}", "--file", "{t}/empty.txt"], BAD_INPUT, "no texts in"),
    (["predict", "{m}", "x", "--file", "{t}/empty.txt"], USAGE, "as arguments or with --file"),
    (["translate", "{m}", "--beam", "0", "x"], USAGE, "--beam (0) must be at least 1"),
    (["translate", "{m}", "--nbest", "0", "x"], USAGE, "--nbest (0) must be at least 1"),
    (["generate", "{m}", "--num", "0"], USAGE, "--num (0) must be at least 1"),
    (["generate", "{m}", "--top-k", "0"], USAGE, "--top-k (0) must be at least 1"),
    (["neighbors", "{m}", "film", "--top-k", "0"], USAGE, "--top-k (0) must be at least 1"),
    (["explain", "{m}", "x", "--out", "{t}/why.pdf"], USAGE, "must end in .png or .html"),
    (["embeddings-plot", "{m}", "--words", "a,b", "--out", "{t}/w.jpg"], USAGE, "end in .png"),
    (["export", "{m}"], USAGE, "the following arguments are required: --format"),
    (["export", "{m}", "--format", "pdf"], USAGE, "invalid choice: 'pdf'"),
    (["export", "{m}", "--format", "onnx", "--limit", "0"], USAGE, "--limit (0) must be at"),
    (["serve", "{m}", "--port", "abc"], USAGE, "invalid int value: 'abc'"),
    (["config", "show"], USAGE, "config show needs a CONFIG file"),
    (["config", "show", "{t}/unknown.yaml"], BAD_INPUT, "unknown key; did you mean"),
    (["config", "schema"], USAGE, "config schema needs --task"),
    (["config", "schema", "--task", "nope"], USAGE, "invalid choice: 'nope'"),
    (["completion", "fish"], USAGE, "invalid choice: 'fish'"),
]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    (tmp_path / "unknown.yaml").write_text("data:\n  bach_size: 3\n", encoding="utf-8")
    (tmp_path / "syntax.yaml").write_text("data: [unclosed\n", encoding="utf-8")
    (tmp_path / "task.yaml").write_text("task: nope\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes(b"\xff\xfe bad\n")
    return tmp_path


def test_at_least_thirty_mistakes_are_tried():
    assert len(MISTAKES) >= 30


@pytest.mark.parametrize(("args", "code", "message"), MISTAKES, ids=lambda v: None)
def test_a_mistake_is_one_line_and_its_exit_code(args, code, message, scratch, capsys):
    argv = [a.format(t=scratch, m=scratch / "no-model") for a in args]
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[-1].startswith("textseq") and ": error: " in lines[-1], captured.err
    assert message in lines[-1]
    # argparse prints its usage line above the error; textseq's own errors are one line
    assert len(lines) == 1 or lines[0].startswith("usage:")


def test_the_exit_code_reaches_the_shell(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "textseq", "predict", str(tmp_path), "--batch-size", "0", "x"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == USAGE and result.stdout == ""
    assert result.stderr == "textseq: error: --batch-size (0) must be at least 1\n"


def test_a_bug_prints_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("textseq.cli._completion", broken)
    monkeypatch.setattr("textseq.cli.cli_support.completion", broken)
    assert main(["completion", "bash"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err
    assert "this is a bug in textseq" in err and "please report it" in err


def test_an_interrupt_exits_4(monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("textseq.cli.cli_support.completion", interrupted)
    assert main(["completion", "bash"]) == 4
    assert capsys.readouterr().err == "textseq: interrupted\n"
