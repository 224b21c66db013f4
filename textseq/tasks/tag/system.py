"""The tagging system: a `SequenceTagger` plus its loss, metrics and optimiser."""

from __future__ import annotations

from collections.abc import Sequence

import lightning.pytorch as pl
import torch
from torch import nn

from textseq.distributed import gathered
from textseq.modules.token_softmax import TokenSoftmax
from textseq.optim import OptimSettings, configure_task_optimizers
from textseq.tasks.tag.data import TagBatch
from textseq.tasks.tag.metrics import entity_scores, token_accuracy
from textseq.text.tags import convert


class TaggingTask(pl.LightningModule):
    """Trains a tagger with the negative log-likelihood of its output layer (the CRF's
    sequence likelihood, or per-token cross-entropy), averaged over real tokens.

    Logged: train_loss; val_loss, val_acc (token accuracy) and, for entity schemes, val_f1
    (entity-level micro F1 from seqeval, on BIO tags).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        tag_names: Sequence[str],
        scheme: str,
        optim: OptimSettings,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        if label_smoothing > 0 and not isinstance(model.output, TokenSoftmax):
            raise ValueError(f"label_smoothing ({label_smoothing}) needs the softmax output")
        # Training's per-token target is smoothed (Szegedy et al. 2016); validation's is not.
        self.label_smoothing = label_smoothing
        self.model = model
        self.tag_names = list(tag_names)
        self.scheme = scheme
        self.optim = optim
        self._gold: list[list[str]] = []
        self._predicted: list[list[str]] = []
        self._val_loss: list[tuple[float, int]] = []

    def forward(self, batch: TagBatch) -> torch.Tensor:
        return self.model(
            batch.word_ids,
            batch.lengths,
            batch.char_ids,
            batch.casing_ids,
            context=batch.context,
            subwords=batch.subwords,
        )

    def training_step(self, batch: TagBatch, batch_index: int) -> torch.Tensor:
        emissions = self(batch)  # (B, T, K)
        if self.label_smoothing > 0:
            loss = self.model.output.loss(
                emissions, batch.tags, batch.mask, label_smoothing=self.label_smoothing
            )
        else:
            loss = self.model.output.loss(emissions, batch.tags, batch.mask)
        self.log(
            "train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch)
        )
        return loss

    def on_validation_epoch_start(self) -> None:
        self._gold, self._predicted, self._val_loss = [], [], []

    def validation_step(self, batch: TagBatch, batch_index: int) -> None:
        mask = batch.mask  # (B, T)
        emissions = self(batch)  # (B, T, K)
        loss = self.model.output.loss(emissions, batch.tags, mask)
        self._val_loss.append((float(loss), int(mask.sum())))
        paths = self.model.output.decode(emissions, mask)  # (B, T)
        for b, length in enumerate(batch.lengths.tolist()):
            self._gold.append(self.as_bio(batch.tags[b, :length].tolist()))
            self._predicted.append(self.as_bio(paths[b, :length].tolist()))

    def as_bio(self, ids: list[int]) -> list[str]:
        """Tag ids as tag names, entity tags in BIO (plain tags as they are)."""
        names = [self.tag_names[i] for i in ids]
        return (
            names
            if self.scheme in ("plain", "bio")
            else convert(names, source=self.scheme, target="bio")
        )

    def on_validation_epoch_end(self) -> None:
        # Each DDP process validated its share of the batches: score them all, once.
        val_loss, gold, predicted = (
            gathered(x) for x in (self._val_loss, self._gold, self._predicted)
        )
        tokens = sum(n for _, n in val_loss)
        loss = sum(value * n for value, n in val_loss) / max(tokens, 1)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_acc", token_accuracy(gold, predicted), prog_bar=True)
        if self.scheme != "plain":
            self.log("val_f1", entity_scores(gold, predicted)["f1"], prog_bar=True)

    def configure_optimizers(self):
        return configure_task_optimizers(self, self.optim)
