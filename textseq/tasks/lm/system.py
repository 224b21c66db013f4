"""The language-modelling system: a next-token model plus its loss, perplexity, optimiser and
the recurrent state carried across windows (truncated back-propagation through time)."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from textseq.modules.rnn import detach_state
from textseq.optim import OptimSettings, configure_task_optimizers


class LanguageModelTask(pl.LightningModule):
    """Trains a language model with token-level cross-entropy over contiguous windows.

    Truncated BPTT (Williams and Peng 1990), done here because Lightning 2 no longer does it:
    the state a window ends in starts the next window of the same epoch, detached so that
    gradients stop at the window boundary. Training and validation each carry their own state,
    reset at the start of every epoch.

    With variable window lengths the loss of a window of T tokens is scaled by T / bptt, which
    for SGD is Merity et al.'s (2018) learning rate scaled by the window's length.

    Logged: train_loss; val_loss (mean negative log-likelihood per token, in nats), val_ppl =
    exp(val_loss) and val_bpc = val_loss / ln 2.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optim: OptimSettings,
        bptt: int = 35,
    ):
        super().__init__()
        if optim.monitor != "val_loss":
            raise ValueError(
                f"a language model monitors val_loss (perplexity follows from it), got "
                f"{optim.monitor!r}"
            )
        self.model = model
        self.optim = optim
        self.bptt = bptt
        self.val_nll = torchmetrics.MeanMetric()
        self._train_state = None
        self._val_state = None

    def forward(self, token_ids: torch.Tensor, state=None):
        return self.model(token_ids, state)

    def on_train_epoch_start(self) -> None:
        self._train_state = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        loop = self.trainer.fit_loop.epoch_loop
        if self.trainer.state.fn == "fit" and not loop.batch_progress.is_last_batch:
            checkpoint["lm_train_state"] = self._train_state  # saved inside an epoch

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # A run resumed inside an epoch (where Lightning calls no on_train_epoch_start) carries
        # on with the state the checkpoint holds.
        self._train_state = checkpoint.get("lm_train_state")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_index: int):
        inputs, targets = batch  # (B, T), (B, T)
        logits, state = self(inputs, self._train_state)  # (B, T, V)
        self._train_state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss * (inputs.size(1) / self.bptt)

    def on_validation_epoch_start(self) -> None:
        self._val_state = None
        self.val_nll.reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_index: int):
        inputs, targets = batch  # (B, T), (B, T)
        logits, self._val_state = self(inputs, self._val_state)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        self.val_nll.update(loss, weight=targets.numel())

    def on_validation_epoch_end(self) -> None:
        nll = self.val_nll.compute()
        self.log("val_loss", nll, prog_bar=True)
        self.log("val_ppl", torch.exp(nll), prog_bar=True)
        self.log("val_bpc", nll / math.log(2))

    def configure_optimizers(self):
        return configure_task_optimizers(self, self.optim)
