"""The classification system: a `TextClassifier` plus its loss, metrics and optimiser."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from textseq.data.batching import TextBatch
from textseq.optim import OptimSettings, configure_task_optimizers
from textseq.tasks.classify.distillation import NO_LABEL, DistillationLoss


class ClassificationTask(pl.LightningModule):
    """Trains a classifier with cross-entropy (optionally class-weighted); reports loss,
    accuracy and macro-F1 for training and validation; optimised as `optim` says (Adam, AdamW
    or SGD, the LR following the monitored validation metric). With `distillation` the
    training loss is that instead (gold cross-entropy mixed with the teacher's logits; texts
    without a gold label, NO_LABEL, count in it but not in train_acc)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        num_labels: int,
        optim: OptimSettings,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        distillation: DistillationLoss | None = None,
    ):
        super().__init__()
        self.model = model
        self.optim = optim
        self.loss = nn.CrossEntropyLoss(weight=class_weights)
        # Training's target is smoothed (Szegedy et al. 2016); validation's stays one-hot.
        self.train_loss = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=label_smoothing)
        self.distillation = distillation
        metrics = dict(task="multiclass", num_classes=num_labels)
        self.train_acc = torchmetrics.Accuracy(**metrics)
        self.val_acc = torchmetrics.Accuracy(**metrics)
        self.val_f1 = torchmetrics.F1Score(average="macro", **metrics)

    def forward(self, batch: TextBatch):
        return self.model(batch.token_ids, batch.lengths)

    def training_step(self, batch: TextBatch, batch_index: int) -> torch.Tensor:
        logits = self(batch).logits  # (B, C)
        if self.distillation is None:
            loss = self.train_loss(logits.float(), batch.labels)
            self.train_acc(logits, batch.labels)
        else:
            loss = self.distillation(logits.float(), batch.labels, batch.index)
            gold = batch.labels != NO_LABEL  # (B,)
            if bool(gold.any()):
                self.train_acc(logits[gold], batch.labels[gold])
        self.log(
            "train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch)
        )
        self.log("train_acc", self.train_acc, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: TextBatch, batch_index: int) -> None:
        logits = self(batch).logits  # (B, C)
        loss = self.loss(logits.float(), batch.labels)
        self.val_acc(logits, batch.labels)
        self.val_f1(logits, batch.labels)
        self.log("val_loss", loss, prog_bar=True, sync_dist=True, batch_size=len(batch))
        self.log("val_acc", self.val_acc, prog_bar=True)
        self.log("val_f1", self.val_f1)

    def configure_optimizers(self):
        return configure_task_optimizers(self, self.optim)
