"""The language-model task: state carried (and detached) across windows, validation loss a
token-weighted mean, and a tiny model that learns a deterministic sequence."""

import math

import pytest
import torch

import textseq
from textseq.models.language_model import build_rnn_language_model
from textseq.optim import OptimSettings
from textseq.tasks.lm.system import LanguageModelTask


def _task():
    torch.manual_seed(0)
    model = build_rnn_language_model(vocab_size=20, embedding_dim=8, hidden_size=8)
    return LanguageModelTask(model, optim=OptimSettings(optimizer="sgd", lr=1.0), bptt=5).eval()


def test_validation_over_two_half_windows_equals_the_whole_window():
    tokens = torch.randint(0, 20, (3, 11))
    x, y = tokens[:, :-1], tokens[:, 1:]
    task = _task()
    task.on_validation_epoch_start()
    task.validation_step((x[:, :5], y[:, :5]), 0)
    task.validation_step((x[:, 5:], y[:, 5:]), 1)
    halves = task.val_nll.compute()
    task.on_validation_epoch_start()  # resets the state and the mean
    task.validation_step((x, y), 0)
    torch.testing.assert_close(task.val_nll.compute(), halves)


def test_training_carries_a_detached_state_and_resets_it_each_epoch():
    task = _task().train()
    tokens = torch.randint(0, 20, (2, 11))
    task.on_train_epoch_start()
    assert task._train_state is None
    task.training_step((tokens[:, :5], tokens[:, 1:6]), 0)
    h, c = task._train_state
    assert h.shape == (2, 2, 8) and not h.requires_grad and not c.requires_grad
    task.on_train_epoch_start()
    assert task._train_state is None


def test_short_windows_weigh_less_in_training():
    task = _task().train()
    tokens = torch.randint(0, 20, (2, 11))
    task.on_train_epoch_start()
    torch.manual_seed(1)
    scaled = task.training_step((tokens[:, :2], tokens[:, 1:3]), 0)
    logits, _ = task.model.eval()(tokens[:, :2])
    mean = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:3].flatten())
    task.model.train()
    # 2-token window with bptt 5: the loss is scaled by 2/5 (Merity et al.'s LR scaling)
    assert float(scaled) == pytest.approx(float(mean) * 2 / 5, rel=1e-4)


def test_a_tiny_lm_learns_a_deterministic_sequence(tmp_path):
    corpus = tmp_path / "counting.txt"
    corpus.write_text("a b c d e f g h\n" * 300, encoding="utf-8")
    config = {
        "task": "lm",
        "data": {"train": str(corpus), "val": None, "batch_size": 4, "bptt": 12},
        "text": {"tokenizer": "whitespace"},
        "model": {"embedding": {"dim": 24}, "rnn": {"hidden_size": 24, "num_layers": 1}},
        "optim": {"optimizer": "adam", "lr": 0.02},
        "trainer": {"max_epochs": 6, "progress_bar": False, "threads": 1},
    }
    directory = textseq.train(config, out=tmp_path / "lm")
    model = textseq.load(directory)
    assert model.perplexity("a b c d e f g h\n" * 3) < 1.1
    held_out = model.evaluate(["a b c d e f g h"] * 40, batch_size=2)
    assert held_out["perplexity"] < 1.1
    assert held_out["loss"] == pytest.approx(math.log(held_out["perplexity"]), abs=1e-3)
    text = model.generate("c d", max_tokens=9, temperature=0)[0]
    assert text == "c d e f g h\na b c d"
