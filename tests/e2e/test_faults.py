"""Fault injection, for every task: a run killed (SIGKILL) in an epoch, while checkpointing or
while publishing, or stopped by a full disk, leaves no model (nothing half-written), and resuming
it publishes the uninterrupted run's weights bit for bit, with the same history; an unwritable
or busy --out is a clear error. Each task trains three epochs with an LR drop after each: the
classifier on a toy task, the others on tiny slices of their real data."""

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
import textseq.training
from textseq.errors import ConfigError, TextseqError

WORDS = [f"w{i}" for i in range(30)]
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


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


def toy_classifier(root: Path) -> dict:
    return {
        "seed": 3,
        "data": {
            "train": write_toy(root / "train.tsv", 160, 1),
            "val": write_toy(root / "val.tsv", 40, 2),
            "batch_size": 16,
        },
        "text": {"tokenizer": "whitespace"},
        "model": {"embedding": {"dim": 8, "dropout": 0.1}, "encoder": {"hidden_size": 8}},
        "optim": {"lr": 0.02},
    }


# Each task's config file (None: the toy classifier) and what makes it tiny: every epoch has
# at least two training batches.
TASK_RUNS = {
    "classify": (None, []),
    "tag": (
        "conll2003_bilstm_crf.yaml",
        [
            *("data.limit_train=48", "data.limit_val=16", "model.words_from_vectors=false"),
            *("model.encoder.hidden_size=8", "model.chars.hidden_size=4", "model.chars.dim=4"),
            "data.batch_size=16",
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
            *("model.rnn.attention_dim=8", "data.batch_size=16"),
        ],
    ),
}
COMMON = ["trainer.max_epochs=3", "trainer.threads=1", "trainer.progress_bar=false"]
COMMON += ["optim.lr_decay_after=1", "optim.lr_factor=0.5"]
COMMON += ["trainer.early_stopping_patience=null"]


class Run:
    """A task's tiny run: its config and overrides, and (once) its uninterrupted result."""

    def __init__(self, config: dict, overrides: list[str], root: Path):
        self.config, self.overrides, self.root = config, overrides, root
        self._whole: Path | None = None

    def train(self, out: Path, **kwargs) -> Path:
        return textseq.train(self.config, out=out, overrides=self.overrides, **kwargs)

    @property
    def whole(self) -> Path:
        if self._whole is None:
            self._whole = self.train(self.root / "whole")
            lrs = [row["lr"] for row in _metrics(self._whole)["epochs"]]
            assert len(set(lrs)) == 3, lrs  # the LR drops after every epoch
        return self._whole

    def variant(self, name: str, overrides: list[str]) -> Run:
        """The same run with more `overrides` (its own uninterrupted result)."""
        (self.root / name).mkdir(exist_ok=True)
        return Run(self.config, [*self.overrides, *overrides], self.root / name)

    def assert_same_as_uninterrupted(self, model: Path) -> None:
        whole = self.whole
        assert _sha256(model / "model.safetensors") == _sha256(whole / "model.safetensors")
        # Every epoch after the resume too (the best weights may be an earlier epoch's).
        assert _metrics(model)["epochs"] == _metrics(whole)["epochs"]


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """A private cache for the module (the real datasets, when a task needs them, as mirror)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield patch


_RUNS: dict[str, Run] = {}


@pytest.fixture(params=list(TASK_RUNS))
def run(request, environment, tmp_path_factory) -> Run:
    task = request.param
    if task not in _RUNS:
        name, overrides = TASK_RUNS[task]
        root = tmp_path_factory.mktemp(task)
        if name is None:
            config = toy_classifier(root)
        else:
            environment.setenv("TEXTSEQ_DATASETS", str(request.getfixturevalue("datasets_dir")))
            config = yaml.safe_load((CONFIGS / name).read_text())
            config["optim"].pop("lr_patience", None)  # the plateau's: not with lr_decay_after
        _RUNS[task] = Run(config, [*overrides, *COMMON], root)
    return _RUNS[task]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _metrics(model: Path) -> dict:
    return json.loads((model / "metrics.json").read_text())


# Each fault, installed in a child process that then trains: it dies by SIGKILL where it says.
FAULTS = {
    # in the third epoch, after its second batch
    "mid-epoch": """
        import lightning.pytorch as pl
        class Kill(pl.Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, i):
                if trainer.current_epoch == 2 and i == 1:
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
def test_killed_run_resumes_to_the_uninterrupted_weights(run, tmp_path, fault):
    out = tmp_path / "model"
    script = tmp_path / "run.py"
    script.write_text(
        "import os, signal, json, sys\nfrom pathlib import Path\n"
        "import textseq, textseq.checkpointing, textseq.training\n"
        + textwrap.dedent(FAULTS[fault])
        + f"textseq.train(json.loads({json.dumps(json.dumps(run.config))}), out={str(out)!r}, "
        f"overrides={run.overrides!r}, callbacks=callbacks)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, timeout=600
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert not out.exists(), "a killed run must not publish"
    with pytest.raises(ConfigError, match="interrupted run"):
        run.train(out)  # a fresh run does not delete it
    resumed = textseq.train(resume=out)  # the lock of the dead process is taken over
    run.assert_same_as_uninterrupted(resumed)


@pytest.mark.parametrize("where", ["checkpointing", "publishing"])
def test_full_disk_leaves_no_model_and_resumes_exactly(run, tmp_path, monkeypatch, where):
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
        run.train(out)
    monkeypatch.undo()
    assert not out.exists()
    assert not [p for p in (tmp_path / "model.ckpt").iterdir() if p.name.endswith(".part")]
    resumed = textseq.train(resume=tmp_path / "model.partial")
    run.assert_same_as_uninterrupted(resumed)
    if where == "publishing":
        # Extending the finished run by epochs that (at this LR) do not beat it keeps its best.
        best = _metrics(resumed)["best"]
        longer = textseq.train(resume=resumed, overrides=["trainer.max_epochs=4", "optim.lr=1e-9"])
        assert _metrics(longer)["best"] == best
        assert _sha256(longer / "model.safetensors") == _sha256(run.whole / "model.safetensors")


def test_unwritable_and_busy_outputs_are_clear_errors(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TextseqError, match="cannot write"):
        run.train(blocker / "model")  # under a file
    with pytest.raises(TextseqError, match="cannot write"):
        run.train(Path("/proc/textseq-test/model"))  # a read-only file system, even for root
    # A second run on an --out another live process is writing is refused; nothing is touched.
    out = tmp_path / "model"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "model.lock").write_text(f"{sleeper.pid}\n")
        with pytest.raises(ConfigError, match=f"being written by process {sleeper.pid}"):
            run.train(out)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not out.exists() and (tmp_path / "model.lock").is_file()
    assert not (tmp_path / "model.partial").exists()


def test_refused_overrides_and_pickled_checkpoints(tmp_path):
    config = {**toy_classifier(tmp_path), "trainer": {"max_epochs": 1, "threads": 1}}
    first = textseq.train(config, out=tmp_path / "m")
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


class _CrashLateInEpoch(pl.Callback):
    """Raises three quarters into the second epoch, after its validation halfway through."""

    def on_train_batch_start(self, trainer, pl_module, batch, i):
        if trainer.current_epoch == 1 and i == trainer.num_training_batches * 3 // 4:
            raise RuntimeError("simulated crash")


def test_resume_from_a_validation_inside_an_epoch_is_exact(run, tmp_path):
    """val_check_interval 0.5: the run resumes from the checkpoint of the validation halfway
    through epoch 2 (its batches, dropout masks and, for the language model, the recurrent
    state carried between windows) and publishes the uninterrupted run's weights and history."""
    halves = run.variant("halves", ["trainer.val_check_interval=0.5"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        halves.train(tmp_path / "model", callbacks=[_CrashLateInEpoch()])
    newest = textseq.checkpointing.resumable_checkpoint(tmp_path / "model.ckpt")
    assert newest is not None and newest.name.startswith("epoch=1-step=")
    resumed = textseq.train(resume=tmp_path / "model.partial")
    whole = halves.whole
    assert _sha256(resumed / "model.safetensors") == _sha256(whole / "model.safetensors")
    [after, before] = (_metrics(d) for d in (resumed, whole))
    assert after["validations"] == before["validations"]
    # Every epoch's metrics too, but for the resumed epoch's means of training metrics:
    # Lightning keeps those running means in no checkpoint, so after the resume they average
    # the epoch's remaining batches only (the weights above show the batches are the same).
    for epoch, (mine, theirs) in enumerate(zip(after["epochs"], before["epochs"], strict=True)):
        if epoch == 1:
            mine = {k: v for k, v in mine.items() if not k.startswith("train_")}
            theirs = {k: v for k, v in theirs.items() if not k.startswith("train_")}
        assert mine == theirs
