"""Fault injection: a run killed (SIGKILL) in an epoch, while checkpointing or while publishing,
or stopped by a full disk, leaves the previous complete model or none, and resuming it
publishes the uninterrupted run's weights bit for bit; a read-only or busy --out is a clear
error. Tiny classifier on a toy task, with an LR drop after every epoch."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning.pytorch as pl
import pytest
import yaml

import textseq
import textseq.checkpointing
import textseq.model_dir
from textseq.errors import ConfigError, TextseqError

WORDS = [f"w{i}" for i in range(30)]


def write_toy(path: Path, n: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    lines = ["label\ttext"]
    for i in range(n):
        tokens = rng.choices(WORDS[3:], k=rng.randint(3, 8))
        if i % 2:
            tokens[0] = rng.choice(WORDS[:3])
        lines.append(f"{'yes' if i % 2 else 'no'}\t{' '.join(tokens)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("faults")
    return {
        "seed": 3,
        "data": {
            "train": write_toy(root / "train.tsv", 160, 1),
            "val": write_toy(root / "val.tsv", 40, 2),
            "batch_size": 16,
        },
        "text": {"tokenizer": "whitespace"},
        "model": {"embedding": {"dim": 8, "dropout": 0.1}, "encoder": {"hidden_size": 8}},
        "optim": {"lr": 0.02, "lr_decay_after": 1, "lr_factor": 0.5},
        "trainer": {
            "max_epochs": 4,
            "progress_bar": False,
            "threads": 1,
            "early_stopping_patience": None,
        },
    }


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory) -> str:
    out = textseq.train(config, out=tmp_path_factory.mktemp("whole") / "model")
    return _sha256(out / "model.safetensors")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Each fault, installed in a child process that then trains: it dies by SIGKILL where it says.
FAULTS = {
    # in the third epoch, after its fifth batch
    "mid-epoch": """
        import lightning.pytorch as pl
        class Kill(pl.Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, i):
                if trainer.current_epoch == 2 and i == 4:
                    os.kill(os.getpid(), signal.SIGKILL)
        callbacks = [Kill()]
    """,
    # the second epoch's checkpoint is half written (into its temporary file)
    "while checkpointing": """
        original = textseq.checkpointing.AtomicCheckpointIO.save_checkpoint
        def save(self, checkpoint, path, storage_options=None):
            if "epoch=1" in str(path):
                def half(temporary):
                    temporary.write_bytes(b"PK half an archive")
                    os.kill(os.getpid(), signal.SIGKILL)
                textseq.checkpointing.write_atomically(path, half)
            original(self, checkpoint, path, storage_options)
        textseq.checkpointing.AtomicCheckpointIO.save_checkpoint = save
        callbacks = []
    """,
    # between moving nothing and moving the work directory into place
    "while publishing": """
        def publish(partial, final):
            os.kill(os.getpid(), signal.SIGKILL)
        textseq.training.publish = publish
        callbacks = []
    """,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_killed_run_resumes_to_the_uninterrupted_weights(config, uninterrupted, tmp_path, fault):
    out = tmp_path / "model"
    script = tmp_path / "run.py"
    script.write_text(
        "import os, signal, json, sys\nfrom pathlib import Path\n"
        "import textseq, textseq.checkpointing, textseq.training\n"
        + textwrap.dedent(FAULTS[fault])
        + f"textseq.train(json.loads({json.dumps(json.dumps(config))}), out={str(out)!r}, "
        "callbacks=callbacks)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    assert not out.exists(), "a killed run must not publish"
    with pytest.raises(ConfigError, match="interrupted run"):
        textseq.train(config, out=out)  # a fresh run does not delete it
    resumed = textseq.train(resume=out)  # the lock of the dead process is taken over
    assert _sha256(resumed / "model.safetensors") == uninterrupted


@pytest.mark.parametrize("where", ["checkpointing", "publishing"])
def test_full_disk_leaves_no_model_and_resumes_exactly(
    config, uninterrupted, tmp_path, monkeypatch, where
):
    out = tmp_path / "model"

    def full(*args, **kwargs):
        if where == "publishing" or "epoch=1" in str(args[1]):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    if where == "checkpointing":
        real = textseq.checkpointing.torch.save
        monkeypatch.setattr(textseq.checkpointing.torch, "save", full)
    else:
        real = textseq.model_dir.save_weights
        monkeypatch.setattr(textseq.training, "save_weights", full)
    with pytest.raises(OSError, match="No space"):
        textseq.train(config, out=out)
    monkeypatch.undo()
    assert not out.exists()
    assert not [p for p in (tmp_path / "model.ckpt").iterdir() if p.name.endswith(".part")]
    resumed = textseq.train(resume=tmp_path / "model.partial")
    assert _sha256(resumed / "model.safetensors") == uninterrupted
    # Extending the finished run by epochs that (at this LR) do not beat it keeps its best.
    best = json.loads((resumed / "metrics.json").read_text())["best"]
    longer = textseq.train(resume=resumed, overrides=["trainer.max_epochs=5", "optim.lr=1e-9"])
    assert json.loads((longer / "metrics.json").read_text())["best"] == best
    assert _sha256(longer / "model.safetensors") == uninterrupted


def test_unwritable_and_busy_outputs_are_clear_errors(config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TextseqError, match="cannot write"):
        textseq.train(config, out=blocker / "model")
    out = tmp_path / "model"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "model.lock").write_text(f"{sleeper.pid}\n")
        with pytest.raises(ConfigError, match=f"being written by process {sleeper.pid}"):
            textseq.train(config, out=out)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not out.exists() and (tmp_path / "model.lock").is_file()


def test_refused_overrides_and_pickled_checkpoints(config, tmp_path):
    first = textseq.train(
        {**config, "trainer": {**config["trainer"], "max_epochs": 1}}, out=tmp_path / "m"
    )
    with pytest.raises(ConfigError, match=r"cannot change model\.encoder\.hidden_size"):
        textseq.train(resume=first, overrides=["model.encoder.hidden_size=4"])
    # A checkpoint that would run code when unpickled is refused, and the code does not run.
    import torch

    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    [latest] = sorted((tmp_path / "m.ckpt").glob("epoch=*.ckpt"))
    state = torch.load(latest, weights_only=True)
    state["planted"] = Planted()
    torch.save(state, latest)
    with pytest.raises(TextseqError, match="does not unpickle"):
        textseq.train(resume=first, overrides=["trainer.max_epochs=2"])
    assert not (tmp_path / "pwned").exists()


class _CrashAtEpoch(pl.Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# Each task on a tiny slice of its real data, three epochs with an LR drop after each.
TASK_RUNS = {
    "tag": (
        "conll2003_bilstm_crf.yaml",
        [
            *("data.limit_train=48", "data.limit_val=16", "model.words_from_vectors=false"),
            *("model.encoder.hidden_size=8", "model.chars.hidden_size=4", "model.chars.dim=4"),
        ],
    ),
    "lm": (
        "ptb_lstm_small.yaml",
        [
            *("data.limit_train=1500", "data.limit_val=300", "model.embedding.dim=8"),
            *("model.rnn.hidden_size=8", "model.rnn.num_layers=1"),
        ],
    ),
    "translate": (
        "multi30k_gru_bahdanau.yaml",
        [
            *("data.limit_train=48", "data.limit_val=12", "model.embedding.dim=8"),
            *("model.rnn.encoder_hidden_size=8", "model.rnn.decoder_hidden_size=8"),
            "model.rnn.attention_dim=8",
        ],
    ),
}
COMMON = ["trainer.max_epochs=3", "trainer.threads=1", "trainer.progress_bar=false"]
COMMON += ["optim.lr_decay_after=1", "trainer.early_stopping_patience=null"]


@pytest.mark.parametrize("task", TASK_RUNS)
def test_every_task_resumes_to_the_uninterrupted_weights(real_data_env, tmp_path, task):
    name, overrides = TASK_RUNS[task]
    overrides = [*overrides, *COMMON]
    config = yaml.safe_load((CONFIGS / name).read_text())
    config["optim"].pop("lr_patience", None)  # the plateau schedule's: not with lr_decay_after
    whole = textseq.train(config, out=tmp_path / "whole", overrides=overrides)
    lrs = [row["lr"] for row in json.loads((whole / "metrics.json").read_text())["epochs"]]
    assert len(set(lrs)) == 3, lrs
    with pytest.raises(RuntimeError, match="simulated crash"):
        textseq.train(
            config, out=tmp_path / "split", overrides=overrides, callbacks=[_CrashAtEpoch(2)]
        )
    resumed = textseq.train(resume=tmp_path / "split.partial")
    assert _sha256(resumed / "model.safetensors") == _sha256(whole / "model.safetensors")
    # Every epoch after the resume too (the best weights may be an earlier epoch's).
    [after, before] = (json.loads((d / "metrics.json").read_text()) for d in (resumed, whole))
    assert after["epochs"] == before["epochs"]
