"""The command line for language models on small slices of real PTB and Tiny Shakespeare:
train, evaluate, generate (streamed, reproducible), and the errors between task kinds."""

import json
import math
from pathlib import Path

import pytest

import textseq
from textseq.cli import main
from textseq.inference import is_quantized

pytestmark = pytest.mark.e2e

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = [
    "--set",
    "trainer.max_epochs=1",
    "--set",
    "trainer.threads=1",
    "--set",
    "trainer.progress_bar=false",
    "--set",
    "data.limit_val=2000",
]


@pytest.fixture(scope="module")
def lm_env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets_dir
    patch.undo()


@pytest.fixture(scope="module")
def ptb_model(lm_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ptb"
    args = ["-q", "train", str(CONFIGS / "ptb_lstm_small.yaml"), "--out", str(out), *SMALL]
    args += ["--set", "data.limit_train=4000", "--set", "model.embedding.dim=32"]
    args += ["--set", "model.rnn.hidden_size=32"]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def char_model(lm_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "chars"
    config = CONFIGS / "shakespeare_char_transformer.yaml"
    args = ["-q", "train", str(config), "--out", str(out), *SMALL]
    args += ["--set", "data.limit_train=6000", "--set", "model.embedding.dim=32"]
    args += ["--set", "model.transformer.num_layers=1", "--set", "model.transformer.ff_dim=64"]
    assert main(args) == 0
    return out


def test_train_writes_a_language_model_directory(ptb_model):
    names = {p.name for p in ptb_model.iterdir()}
    assert {"config.yaml", "vocab.json", "model.safetensors", "metrics.json"} <= names
    assert "last.ckpt" not in names  # resumable state lives beside it, in .ckpt
    assert "labels.json" not in names
    assert json.loads((ptb_model / "textseq.json").read_text())["task"] == "lm"
    metrics = json.loads((ptb_model / "metrics.json").read_text())
    assert metrics["data"]["vocab_size"] <= 10_000  # PTB's closed vocabulary (a slice of it)
    assert metrics["data"]["train_tokens"] == 4000


def test_evaluate_prints_perplexity_for_words(ptb_model, capsys):
    args = ["evaluate", str(ptb_model), "--data", "ptb:valid", "--batch-size", "10"]
    assert main(["--progress", *args]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # stdout: the JSON object only
    assert set(result) == {"loss", "perplexity", "tokens"}
    assert result["tokens"] == 10 * (73_760 // 10 - 1)
    # --progress: the tokens scored counted on stderr, up to all of them
    assert f"evaluate: {result['tokens']:,}/{result['tokens']:,} tokens (" in captured.err
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]), rel=1e-4)
    vocab_size = json.loads((ptb_model / "metrics.json").read_text())["data"]["vocab_size"]
    assert result["perplexity"] < vocab_size  # it learnt something in 4,000 tokens


def test_evaluate_prints_bits_per_character(char_model, capsys):
    assert main(["evaluate", str(char_model), "--data", "tiny_shakespeare:valid"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"loss", "bits_per_character", "tokens"}
    assert result["bits_per_character"] == pytest.approx(result["loss"] / math.log(2), rel=1e-4)
    assert result["bits_per_character"] < math.log2(66)  # below a uniform guess


def test_generate_streams_and_is_reproducible(ptb_model, capsys):
    args = ["generate", str(ptb_model), "--prompt", "the company", "--max-tokens", "12"]
    assert main([*args, "--seed", "3", "--top-p", "0.9"]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--seed", "3", "--top-p", "0.9"]) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("the company")
    assert main([*args, "--seed", "4", "--top-p", "0.9", "--num", "2"]) == 0
    two = capsys.readouterr().out
    assert two != first
    # The API gives the same texts as the CLI.
    model = textseq.load(ptb_model)
    assert model.generate("the company", max_tokens=12, top_p=0.9, seed=3)[0] + "\n" == first
    # --quantize int8: the model's int8 copy, greedy, same as the API's int8 model
    greedy = [*args, "--temperature", "0", "--quantize", "int8"]
    assert main(greedy) == 0
    quantized = textseq.load(ptb_model, quantize="int8")
    assert is_quantized(quantized.model)
    expected = quantized.generate("the company", max_tokens=12, temperature=0)[0]
    assert capsys.readouterr().out == expected + "\n"


def test_generate_characters(char_model, capsys):
    assert main(["generate", str(char_model), "--prompt", "ROMEO:", "--max-tokens", "40",
                 "--temperature", "0"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("ROMEO:")
    assert len(out) >= len("ROMEO:") + 1


def test_predict_on_a_language_model_points_to_generate(ptb_model, capsys):
    assert main(["predict", str(ptb_model), "some text"]) == 2
    error = capsys.readouterr().err
    assert "holds a language model" in error
    assert f"textseq generate {ptb_model}" in error


def test_generate_rejects_bad_options(ptb_model, capsys):
    assert main(["generate", str(ptb_model), "--top-p", "1.5"]) == 2
    assert "--top-p (1.5) must be in (0, 1]" in capsys.readouterr().err


def test_export_refuses_a_language_model_and_serve_a_bad_port_in_one_line(
    ptb_model, tmp_path, capsys
):
    """Language models have no export adapter: export answers one line naming the task and
    the verbs it has (exit 2). They are served (POST /generate), but a bad port is refused in
    one line before the model loads."""
    out = tmp_path / "lm.onnx"
    assert main(["export", str(ptb_model), "--format", "onnx", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("textseq: error: ")
    assert f"{ptb_model} holds a language model" in error
    assert "export is not one of its verbs (train, evaluate, generate" in error
    assert not out.exists()
    assert main(["serve", str(ptb_model), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("textseq: error: ")
    assert "--port (0) must be between 1 and 65535" in error
