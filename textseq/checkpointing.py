"""Resumable training state: what is saved after every epoch, where, and how a run finds it.

A run that publishes the model directory `DIR` keeps its training state beside it, in
`DIR.ckpt/` (never inside `DIR`, which holds no pickle):

    DIR.ckpt/epoch=E.ckpt   the whole training state after epoch E, LR-scheduler step included
                            (the newest two are kept)
    DIR.ckpt/epoch=E-step=S.ckpt  the same after a validation inside epoch E, at step S, when
                            `trainer.val_check_interval` < 1 (the newest two are kept)
    DIR.ckpt/best.ckpt      the best validation's weights (what `DIR/model.safetensors` holds)
    DIR.lock                the PID of the run writing DIR, DIR.partial and DIR.ckpt

Both are Lightning `ModelCheckpoint`s writing through `AtomicCheckpointIO`, so a file there is
complete or absent. `resumable_checkpoint` picks the newest complete one.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from textseq.atomic import write_atomically
from textseq.errors import ConfigError, ModelDirError, TextseqError

log = logging.getLogger("textseq")

EPOCH_CHECKPOINTS = 2  # the newest epoch checkpoints kept: a fallback if the newest is damaged


def checkpoint_dir(final: Path) -> Path:
    """Where the run publishing `final` keeps its resumable state."""
    return final.with_name(final.name + ".ckpt")


def run_name(directory: Path) -> Path:
    """The model directory a run's directory belongs to: `X` for `X`, `X.partial`, `X.ckpt`."""
    for suffix in (".partial", ".ckpt"):
        if directory.name.endswith(suffix):
            return directory.with_name(directory.name.removesuffix(suffix))
    return directory


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, through `textseq.atomic.write_atomically`: a kill or a
    full disk while saving leaves the previous checkpoints as they were and no partial file."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        write_atomically(path, lambda tmp: torch.save(checkpoint, tmp))


class MovableCheckpoint(ModelCheckpoint):
    """A `ModelCheckpoint` whose directory may have moved since it was saved (a model directory
    copied with its `.ckpt`): Lightning would then forget the best score, and the resumed run
    would replace the best weights by its first validation's. The saved paths are rebased on
    the current directory instead."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("dirpath")
        if saved and self.dirpath and saved != self.dirpath:

            def moved(path: Any) -> Any:
                if isinstance(path, str) and path.startswith(saved):
                    return str(Path(self.dirpath) / Path(path).relative_to(saved))
                return path

            state_dict = dict(state_dict, dirpath=self.dirpath)
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                state_dict[key] = moved(state_dict.get(key))
            state_dict["best_k_models"] = {
                moved(k): v for k, v in state_dict.get("best_k_models", {}).items()
            }
        super().load_state_dict(state_dict)


def epoch_checkpointing(directory: Path) -> ModelCheckpoint:
    """The resumable checkpoint after every epoch, saved at the end of the epoch once its
    LR-scheduler step is done (see `EpochEndSchedulers`)."""
    return MovableCheckpoint(
        dirpath=directory,
        filename="{epoch}",
        monitor="step",
        mode="max",
        save_top_k=EPOCH_CHECKPOINTS,
        every_n_epochs=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )


class ValidationCheckpoint(MovableCheckpoint):
    """The resumable checkpoint after each validation inside an epoch (`trainer.val_check_
    interval` < 1). The validation at an epoch's end is left to `epoch_checkpointing`, which
    saves after that epoch's LR-scheduler step."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            super().on_validation_end(trainer, pl_module)


def validation_checkpointing(directory: Path) -> ModelCheckpoint:
    """See `ValidationCheckpoint`; with `MidEpochState` a run resumes from one exactly."""
    return ValidationCheckpoint(
        dirpath=directory,
        filename="{epoch}-{step}",
        monitor="step",
        mode="max",
        save_top_k=EPOCH_CHECKPOINTS,
        save_on_train_epoch_end=False,
        enable_version_counter=False,
    )


class MidEpochState(pl.Callback):
    """What a checkpoint saved inside an epoch must hold beyond Lightning's state for the
    resumed run to go on exactly: the batches the epoch has consumed (given to the training
    DataLoader, a `textseq.data.datamodule.ResumableLoader`, which Lightning saves and
    restores) and the random generator's state (dropout), restored when the resumed run starts
    (Lightning calls no `on_train_epoch_start` for an epoch it resumes inside, so the epoch's
    seed, `EpochSeeding`, is not drawn again)."""

    KEY = "textseq_mid_epoch"

    def __init__(self) -> None:
        self._pending: torch.Tensor | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pending is not None:
            torch.set_rng_state(self._pending)
            self._pending = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._count(trainer, 0)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        self._count(trainer, i + 1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._count(trainer, 0)  # the epoch checkpoint resumes at the next epoch's start

    @staticmethod
    def _count(trainer: pl.Trainer, consumed: int) -> None:
        loader = trainer.train_dataloader
        if hasattr(loader, "consumed"):
            loader.consumed, loader.epoch = consumed, trainer.current_epoch

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if inside_epoch(trainer):
            checkpoint[self.KEY] = {"rng": torch.get_rng_state()}

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        saved = checkpoint.get(self.KEY)
        self._pending = None if saved is None else saved["rng"]


def inside_epoch(trainer: pl.Trainer) -> bool:
    """Whether a checkpoint saved now is one inside an epoch (not after its last batch)."""
    loop = trainer.fit_loop.epoch_loop
    return trainer.state.fn == "fit" and not loop.batch_progress.is_last_batch


def best_checkpointing(directory: Path, *, monitor: str, mode: str) -> ModelCheckpoint:
    """The best validation's weights. A whole checkpoint, though only its weights are read:
    Lightning's weights-only checkpoints skip the callbacks, so they would hold the raw weights
    instead of the average `trainer.ema_decay` validates."""
    return MovableCheckpoint(
        dirpath=directory,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
    )


class EpochEndSchedulers(pl.Callback):
    """Steps the per-epoch plateau schedulers (`ReduceLROnPlateau`, which follows the epoch's
    validation) in `on_train_epoch_end`, before the epoch checkpoint is saved, instead of after
    every callback as Lightning does. A checkpoint saved at the end of an epoch then holds the
    LR of the next one: Lightning does not redo the step of an epoch it resumes after, so
    otherwise a resumed run would train one LR drop behind. (Lightning steps the other
    per-epoch schedulers after the epoch's last batch, before validating: already in time.)"""

    HELD = "epoch (textseq)"  # an interval Lightning never steps

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for config in trainer.lr_scheduler_configs:
            if config.interval == "epoch" and config.reduce_on_plateau:
                config.interval = self.HELD

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        held = [c for c in trainer.lr_scheduler_configs if c.interval == self.HELD]
        for config in held:
            config.interval = "epoch"
        try:
            trainer.fit_loop.epoch_loop.update_lr_schedulers(
                "epoch", update_plateau_schedulers=True
            )
        finally:
            for config in held:
                config.interval = self.HELD


class NonFiniteGuard(pl.Callback):
    """Stops training at the first non-finite loss or gradient norm, naming the step and the
    config keys that usually cause it, so no diverged model is ever published."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not torch.isfinite(loss).all():
            raise diverged(trainer, f"the training loss is {float(loss)}")

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            if not torch.isfinite(norm):
                raise diverged(trainer, f"the gradient norm is {float(norm)}")


def diverged(trainer: pl.Trainer, what: str) -> TextseqError:
    lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
    return TextseqError(
        f"training diverged at step {trainer.global_step + 1} (epoch {trainer.current_epoch + 1}):"
        f" {what}; nothing was published. Likely causes: optim.lr ({lr:g}) too high, "
        "optim.class_weights not positive, optim.grad_clip_norm unset, precision"
    )


def check_finite(model: torch.nn.Module) -> None:
    """TextseqError naming the first weight holding NaN or infinity."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise TextseqError(f"the trained weight {name} is not finite; nothing was published")


def resumable_checkpoint(directory: Path) -> Path | None:
    """The newest complete resumable checkpoint in `directory` (a `.ckpt` directory), or None:
    `epoch=E.ckpt` (after epoch E) comes after every `epoch=E-step=S.ckpt` (inside it).

    A file that is not a whole zip archive (truncated by a full disk in an older textseq, or
    by a copy) is skipped with a warning; nothing is unpickled to check it."""
    candidates = []
    for path in directory.glob("epoch=*.ckpt"):
        epoch, _, step = path.stem.removeprefix("epoch=").partition("-step=")
        if epoch.isdigit() and (step.isdigit() or not step):
            candidates.append(((int(epoch), int(step) if step else math.inf), path))
    for _, path in sorted(candidates, reverse=True):
        if _is_whole_archive(path):
            return path
        log.warning("skipping the damaged checkpoint %s", path)
    return None


def _is_whole_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def refused_checkpoint(path: str | Path, error: BaseException) -> TextseqError:
    """The clear error for a checkpoint `torch.load(weights_only=True)` refuses."""
    return ModelDirError(
        f"{path} holds objects other than tensors and plain data, which textseq does not "
        f"unpickle; it was not loaded ({str(error).splitlines()[0]})"
    )


# --- the lock on a run's directories ------------------------------------------------------


class RunLock:
    """`DIR.lock` holding the PID of the process writing `DIR`, `DIR.partial` and `DIR.ckpt`.
    A second run on the same `DIR` is refused; the lock of a process that no longer runs is
    taken over with a message."""

    def __init__(self, final: Path):
        self.path = final.with_name(final.name + ".lock")
        self.held = False

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise unwritable(self.path.parent, error) from None
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _lock_owner(self.path)
                if owner is not None and owner != os.getpid() and _alive(owner):
                    raise ConfigError(
                        f"{self.path.with_suffix('')} is being written by process {owner} "
                        f"(lock {self.path}); wait for it or choose another --out"
                    ) from None
                log.warning(
                    "taking over %s, left by process %s, which no longer runs", self.path, owner
                )
                self.path.unlink(missing_ok=True)
                continue
            except OSError as error:
                raise unwritable(self.path.parent, error) from None
            with os.fdopen(handle, "w") as file:
                file.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise ConfigError(f"cannot take the lock {self.path}")

    def __exit__(self, *exc: object) -> None:
        if self.held and _lock_owner(self.path) == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False


def _lock_owner(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unwritable(path: Path, error: OSError) -> ConfigError:
    """The clear error for an output that cannot be written (read-only, full, not a dir)."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    hint = "; free some space" if error.errno == errno.ENOSPC else ""
    return ConfigError(f"cannot write to {path}: {reason}{hint}")


# --- what a resumed run may change ---------------------------------------------------------

# Keys a resumed run may set to new values: they change how training goes on, not what the
# checkpoint's model and data are.
RESUMABLE_OVERRIDES = (
    "optim.lr",
    "optim.lr_factor",
    "optim.lr_patience",
    "optim.lr_decay_after",
    "trainer.early_stopping_patience",
    "trainer.max_epochs",
    "trainer.val_check_interval",
    "trainer.threads",
    "trainer.progress_bar",
    "trainer.log_every_n_steps",
)


def check_resume_overrides(saved: Any, cfg: Any) -> dict[str, tuple[Any, Any]]:
    """The keys whose values `cfg` changes from the run's `saved` config, as (old, new), each
    logged; ConfigError listing those not in `RESUMABLE_OVERRIDES`."""
    before, after = _flat(saved.model_dump(mode="json")), _flat(cfg.model_dump(mode="json"))
    changed = {
        key: (before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }
    refused = [key for key in changed if key not in RESUMABLE_OVERRIDES]
    if refused:
        raise ConfigError(
            f"a resumed run cannot change {', '.join(refused)} (its checkpoint was trained "
            f"with the saved values); it may change {', '.join(RESUMABLE_OVERRIDES)}"
        )
    for key, (old, new) in changed.items():
        log.info("resumed run: %s is %s (was %s)", key, new, old)
    return changed


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class ResumeOverrides(pl.Callback):
    """Applies a resumed run's new LR and schedule settings once Lightning has restored the
    checkpoint's optimiser, scheduler and early-stopping state (which hold the old ones): the
    LR of every parameter group is scaled by new lr / old lr (decays so far kept), the plateau
    schedule takes the new factor and patience, early stopping the new patience."""

    def __init__(self, changed: dict[str, tuple[Any, Any]], optim: Any, patience: int | None):
        self.changed = changed
        self.optim = optim
        self.patience = patience

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if "optim.lr" in self.changed:
            old, new = self.changed["optim.lr"]
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] *= new / old
                    if "initial_lr" in group:
                        group["initial_lr"] *= new / old
            for config in trainer.lr_scheduler_configs:
                if hasattr(config.scheduler, "base_lrs"):
                    config.scheduler.base_lrs = [lr * new / old for lr in config.scheduler.base_lrs]
        for config in trainer.lr_scheduler_configs:
            if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config.scheduler.factor = self.optim.lr_factor
                config.scheduler.patience = self.optim.lr_patience
        if "trainer.early_stopping_patience" in self.changed:
            for callback in trainer.callbacks:
                if isinstance(callback, pl.callbacks.EarlyStopping):
                    callback.patience = self.patience
