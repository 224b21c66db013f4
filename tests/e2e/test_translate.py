"""Translation end to end: a tiny model must learn to reverse digit strings, and the CLI
trains, evaluates, translates and explains on a slice of Multi30k."""

import contextlib
import io
import json
import random
from pathlib import Path

import pytest

import textseq
from textseq.cli import main
from textseq.inference import is_quantized


def _write_reversal(directory, name, n, seed):
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(n):
        digits = [str(rng.randrange(10)) for _ in range(rng.randint(2, 4))]
        sources.append(" ".join(digits))
        targets.append(" ".join(reversed(digits)))
    src = directory / f"{name}.src"
    tgt = directory / f"{name}.tgt"
    src.write_text("\n".join(sources) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(targets) + "\n", encoding="utf-8")
    return src, tgt, sources, targets


def toy_config(tmp_path, **model):
    train_src, train_tgt, _, _ = _write_reversal(tmp_path, "train", 1000, seed=1)
    val_src, val_tgt, _, _ = _write_reversal(tmp_path, "val", 100, seed=2)
    return {
        "task": "translate",
        "data": {
            "train": None,
            "val": None,
            "train_src": str(train_src),
            "train_tgt": str(train_tgt),
            "val_src": str(val_src),
            "val_tgt": str(val_tgt),
            "batch_size": 32,
        },
        "text": {"min_freq": 1},
        "model": {"embedding": {"dim": 32}, "dropout": 0.0, **model},
        "optim": {"lr": 0.003},
        "trainer": {"max_epochs": 8, "progress_bar": False, "threads": 1},
    }


@pytest.mark.parametrize(
    "model",
    [
        {"rnn": {"encoder_hidden_size": 32, "decoder_hidden_size": 64, "attention_dim": 32}},
    ],
    ids=["gru_bahdanau"],
)
def test_a_tiny_model_learns_to_reverse_digits(tmp_path, model):
    config = toy_config(tmp_path, **model)
    directory = textseq.train(config, out=tmp_path / "model")
    translator = textseq.load(directory)
    _, _, sources, targets = _write_reversal(tmp_path, "test", 100, seed=3)
    for beam in (1, 3):
        results = translator.translate(sources, beam_size=beam)
        exact = sum(r["translation"] == t for r, t in zip(results, targets, strict=True))
        assert exact / len(targets) >= 0.85, (beam, exact)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["monitor"] == "val_bleu" and metrics["best"]["val_bleu"] > 75
    # int8 (dynamic quantisation of the LSTM/GRU/Linear layers) still reverses the digits
    quantized = textseq.load(directory, quantize="int8")
    assert quantized.quantize == "int8" and is_quantized(quantized.model)
    assert not is_quantized(translator.model)
    results = quantized.translate(sources, beam_size=3)
    exact = sum(r["translation"] == t for r, t in zip(results, targets, strict=True))
    assert exact / len(targets) >= 0.8, exact


TINY = [
    "--set",
    "data.limit_train=300",
    "--set",
    "data.limit_val=40",
    "--set",
    "model.embedding.dim=16",
    "--set",
    "model.rnn.encoder_hidden_size=16",
    "--set",
    "model.rnn.decoder_hidden_size=32",
    "--set",
    "model.rnn.attention_dim=16",
    "--set",
    "trainer.max_epochs=1",
    "--set",
    "trainer.progress_bar=false",
    "--set",
    "trainer.threads=1",
]


@pytest.mark.e2e
def test_cli_train_evaluate_translate_on_a_multi30k_slice(real_data_env, tmp_path, capsys):

    config = Path(__file__).resolve().parents[2] / "configs" / "multi30k_gru_bahdanau.yaml"
    out = tmp_path / "de_en"
    assert main(["-q", "train", str(config), "--out", str(out), *TINY]) == 0
    assert json.loads(capsys.readouterr().out)["model_dir"] == str(out)
    for name in ("textseq.json", "vocab.json", "tgt_vocab.json", "model.safetensors"):
        assert (out / name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["train_pairs"] == 300 and "val_bleu" in metrics["best"]

    # Evaluate on a slice of the test set given as files, greedy and beam side by side.
    src, tgt = tmp_path / "test.de", tmp_path / "test.en"
    from textseq.tasks.translate.data import load_parallel

    pairs = load_parallel("multi30k:test2016")[:30]
    src.write_text("".join(p.src + "\n" for p in pairs), encoding="utf-8")
    tgt.write_text("".join(p.tgt + "\n" for p in pairs), encoding="utf-8")
    assert main(["evaluate", str(out), "--src", str(src), "--tgt", str(tgt), "--beam", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 30
    assert report["greedy"]["beam_size"] == 1 and report["beam"]["beam_size"] == 2
    assert 0 <= report["greedy"]["bleu"] <= 100 and 0 <= report["beam"]["chrf"] <= 100

    assert (
        main(["translate", str(out), pairs[0].src, pairs[1].src, "--beam", "3", "--nbest", "2"])
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["source"] for line in lines] == [pairs[0].src, pairs[1].src]
    for line in lines:
        assert len(line["nbest"]) == 2 and line["nbest"][0]["translation"] == line["translation"]
        assert line["nbest"][0]["score"] >= line["nbest"][1]["score"]

    assert main(["explain", str(out), "ein mann mit einem hut ."]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["source_tokens"] == ["ein", "mann", "mit", "einem", "hut", "."]
    assert explained["target_tokens"][-1] == "<eos>"
    attention = explained["attention"]
    assert len(attention) == len(explained["target_tokens"])
    assert all(abs(sum(row) - 1) < 1e-4 and len(row) == 6 for row in attention)
    for name in ("attention.png", "attention.html"):
        assert (
            main(["explain", str(out), "ein mann mit einem hut .", "--out", str(tmp_path / name)])
            == 0
        )
    assert (tmp_path / "attention.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "attention.html").read_text(encoding="utf-8")
    assert "<table" in page and "hut" in page and "&lt;eos&gt;" in page
    capsys.readouterr()

    # --quantize int8 on translate (and evaluate): the same lines, one per sentence
    assert main(["translate", str(out), pairs[0].src, "", pairs[1].src, "--quantize", "int8"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[1] is None and [lines[0]["source"], lines[2]["source"]] == [
        pairs[0].src,
        pairs[1].src,
    ]
    args = ["evaluate", str(out), "--src", str(src), "--tgt", str(tgt), "--quantize", "int8"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 30
    assert main(["translate", str(out), "x", "--quantize", "int4"]) == 2  # argparse's choices
    capsys.readouterr()

    assert main(["predict", str(out), "ein hund"]) == 2
    assert "holds a translation model" in capsys.readouterr().err
    assert main(["translate", str(out), "--nbest", "9", "--beam", "3", "ein hund"]) == 2
    assert "--nbest (9) must be between 1 and the beam size (3)" in capsys.readouterr().err

    # Export, checked on the validation split's first sentences, with BLEU of both models.
    assert main(["export", str(out), "--format", "onnx", "--limit", "20"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sentences"] == 20 and report["max_prob_diff"] <= 1e-3
    for row in (report["greedy"], report["beam"]):
        assert row["identical"] == 20 and row["onnx_bleu"] == row["torch_bleu"]
        assert row["onnx_sentences_per_second"] > 0 and row["torch_sentences_per_second"] > 0
    assert report["beam"]["beam_size"] == 5
    onnx = textseq.load(out, onnx=out / "onnx").translate([pairs[0].src], beam_size=5)
    ours = textseq.load(out).translate([pairs[0].src], beam_size=5)
    assert onnx[0]["translation"] == ours[0]["translation"]


# --- export: an encoder and a decoder-step ONNX graph ----------------------------------------

EXPORTED = {
    "gru_bahdanau": {"rnn": {"encoder_hidden_size": 32, "decoder_hidden_size": 64}},
    "transformer": {
        "type": "transformer",
        "transformer": {"encoder_layers": 2, "decoder_layers": 2, "num_heads": 4, "ff_dim": 64},
    },
}


@pytest.fixture(scope="module", params=list(EXPORTED))
def exported(request, tmp_path_factory):
    """A tiny digit-reversal model of each kind, exported (DIR/onnx), and the export's report."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    config = toy_config(tmp_path, **EXPORTED[request.param])
    config["trainer"]["max_epochs"] = 3
    config["decoding"] = {"beam_size": 3}
    directory = textseq.train(config, out=tmp_path / "model")
    val_src = config["data"]["val_src"]
    args = ["-q", "export", str(directory), "--format", "onnx", "--data", val_src, "--limit", "40"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(args) == 0
    return directory, json.loads(printed.getvalue())


def test_an_exported_translation_model_translates_as_pytorch_does(exported):
    """The export's own parity check passed on 40 held-out sentences, and the folder's graphs,
    decoded by textseq's greedy and beam search, translate sentences longer and shorter than
    the traced ones, in batches of any size, exactly as the PyTorch model does."""
    import onnx

    from textseq.tasks.translate.onnx_model import OnnxSeq2Seq

    directory, report = exported
    assert report["task"] == "translate" and report["sentences"] == 40
    assert report["max_prob_diff"] <= 1e-3
    assert report["greedy"]["identical"] == report["beam"]["identical"] == 40
    folder = directory / "onnx"
    assert report["path"] == str(folder)
    beside = ["tokenizer.json", "tgt_tokenizer.json", "vocab.json", "tgt_vocab.json"]
    assert sorted(report["files"]) == sorted(["encoder.onnx", "decoder_step.onnx", *beside])
    for name in ("encoder", "decoder_step"):
        meta = {p.key: p.value for p in onnx.load(str(folder / f"{name}.onnx")).metadata_props}
        assert meta["textseq.task"] == "translate" and meta["textseq.role"] == name
        assert json.loads(meta["textseq.config"])["task"] == "translate"
        assert json.loads(meta["textseq.special_ids"]) == {"pad": 0, "unk": 1, "sos": 2, "eos": 3}
        assert json.loads(meta["textseq.tokenizers"])["target"] == "tgt_tokenizer.json"

    torch_model = textseq.load(directory)
    onnx_model = textseq.load(directory, onnx=folder)
    assert isinstance(onnx_model.model, OnnxSeq2Seq)
    rng = random.Random(7)
    # 1 to 9 digits: the model was trained on 2 to 4, the graphs traced on 5 and 7 tokens.
    texts = [" ".join(str(rng.randrange(10)) for _ in range(n)) for n in range(1, 10)] * 2
    for batch_size in (1, 4, 18):
        for beam, nbest in ((1, 1), (3, 2)):
            options = dict(beam_size=beam, nbest=nbest, batch_size=batch_size)
            ours = torch_model.translate(texts, **options)
            theirs = onnx_model.translate(texts, **options)
            assert [r["translation"] for r in theirs] == [r["translation"] for r in ours]
            assert [r["score"] for r in theirs] == pytest.approx(
                [r["score"] for r in ours], abs=1e-3
            )


def test_a_translation_export_that_fails_its_check_writes_nothing(
    exported, tmp_path, monkeypatch, capsys
):
    """Fault injection: decoder steps whose logits are perturbed fail the parity check (exit
    3, one line) and leave no folder behind; TorchScript is refused in one line."""
    import torch

    import textseq.tasks.translate.export as translate_export
    from textseq.tasks.translate.onnx_model import OnnxSeq2Seq

    directory, _ = exported

    class Perturbed(OnnxSeq2Seq):
        def step(self, y_prev, state, encoded):
            logits, state, alphas = super().step(y_prev, state, encoded)
            return logits + 0.5 * torch.randn_like(logits), state, alphas

    monkeypatch.setattr(translate_export, "OnnxSeq2Seq", Perturbed)
    out = tmp_path / "perturbed"
    data = str(directory.parent / "val.src")
    args = ["export", str(directory), "--format", "onnx", "--out", str(out), "--data", data]
    assert main([*args, "--limit", "10"]) == 3
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "differ from the PyTorch model's" in error
    assert "nothing was written" in error
    assert not out.exists() and not list(tmp_path.iterdir())

    args[3] = "torchscript"
    assert main(args) == 3
    assert "translation models export to ONNX only" in capsys.readouterr().err
    assert not out.exists()


def test_translation_config_errors():
    from textseq.errors import ConfigError
    from textseq.tasks import load_config

    with pytest.raises(ConfigError, match=r"model.share_embeddings: needs text.joint_vocab"):
        load_config({"task": "translate"}, ["model.share_embeddings=true"])
    with pytest.raises(ConfigError, match=r"model.rnn.attention: .dot. needs"):
        load_config(
            {"task": "translate"}, ["model.rnn.attention=dot", "model.rnn.decoder_hidden_size=300"]
        )
    with pytest.raises(
        ConfigError, match=r"data.direction: must be one of de-en, en-de, got 'fr-en'"
    ):
        load_config({"task": "translate"}, ["data.direction=fr-en"])
    with pytest.raises(ConfigError, match=r"model.rnn.atention: unknown key; did you mean"):
        load_config({"task": "translate"}, ["model.rnn.atention=dot"])


def test_transformer_cross_attention_plot_has_a_grid_per_layer_and_head(tmp_path):
    import numpy as np

    from textseq.explain import TranslationExplanation

    rng = np.random.default_rng(0)
    layers = [rng.dirichlet(np.ones(4), size=(2, 3)) for _ in range(2)]  # L x (N, T, S)
    explanation = TranslationExplanation(
        source="a b c d",
        translation="x y",
        source_tokens=["a", "b", "c", "d"],
        target_tokens=["x", "y", "<eos>"],
        weights=np.mean([layer.mean(0) for layer in layers], axis=0),
        layers=layers,
    )
    png = explanation.save(tmp_path / "t.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = explanation.save(tmp_path / "t.html").read_text(encoding="utf-8")
    assert page.count("<table") == 1 + 2 * 2  # the mean, then every layer and head
    assert len(explanation.to_dict()["layer_attention"]) == 2
