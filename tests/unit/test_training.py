"""End-to-end training on a learnable toy task: it learns, it resumes exactly, it scales out."""

import hashlib
import json
import os
import pickletools
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

import textseq
from textseq.callbacks import MetricsHistory
from textseq.checkpointing import resumable_checkpoint
from textseq.data.readers import read_examples
from textseq.errors import ConfigError

WORDS = [f"w{i}" for i in range(40)]
TRIGGERS = {"w1", "w2", "w3"}


def write_toy_task(path: Path, n: int, seed: int) -> Path:
    """Label 'yes' when the text holds a trigger word: learnable, and balanced by construction."""
    rng = random.Random(seed)
    plain = [w for w in WORDS if w not in TRIGGERS]
    lines = ["label\ttext"]
    for i in range(n):
        tokens = rng.choices(plain, k=rng.randint(3, 12))
        if i % 2:
            tokens[rng.randrange(len(tokens))] = rng.choice(sorted(TRIGGERS))
        lines.append(f"{'yes' if i % 2 else 'no'}\t{' '.join(tokens)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toy_config(tmp_path: Path, **trainer) -> dict:
    return {
        "seed": 7,
        "data": {
            "train": str(write_toy_task(tmp_path / "train.tsv", 1200, seed=1)),
            "val": str(write_toy_task(tmp_path / "val.tsv", 300, seed=2)),
            "batch_size": 32,
        },
        "text": {"tokenizer": "whitespace"},
        "model": {
            "embedding": {"dim": 16, "dropout": 0.1},
            "encoder": {"cell": "gru", "hidden_size": 16},
            "head": {"dropout": 0.1},
            "pooling": {"type": "attention", "attention_dim": 16},
        },
        "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 6, "progress_bar": False, "threads": 1, **trainer},
    }


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_pickle(path: Path) -> bool:
    """Whether `path` is a pickle or a torch archive of pickles: what loading could run code."""
    if not path.is_file():
        return False
    if zipfile.is_zipfile(path):
        return any(name.endswith(".pkl") for name in zipfile.ZipFile(path).namelist())
    data = path.read_bytes()
    try:
        ops = list(pickletools.genops(data))
    except Exception:
        return False
    # A pickle ends at its STOP; text that merely parses as opcodes up to a "." does not.
    return bool(ops) and ops[-1][0].name == "STOP" and ops[-1][2] == len(data.rstrip()) - 1


def test_tiny_training_learns_the_toy_task(tmp_path):
    directory = textseq.train(toy_config(tmp_path), out=tmp_path / "model")
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["best"]["val_acc"] > 0.95
    model = textseq.load(directory)
    [hit, miss] = model.predict(["w5 w1 w9 w10", "w5 w6 w9 w10"])
    assert (hit["label"], miss["label"]) == ("yes", "no")
    for name in ("config.yaml", "vocab.json", "labels.json", "model.safetensors"):
        assert (directory / name).is_file()
    assert oct((directory / "model.safetensors").stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    assert not [path.name for path in directory.rglob("*") if _is_pickle(path)]
    assert [path.name for path in (tmp_path / "model.ckpt").iterdir() if _is_pickle(path)]
    assert not (tmp_path / "model.partial").exists()
    # A model directory written before encoder types existed (no model.encoder.type, no
    # model.encoder.packed) loads as the RNN model it is and predicts the same. (The keys of
    # other encoder types that older dumps held: tests/test_config_migration.py.)
    manifest = json.loads((directory / "textseq.json").read_text())
    del manifest["sha256"]  # (which that textseq did not write either)
    (directory / "textseq.json").write_text(json.dumps(manifest))
    config = yaml.safe_load((directory / "config.yaml").read_text())
    for key in ("type", "packed"):
        del config["model"]["encoder"][key]
    assert "backbone_lr" not in config["optim"]
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    again = textseq.load(directory).predict(["w5 w1 w9 w10", "w5 w6 w9 w10"])
    assert [r["probs"] for r in again] == [hit["probs"], miss["probs"]]


def test_packed_sequences_train_like_the_masked_default(tmp_path, monkeypatch):
    """`model.encoder.packed` reaches the encoder (packing is called only when asked), and
    both paths, computing the same function with the same dropout draws, end with the same
    validation figures."""
    import textseq.modules.rnn as rnn

    pack = torch.nn.utils.rnn.pack_padded_sequence
    packings = []
    monkeypatch.setattr(
        rnn, "pack_padded_sequence", lambda *a, **k: packings.append(1) or pack(*a, **k)
    )
    figures, packed_batches = [], []
    for packed in (False, True):
        packings.clear()
        config = toy_config(tmp_path)
        config["model"]["encoder"]["packed"] = packed
        directory = textseq.train(config, out=tmp_path / f"packed-{packed}")
        figures.append(json.loads((directory / "metrics.json").read_text())["best"])
        packed_batches.append(len(packings))
    assert packed_batches[0] == 0 and packed_batches[1] > 100
    assert figures[0]["val_acc"] > 0.95
    assert figures[1]["val_acc"] == pytest.approx(figures[0]["val_acc"], abs=0.01)
    assert figures[1]["val_loss"] == pytest.approx(figures[0]["val_loss"], rel=0.05)


def test_ema_of_the_weights_is_what_the_model_directory_keeps(tmp_path):
    """With `trainer.ema_decay` d the published weights are the bias-corrected average
    e_t = sum_i (1 - d) d^(t-i) w_i / (1 - d^t) of the weights w_i after each optimiser step,
    not the last w_t."""
    from safetensors.torch import load_file

    steps: list[dict[str, torch.Tensor]] = []

    class RecordWeights(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args) -> None:
            steps.append({k: v.detach().clone() for k, v in pl_module.model.named_parameters()})

    config = toy_config(tmp_path)
    config["trainer"].update(max_epochs=1, ema_decay=0.9)
    directory = textseq.train(config, out=tmp_path / "model", callbacks=[RecordWeights()])
    t = len(steps)
    total = (1 - 0.9**t) / 0.1
    expected = {
        k: sum(0.9 ** (t - i) * step[k] for i, step in enumerate(steps, start=1)) / total
        for k in steps[0]
    }
    saved = load_file(directory / "model.safetensors")
    assert len(steps) == 38  # 1,200 texts in batches of 32
    for name, value in expected.items():
        torch.testing.assert_close(saved[name], value, atol=1e-5, rtol=1e-4)
    assert not all(torch.allclose(saved[k], w, atol=1e-4) for k, w in steps[-1].items())
    again = toy_config(tmp_path)
    again["trainer"]["ema_decay"] = 1.0
    with pytest.raises(
        ConfigError, match=r"trainer\.ema_decay: must be in \(0, 1\) or null, got 1\.0"
    ):
        textseq.train(again, out=tmp_path / "bad")


def test_averaged_weights_step_is_the_bias_corrected_mean_and_copies_masks():
    from textseq.callbacks import AveragedWeights

    step = AveragedWeights(0.5)._step
    # e_1 = w_1 = 0, w_2 = 1: e_2 = (0.5 * 0.5 * 0 + 0.5 * 1) / (1 - 0.5 ** 2) = 2 / 3
    second = torch.tensor([0.0])
    step([second], [torch.tensor([1.0])], torch.tensor(1))
    torch.testing.assert_close(second, torch.tensor([2 / 3]))
    mask = torch.tensor([False, True])  # e.g. a CRF's allowed transitions
    averaged_mask = torch.tensor([True, False])
    step([averaged_mask], [mask], torch.tensor(3))
    assert torch.equal(averaged_mask, mask)
    with pytest.raises(ValueError, match="decay"):
        AveragedWeights(1.0)


def test_tiny_transformer_training_learns_the_toy_task(tmp_path):
    config = toy_config(tmp_path)
    config["model"]["encoder"] = {
        "type": "transformer",
        "num_layers": 1,
        "num_heads": 2,
        "ff_dim": 32,
        "dropout": 0.0,
    }
    config["model"]["pooling"] = {"type": "cls"}
    config["optim"]["lr"] = 0.003
    directory = textseq.train(config, out=tmp_path / "model")
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["best"]["val_acc"] > 0.95
    model = textseq.load(directory)
    [hit, miss] = model.predict(["w5 w1 w9 w10", "w5 w6 w9 w10"])
    assert (hit["label"], miss["label"]) == ("yes", "no")


class _StopAtEpoch(pl.Callback):
    """Simulates a crash at the start of an epoch (after the previous one was checkpointed)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("schedule", [{"lr_patience": 0}, {"lr_decay_after": 1}])
def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(tmp_path, schedule):
    """Across LR drops (on a plateau, or every epoch), bit for bit."""
    config = toy_config(tmp_path, max_epochs=4, early_stopping_patience=None)
    config["optim"].update(schedule, lr_factor=0.5)
    whole = textseq.train(config, out=tmp_path / "whole")
    expected = json.loads((whole / "metrics.json").read_text())["epochs"]
    assert len({row["lr"] for row in expected}) > 1, "the test needs an LR drop"
    with pytest.raises(RuntimeError, match="simulated crash"):
        textseq.train(config, out=tmp_path / "split", callbacks=[_StopAtEpoch(2)])
    partial = tmp_path / "split.partial"
    assert not (tmp_path / "split").exists(), "an interrupted run must not publish a model"
    assert sorted(p.name for p in (tmp_path / "split.ckpt").glob("epoch=*")) == [
        "epoch=0.ckpt",
        "epoch=1.ckpt",
    ]
    with pytest.raises(textseq.errors.ModelDirError, match="unfinished run"):
        textseq.load(tmp_path / "split")
    saved = torch.load(tmp_path / "split.ckpt" / "epoch=1.ckpt", weights_only=True)["callbacks"]
    [first_seconds] = [v["train_seconds"] for k, v in saved.items() if "MetricsHistory" in k]
    resumed = textseq.train(resume=partial)
    assert resumed == tmp_path / "split"
    # The training time counts the interrupted invocation's epochs too.
    assert json.loads((resumed / "metrics.json").read_text())["train_seconds"] > first_seconds > 0
    actual = json.loads((resumed / "metrics.json").read_text())["epochs"]
    assert len(actual) == len(expected) == 4
    for mine, theirs in zip(actual, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            if key != "train_seconds":
                assert mine[key] == theirs[key], key
    assert _sha256(resumed / "model.safetensors") == _sha256(whole / "model.safetensors")


class _StopAfterValidationInEpoch(pl.Callback):
    """Simulates a crash in the second half of an epoch, after the validation halfway through
    it was checkpointed."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_batch_start(self, trainer, pl_module, batch, i):
        if trainer.current_epoch == self.epoch and i == trainer.num_training_batches * 3 // 4:
            raise RuntimeError("simulated crash")


def test_run_resumed_from_a_validation_inside_an_epoch_equals_an_uninterrupted_one(tmp_path):
    """val_check_interval 0.5: a resumable checkpoint after the validation halfway through
    each epoch; a run stopped after the one of epoch 2 resumes from it (its batches, its
    dropout masks) and publishes the uninterrupted run's weights, bit for bit. (The resumed
    epoch's mean training loss is not compared: Lightning keeps running means in no
    checkpoint, so it averages the batches after the resume.)"""
    config = toy_config(tmp_path, max_epochs=3, early_stopping_patience=None)
    config["trainer"]["val_check_interval"] = 0.5
    config["optim"].update(lr_decay_after=1, lr_factor=0.5)
    whole = textseq.train(config, out=tmp_path / "whole")
    with pytest.raises(RuntimeError, match="simulated crash"):
        textseq.train(config, out=tmp_path / "split", callbacks=[_StopAfterValidationInEpoch(1)])
    saved = sorted(p.name for p in (tmp_path / "split.ckpt").glob("epoch=*"))
    [inside] = [name for name in saved if name.startswith("epoch=1-step=")]
    assert resumable_checkpoint(tmp_path / "split.ckpt").name == inside
    resumed = textseq.train(resume=tmp_path / "split.partial")
    assert _sha256(resumed / "model.safetensors") == _sha256(whole / "model.safetensors")
    [after, before] = (json.loads((d / "metrics.json").read_text()) for d in (resumed, whole))
    assert after["validations"] == before["validations"]


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_publishes_nothing(tmp_path):
    class Poison(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, index):
            if trainer.global_step == 3:
                with torch.no_grad():
                    next(pl_module.model.parameters()).fill_(float("nan"))

    config = toy_config(tmp_path, max_epochs=1)
    with pytest.raises(textseq.errors.TextseqError, match=r"diverged at step 4 .*optim\.lr"):
        textseq.train(config, out=tmp_path / "model", callbacks=[Poison()])
    assert not (tmp_path / "model").exists()
    with pytest.raises(ConfigError, match=r"optim\.class_weights"):
        textseq.train(config, out=tmp_path / "model", overrides=["optim.class_weights=[-1, 1]"])


def test_validating_inside_epochs_records_and_keeps_the_best_validation(tmp_path):
    """val_check_interval 0.5: two validations per epoch, at half and at the end; the saved
    weights are the best validation's, whichever half of an epoch it fell in."""
    config = toy_config(tmp_path, max_epochs=2, early_stopping_patience=None)
    config["trainer"]["val_check_interval"] = 0.5
    directory = textseq.train(config, out=tmp_path / "model")
    metrics = json.loads((directory / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["validations"]] == pytest.approx(
        [0.5, 1.0, 1.5, 2.0], abs=0.03
    )
    assert len(metrics["epochs"]) == 2
    best = max(metrics["validations"], key=lambda row: row["val_acc"])
    assert metrics["best"]["val_acc"] == best["val_acc"]
    assert metrics["best_epoch"] == pytest.approx(best["epoch"])
    report = textseq.load(directory).evaluate(read_examples(config["data"]["val"]))
    assert report["accuracy"] == pytest.approx(best["val_acc"], abs=1e-6)


@pytest.mark.parametrize(
    ("text", "embedding", "warned"),
    [
        ({}, {}, True),  # min_freq 1: every training word is in the vocabulary
        ({"min_freq": 20}, {}, False),  # the rarer toy words become <unk>
        ({}, {"word_dropout": 0.1}, False),
    ],
)
def test_warns_when_unk_would_never_be_trained(tmp_path, caplog, text, embedding, warned):
    config = toy_config(tmp_path, max_epochs=1)
    config["data"]["limit_train"] = 64
    config["text"].update(text)
    config["model"]["embedding"].update(embedding)
    with caplog.at_level("WARNING", logger="textseq"):
        textseq.train(config, out=tmp_path / "model")
    assert ("<unk> vector is never trained" in caplog.text) == warned


def test_existing_output_is_not_overwritten_without_permission(tmp_path):
    config = toy_config(tmp_path, max_epochs=1)
    textseq.train(config, out=tmp_path / "model")
    with pytest.raises(ConfigError, match="already exists"):
        textseq.train(config, out=tmp_path / "model")
    textseq.train(config, out=tmp_path / "model", overwrite=True)


def test_ddp_on_two_cpu_processes_learns_the_toy_task(tmp_path):
    """The scale-out path: Lightning DDP (gloo) with two processes via the CLI."""
    import yaml

    config_path = tmp_path / "toy.yaml"
    config_path.write_text(yaml.safe_dump(toy_config(tmp_path, max_epochs=8)))
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "textseq",
            "-q",
            "train",
            str(config_path),
            "--out",
            str(out),
            "--set",
            "trainer.strategy=ddp",
            "--set",
            "trainer.devices=2",
            "--set",
            "trainer.accelerator=cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best"]["val_acc"] > 0.95
    assert textseq.load(out).predict(["w7 w2 w8"])[0]["label"] == "yes"


def test_bf16_autocast_on_cpu_trains(tmp_path):
    config = toy_config(tmp_path, max_epochs=4, precision="bf16-mixed")
    directory = textseq.train(config, out=tmp_path / "bf16")
    assert json.loads((directory / "metrics.json").read_text())["best"]["val_acc"] > 0.9
    assert textseq.load(directory).predict(["w9 w3 w9"])[0]["label"] == "yes"


def test_trainer_compile_compiles_the_model_in_place(tmp_path, monkeypatch):
    # The compilation itself is torch's (and takes minutes on this CPU); what textseq owns is
    # that `trainer.compile` reaches it, once, in place (so state-dict keys do not change),
    # with dynamic shapes.
    compiled = []
    monkeypatch.setattr(
        torch.nn.Module,
        "compile",
        lambda self, **options: compiled.append((type(self).__name__, options)),
    )
    config = toy_config(tmp_path, max_epochs=1, compile=True)
    directory = textseq.train(config, out=tmp_path / "compiled")
    assert compiled == [("TextClassifier", {"dynamic": True})]
    assert textseq.load(directory).predict(["w9 w3 w9"])[0]["label"] in ("yes", "no")


def test_bpe_tokenizer_is_fitted_saved_and_reloaded(tmp_path):
    config = toy_config(tmp_path, max_epochs=2)
    config["text"] = {"tokenizer": "bpe", "bpe_vocab_size": 60}
    directory = textseq.train(config, out=tmp_path / "bpe")
    assert (directory / "tokenizer.json").is_file()
    model = textseq.load(directory)
    assert model.predict(["w1 w5"]) == textseq.load(directory).predict(["w1 w5"])


def test_held_out_validation_and_class_weights(tmp_path):
    config = toy_config(tmp_path, max_epochs=1)
    config["data"]["val"] = None
    config["data"]["val_fraction"] = 0.25
    config["optim"]["class_weights"] = "balanced"
    directory = textseq.train(config, out=tmp_path / "held_out")
    data = json.loads((directory / "metrics.json").read_text())["data"]
    assert (data["train_examples"], data["val_examples"]) == (900, 300)


def test_label_unseen_in_training_is_an_error_naming_the_line(tmp_path):
    config = toy_config(tmp_path, max_epochs=1)
    val = tmp_path / "val.tsv"
    val.write_text(val.read_text() + "maybe\tw1 w2\n")
    with pytest.raises(textseq.errors.DataError, match=r"val\.tsv, line 302: label 'maybe'"):
        textseq.train(config, out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert not (tmp_path / "bad.partial").exists()


def test_frozen_pretrained_vectors_train_and_resume_from_a_finished_model(tmp_path):
    """Vectors initialise the embeddings and stay fixed; a finished model can train on."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    words = [*WORDS[:30], "neverintraining"]
    rows = [f"{word} " + " ".join(f"{v:.5f}" for v in rng.normal(size=16)) for word in words]
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"{len(rows)} 16\n" + "\n".join(rows) + "\n")
    config = toy_config(tmp_path, max_epochs=1)
    config["model"]["embedding"].update(vectors=str(vectors), freeze=True)
    first = textseq.train(config, out=tmp_path / "frozen")
    weights = textseq.load(first).model.embedding.weight
    vocab = textseq.load(first).pipeline.vocab
    for row in (5, 30):  # a training word, and a word only the vectors know
        expected = torch.tensor([float(v) for v in rows[row].split()[1:]])
        assert torch.allclose(weights[vocab.stoi[words[row]]], expected, atol=1e-5)
    again = textseq.train(resume=first, overrides=["trainer.max_epochs=2"])
    assert again == first
    epochs = json.loads((first / "metrics.json").read_text())["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]
    after = textseq.load(first)
    assert torch.equal(after.model.embedding.weight, weights)


def test_fine_tuned_vectors_train_only_the_rows_training_reaches(tmp_path):
    """With words_from_vectors a word only the vectors know keeps its vector exactly while
    training words' rows move; an interrupted run (checkpoint of the partly trained table)
    resumes to the uninterrupted run's epochs, also with a moving average of the weights."""
    import numpy as np
    import torch

    from textseq.modules.embedding import PartlyTrainedEmbedding

    rng = np.random.default_rng(0)
    words = [*WORDS[:30], "neverintraining"]
    rows = {w: rng.normal(size=16).astype(np.float32) for w in words}
    vectors = tmp_path / "vectors.txt"
    lines = [f"{w} " + " ".join(repr(float(v)) for v in vector) for w, vector in rows.items()]
    vectors.write_text(f"{len(lines)} 16\n" + "\n".join(lines) + "\n")
    config = toy_config(tmp_path, max_epochs=2, early_stopping_patience=None, ema_decay=0.9)
    config["model"]["embedding"].update(vectors=str(vectors), freeze=False)
    seen = []
    whole = textseq.train(config, out=tmp_path / "whole", callbacks=[_EmbeddingType(seen)])
    assert seen == [PartlyTrainedEmbedding]
    model = textseq.load(whole)
    weights, vocab = model.model.embedding.weight, model.pipeline.vocab
    unseen = "neverintraining"
    assert torch.equal(weights[vocab.stoi[unseen]], torch.tensor(rows[unseen]))
    assert not torch.allclose(weights[vocab.stoi[WORDS[5]]], torch.tensor(rows[WORDS[5]]))

    with pytest.raises(RuntimeError, match="simulated crash"):
        textseq.train(config, out=tmp_path / "split", callbacks=[_StopAtEpoch(1)])
    resumed = textseq.train(resume=tmp_path / "split.partial")
    expected = json.loads((whole / "metrics.json").read_text())["epochs"]
    actual = json.loads((resumed / "metrics.json").read_text())["epochs"]
    for mine, theirs in zip(actual, expected, strict=True):
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=1e-6)
    torch.testing.assert_close(textseq.load(resumed).model.embedding.weight, weights)


class _EmbeddingType(pl.Callback):
    """Records the type of the model's embedding table when training starts."""

    def __init__(self, seen: list):
        self.seen = seen

    def on_train_start(self, trainer, pl_module):
        self.seen.append(type(pl_module.model.embedding))


@pytest.mark.parametrize("words_from_vectors", [True, False])
def test_words_from_vectors_join_the_vocabulary_only_when_asked(tmp_path, words_from_vectors):
    from gensim.models import KeyedVectors

    from textseq.data.readers import TextExample
    from textseq.tasks import load_config
    from textseq.tasks.classify.recipe import fit_text_pipeline

    config = toy_config(tmp_path, max_epochs=1)
    config["model"]["words_from_vectors"] = words_from_vectors
    keyed = KeyedVectors(vector_size=4)
    keyed.add_vectors(["w1", "Zebra"], [[0.0] * 4, [1.0] * 4])
    examples = [TextExample("w1 w1 w2", "yes"), TextExample("w2 w3", "no")]
    pipeline = fit_text_pipeline(load_config(config), examples, keyed)[0]
    assert pipeline.vocab.itos[:5] == ["<pad>", "<unk>", "w1", "w2", "w3"]
    assert ("zebra" in pipeline.vocab) is words_from_vectors  # lower-cased like the texts
    assert len(pipeline.vocab) == 5 + words_from_vectors


def test_training_seconds_add_up_over_the_invocations_of_a_resumed_run():
    history = MetricsHistory()
    history.load_state_dict({"epochs": [], "validations": [], "train_seconds": 100.0})
    history.on_fit_start(None, None)
    assert 100.0 <= history.train_seconds < 110.0
    assert history.state_dict()["train_seconds"] >= 100.0
    assert MetricsHistory().train_seconds == 0.0
