"""Lightning callbacks textseq adds to every training run."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelSummary, TQDMProgressBar, WeightAveraging
from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

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


class AveragedWeights(WeightAveraging):
    """An exponential moving average of the weights, bias-corrected as Adam corrects its
    moments, is what validation scores, checkpoints keep and the model directory holds.

    After optimiser step t with weights w_t the average is

        e_t = sum_{i<=t} (1 - d) d^(t-i) w_i / (1 - d^t),

    kept as e_t = e_(t-1) + (1 - d) / (1 - d^t) (w_t - e_(t-1)), with e_1 = w_1. The plain
    average d e_(t-1) + (1 - d) w_t started at w_1 keeps d^(t-1) of the first, barely trained
    weights (0.37 after 1,000 steps at d = 0.999), so a short run would validate an average
    stuck near its initialisation; the corrected one weighs each step as a run of infinite
    length would, and the two agree once d^t is small.
    """

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay ({decay}) must be in (0, 1)")
        self.decay = decay
        super().__init__(multi_avg_fn=self._step)

    def _step(
        self, averages: list[torch.Tensor], weights: list[torch.Tensor], num_averaged: torch.Tensor
    ) -> None:
        """One update of a group of tensors of one dtype, in place (one fused pass over each:
        this runs after every optimiser step, over every embedding row)."""
        if not averages[0].is_floating_point():  # integer and bool buffers (masks) are copied
            torch._foreach_copy_(averages, weights)
            return
        # `num_averaged` updates came before this one (the first copied w_1): this is t.
        t = int(num_averaged) + 1
        torch._foreach_lerp_(averages, weights, (1.0 - self.decay) / (1.0 - self.decay**t))


class _RichEpochsFromOne(RichProgressBar):
    """Lightning's Rich bar on stderr, counting epochs from 1 as textseq's log lines do."""

    def _get_train_description(self, current_epoch: int) -> str:
        description = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None:
            description += f"/{self.trainer.max_epochs}"
        return f"{description:{len(self.validation_description)}}"


class _TQDMEpochsFromOne(TQDMProgressBar):
    """Lightning's tqdm bar (on stderr), counting epochs from 1 as textseq's log lines do."""

    def on_train_epoch_start(self, trainer: pl.Trainer, *_: Any) -> None:
        super().on_train_epoch_start(trainer)
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}")


def console_callbacks() -> list[pl.Callback]:
    """What a run shows while it trains, all on stderr so that stdout carries only results:
    a progress bar counting epochs from 1 (Rich's bar otherwise writes to stdout and counts
    from 0) and the model summary as a log line of Lightning's logger (Rich's is printed to
    stdout)."""
    bar = _RichEpochsFromOne(console_kwargs={"stderr": True}) if _RICH_AVAILABLE else None
    return [bar or _TQDMEpochsFromOne(), ModelSummary(max_depth=1)]
