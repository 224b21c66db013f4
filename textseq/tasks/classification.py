"""The classification system: a `TextClassifier` plus its loss, metrics and optimiser."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from textseq.data.batching import TextBatch

MONITOR_MODES = {"val_acc": "max", "val_f1": "max", "val_loss": "min"}


class ClassificationTask(pl.LightningModule):
    """Trains a classifier with cross-entropy (optionally class-weighted); reports loss,
    accuracy and macro-F1 for training and validation; Adam or AdamW with ReduceLROnPlateau
    on the monitored validation metric."""

    def __init__(
        self,
        model: nn.Module,
        *,
        num_labels: int,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        embedding_lr_scale: float = 1.0,
        backbone_lr: float | None = None,
        weight_decay: float = 0.0,
        lr_factor: float = 0.5,
        lr_patience: int = 1,
        monitor: str = "val_acc",
        class_weights: torch.Tensor | None = None,
    ):
        super().__init__()
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer ({optimizer!r}) must be 'adam' or 'adamw'")
        if monitor not in MONITOR_MODES:
            raise ValueError(f"monitor ({monitor!r}) must be one of {', '.join(MONITOR_MODES)}")
        self.model = model
        self.optimizer_name = optimizer
        self.lr = lr
        self.embedding_lr_scale = embedding_lr_scale
        self.backbone_lr = backbone_lr
        self.weight_decay = weight_decay
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.monitor = monitor
        self.loss = nn.CrossEntropyLoss(weight=class_weights)
        metrics = dict(task="multiclass", num_classes=num_labels)
        self.train_acc = torchmetrics.Accuracy(**metrics)
        self.val_acc = torchmetrics.Accuracy(**metrics)
        self.val_f1 = torchmetrics.F1Score(average="macro", **metrics)

    def forward(self, batch: TextBatch):
        return self.model(batch.token_ids, batch.lengths)

    def training_step(self, batch: TextBatch, batch_index: int) -> torch.Tensor:
        logits = self(batch).logits  # (B, C)
        loss = self.loss(logits.float(), batch.labels)
        self.train_acc(logits, batch.labels)
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
        optimizer_class = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
        optimizer = optimizer_class(
            self._parameter_groups(), lr=self.lr, weight_decay=self.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=MONITOR_MODES[self.monitor],
            factor=self.lr_factor,
            patience=self.lr_patience,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor, "interval": "epoch"},
        }

    def _parameter_groups(self) -> list[dict]:
        """Trainable parameters in up to three groups: the head and everything else at `lr`;
        a pretrained encoder (the model's `backbone`) at `backbone_lr` (default `lr`); the
        embedding table at its group's LR times `embedding_lr_scale`. ReduceLROnPlateau
        scales all groups alike."""
        embedding = getattr(self.model, "embedding", None)
        backbone = getattr(self.model, "backbone", None)
        embedding_ids = _ids(embedding)
        backbone_ids = _ids(backbone)
        backbone_lr = self.lr if self.backbone_lr is None else self.backbone_lr
        embedding_lr = (backbone_lr if embedding_ids <= backbone_ids else self.lr) * (
            self.embedding_lr_scale
        )
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in trainable if id(p) not in embedding_ids | backbone_ids]},
            {
                "params": [p for p in trainable if id(p) in backbone_ids - embedding_ids],
                "lr": backbone_lr,
            },
            {"params": [p for p in trainable if id(p) in embedding_ids], "lr": embedding_lr},
        ]
        return [group for group in groups if group["params"]]


def _ids(module: object) -> set[int]:
    """The ids of `module`'s parameters (empty when it is not a module)."""
    return {id(p) for p in module.parameters()} if isinstance(module, nn.Module) else set()
