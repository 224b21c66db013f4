"""The command line on a small slice of real SST-2: train, evaluate, predict, reload."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import textseq
from textseq.cli import build_parser, main

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sst2_env(datasets_dir, tmp_path_factory):
    datasets = datasets_dir
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets
    patch.undo()


@pytest.fixture(scope="module")
def trained(sst2_env, tmp_path_factory):
    """A small BiLSTM-attention model trained through the CLI on 3,000 SST-2 phrases."""
    out = tmp_path_factory.mktemp("runs") / "sst2"
    config = Path(__file__).resolve().parents[2] / "configs" / "sst2_bilstm_attention.yaml"
    code = main(
        [
            "-q",
            "train",
            str(config),
            "--out",
            str(out),
            "--set",
            "data.limit_train=3000",
            "--set",
            "trainer.max_epochs=2",
            "--set",
            "model.encoder.hidden_size=32",
            "--set",
            "model.pooling.attention_dim=32",
            "--set",
            "trainer.progress_bar=false",
        ]
    )
    assert code == 0
    return out


def test_train_writes_a_complete_model_directory(trained):
    names = {p.name for p in trained.iterdir()}
    assert {
        "config.yaml",
        "vocab.json",
        "labels.json",
        "model.safetensors",
        "metrics.json",
        "textseq.json",
    } <= names
    metrics = json.loads((trained / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 2 and metrics["best_epoch"] in (1, 2)
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "val_f1"} <= metrics["epochs"][
        0
    ].keys()
    assert metrics["data"]["train_examples"] == 3000
    assert "vocabulary words" in metrics["data"]["vector_coverage"]


def test_evaluate_prints_one_json_object_matching_the_best_epoch(trained, capsys):
    assert main(["evaluate", str(trained), "--data", "sst2:dev"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 872
    assert report["labels"] == ["negative", "positive"]
    assert sum(map(sum, report["confusion_matrix"])) == 872
    assert report["per_class"]["negative"]["support"] == 428
    best = json.loads((trained / "metrics.json").read_text())["best"]["val_acc"]
    assert report["accuracy"] == pytest.approx(best, abs=1e-6)
    assert report["accuracy"] > 0.6  # learnt something in 2 short epochs
    diagonal = report["confusion_matrix"][0][0] + report["confusion_matrix"][1][1]
    assert report["accuracy"] == pytest.approx(diagonal / 872)


def test_predict_from_arguments_file_and_stdin_agree_with_python(
    trained, capsys, tmp_path, monkeypatch
):
    texts = ["a gripping , beautifully acted film", "a tedious , lifeless mess"]
    assert main(["predict", str(trained), *texts]) == 0
    from_args = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    assert main(["predict", str(trained), "--file", str(tmp_path / "in.txt")]) == 0
    from_file = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    monkeypatch.setattr(sys, "stdin", _FakeStdin("\n".join(texts) + "\n"))
    assert main(["predict", str(trained)]) == 0
    from_stdin = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    from_python = textseq.load(trained).predict(texts)
    assert from_args == from_file == from_stdin == from_python
    assert [r["text"] for r in from_args] == texts
    for result in from_args:
        assert set(result) == {"text", "label", "probs"}
        assert sum(result["probs"].values()) == pytest.approx(1.0, abs=1e-5)
        assert result["label"] == max(result["probs"], key=result["probs"].get)


class _FakeStdin:
    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)

    def isatty(self) -> bool:
        return False

    def __iter__(self):
        return iter(self.lines)


def test_predict_explain_gives_attention_over_the_tokens(trained, capsys):
    assert main(["predict", str(trained), "--explain", "It's not a bad film, really."]) == 0
    result = json.loads(capsys.readouterr().out)
    tokens = [token for token, _ in result["attention"]]
    assert tokens == ["it", "'s", "not", "a", "bad", "film", ",", "really", "."]
    assert sum(weight for _, weight in result["attention"]) == pytest.approx(1.0, abs=1e-4)


def test_reloaded_model_predicts_identically(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    texts = ["one of the year 's best", "flat and boring", "not good , not bad"]
    first = textseq.load(trained).predict(texts)
    second = textseq.load(copy).predict(texts)
    assert first == second


def test_bad_input_exits_3_with_one_clear_line(trained, tmp_path, capsys):
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("data:\n  bach_size: 3\n")
    assert main(["train", str(bad_config)]) == 3
    err = capsys.readouterr().err
    assert f"{bad_config}:2: data.bach_size: unknown key; did you mean 'batch_size'?" in err

    labelled = tmp_path / "odd.tsv"
    labelled.write_text("label\ttext\nnegative\tdull\nneutral\tfine I guess\n")
    assert main(["evaluate", str(trained), "--data", str(labelled)]) == 3
    err = capsys.readouterr().err
    assert "line 3" in err and "odd.tsv" in err and "'neutral'" in err

    assert main(["predict", str(trained), "   "]) == 3
    assert "empty" in capsys.readouterr().err

    assert main(["evaluate", str(tmp_path / "nowhere"), "--data", "sst2:dev"]) == 3
    assert "no such model directory" in capsys.readouterr().err

    assert main(["evaluate", str(trained), "--data", "sst2:test"]) == 3
    assert "has no split 'test'" in capsys.readouterr().err


def test_cli_help_documents_every_option():
    parser = build_parser()
    help_text = parser.format_help()
    for verb in ("train", "evaluate", "predict"):
        assert verb in help_text
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        text = sub.format_help()
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, (name, flag)
            assert action.help, (name, action.dest)


def test_console_script_runs(trained):
    result = subprocess.run(
        [sys.executable, "-m", "textseq", "predict", str(trained), "great fun"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "great fun"
