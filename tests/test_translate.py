"""Translation end to end: a tiny model must learn to reverse digit strings, and the CLI
trains, evaluates, translates and explains on a slice of Multi30k."""

import json
import random

import pytest

import textseq
from textseq.cli import main


def _write_reversal(directory, name, n, seed):
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(n):
        digits = [str(rng.randrange(10)) for _ in range(rng.randint(2, 5))]
        sources.append(" ".join(digits))
        targets.append(" ".join(reversed(digits)))
    src = directory / f"{name}.src"
    tgt = directory / f"{name}.tgt"
    src.write_text("\n".join(sources) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(targets) + "\n", encoding="utf-8")
    return src, tgt, sources, targets


def toy_config(tmp_path, **model):
    train_src, train_tgt, _, _ = _write_reversal(tmp_path, "train", 1500, seed=1)
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
        "model": {"embedding_dim": 32, "dropout": 0.0, **model},
        "optim": {"lr": 0.005},
        "trainer": {"max_epochs": 6, "progress_bar": False, "threads": 1},
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
        assert exact / len(targets) >= 0.9, (beam, exact)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["monitor"] == "val_bleu" and metrics["best"]["val_bleu"] > 80
