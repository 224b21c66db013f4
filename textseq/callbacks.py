"""Lightning callbacks textseq adds to every training run."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning.pytorch as pl
import torch

log = logging.getLogger("textseq")


class EpochSeeding(pl.Callback):
    """Makes every epoch's randomness a function of (seed, epoch) alone.

    At the start of epoch e the torch generator is seeded with `seed + e` and the batch
    sampler is told the epoch, so dropout masks and batch order of a resumed run are those of
    an uninterrupted one.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        torch.manual_seed(self.seed * 7919 + epoch + trainer.global_rank * 104729)
        batch_sampler = getattr(trainer.train_dataloader, "batch_sampler", None)
        if hasattr(batch_sampler, "set_epoch"):
            batch_sampler.set_epoch(epoch)
        dataset = getattr(trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):  # language-model windows (variable BPTT)
            dataset.set_epoch(epoch)


class MetricsHistory(pl.Callback):
    """Keeps each epoch's logged metrics (and learning rate), and every validation's metrics
    with the fraction of training done (`epoch` 1.5 is halfway through the second epoch);
    saved in checkpoints so a resumed run's history is complete."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self.validations: list[dict[str, float]] = []
        self._earlier_seconds = 0.0  # training time of the invocations a resumed run continues
        self._started: float | None = None

    @property
    def train_seconds(self) -> float:
        """Wall-clock seconds spent in `fit`, summed over every invocation of a resumed run
        (up to the checkpoint it resumed from)."""
        running = 0.0 if self._started is None else time.perf_counter() - self._started
        return self._earlier_seconds + running

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        batches_done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        epoch = trainer.current_epoch + batches_done / max(trainer.num_training_batches, 1)
        row: dict[str, float] = {"epoch": round(epoch, 3)}
        for name, value in sorted(trainer.callback_metrics.items()):
            if name.startswith("val_"):
                row[name] = _finite(value)
        self.validations.append(row)
        if trainer.is_global_zero and batches_done < trainer.num_training_batches:
            shown = " ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
            log.info("epoch %.2f: %s", epoch, shown)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1}
        for name, value in sorted(trainer.callback_metrics.items()):
            if name.endswith("_step"):
                continue
            row[name.removesuffix("_epoch")] = _finite(value)
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.epochs.append(row)
        if trainer.is_global_zero:
            shown = " ".join(
                f"{name} {value:.4g}" for name, value in row.items() if name != "epoch"
            )
            log.info("epoch %d/%d: %s", row["epoch"], trainer.max_epochs, shown)

    def state_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "validations": self.validations,
            "train_seconds": self.train_seconds,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict["epochs"])
        self.validations = list(state_dict.get("validations", []))
        # Restored before or after on_fit_start: either way only this invocation's time runs on.
        self._earlier_seconds = float(state_dict.get("train_seconds", 0.0))
        if self._started is not None:
            self._started = time.perf_counter()


def _finite(value: Any) -> float:
    number = float(value.item() if isinstance(value, torch.Tensor) else value)
    return number if math.isfinite(number) else float("nan")
