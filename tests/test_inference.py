"""Quantised (int8) and bf16 inference chosen at load time, on small models trained on real
SST-2 and CoNLL-2003 slices; and the export of those models (`textseq export`)."""

import json
from pathlib import Path

import pytest
import torch

import textseq
from textseq.cli import main
from textseq.data.sources import load_examples
from textseq.inference import is_quantized

pytestmark = pytest.mark.e2e

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def data_env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets_dir
    patch.undo()


def _train(config: Path, out: Path, *overrides: str) -> Path:
    threads = torch.get_num_threads()
    args = ["-q", "train", str(config), "--out", str(out)]
    for override in (*overrides, "trainer.threads=1", "trainer.progress_bar=false"):
        args += ["--set", override]
    code = main(args)
    torch.set_num_threads(threads)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def classifier(data_env, tmp_path_factory):
    """The default BiLSTM-attention config, smaller, one epoch on 2,000 SST-2 phrases."""
    return _train(
        CONFIGS / "sst2_bilstm_attention.yaml",
        tmp_path_factory.mktemp("runs") / "sst2",
        "data.limit_train=2000",
        "data.limit_val=300",
        "trainer.max_epochs=1",
        "model.encoder.hidden_size=24",
        "model.pooling.attention_dim=24",
        "model.head.hidden_size=24",
    )


@pytest.fixture(scope="module")
def dev_texts(data_env):
    return [e.text for e in load_examples("sst2:dev")][:300]


def test_int8_model_has_quantised_layers_and_agrees_with_fp32(classifier, dev_texts):
    fp32 = textseq.load(classifier)
    int8 = textseq.load(classifier, quantize="int8")
    assert not is_quantized(fp32.model) and is_quantized(int8.model)
    kinds = {type(m).__name__ for m in int8.model.modules()}
    assert {"LSTM", "Linear"} <= kinds
    assert all(
        type(m).__module__.startswith("torch.ao.nn.quantized")
        for m in int8.model.modules()
        if type(m).__name__ in ("LSTM", "Linear")
    )
    ours = fp32.predict(dev_texts)
    theirs = int8.predict(dev_texts)
    agreement = sum(a["label"] == b["label"] for a, b in zip(ours, theirs, strict=True))
    assert agreement / len(dev_texts) >= 0.95
    largest = max(
        abs(a["probs"]["positive"] - b["probs"]["positive"])
        for a, b in zip(ours, theirs, strict=True)
    )
    assert 0 < largest < 0.2  # int8 changes the numbers, a little


def test_bf16_agrees_with_fp32(classifier, dev_texts):
    fp32 = textseq.load(classifier).predict(dev_texts)
    bf16 = textseq.load(classifier, precision="bf16").predict(dev_texts)
    agreement = sum(a["label"] == b["label"] for a, b in zip(fp32, bf16, strict=True))
    assert agreement / len(dev_texts) >= 0.95


def test_bad_options_are_refused_with_the_value(classifier):
    with pytest.raises(ValueError, match="quantize \\('int4'\\)"):
        textseq.load(classifier, quantize="int4")
    with pytest.raises(ValueError, match="precision \\('fp8'\\)"):
        textseq.load(classifier, precision="fp8")
    with pytest.raises(ValueError, match="alternatives"):
        textseq.load(classifier, quantize="int8", precision="bf16")


def test_evaluate_and_predict_take_quantize(classifier, capsys):
    assert main(["evaluate", str(classifier), "--data", "sst2:dev"]) == 0
    fp32 = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(classifier), "--data", "sst2:dev", "--quantize", "int8"]) == 0
    int8 = json.loads(capsys.readouterr().out)
    assert int8["n"] == fp32["n"] == 872
    assert abs(int8["accuracy"] - fp32["accuracy"]) < 0.03
    assert main(["predict", str(classifier), "--quantize", "int8", "a fine film"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in ("negative", "positive")
    with pytest.raises(SystemExit):
        main(["predict", str(classifier), "--quantize", "int4", "a fine film"])
