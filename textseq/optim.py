"""Optimisers shared by every task: Adam, AdamW, SGD (plain, with momentum or Nesterov
momentum) or RMSprop, over parameter groups in which the embedding table may learn at its own
rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from textseq.config.sections import OptimConfig

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
# Whether a larger value of each monitored validation metric is better (max) or worse (min).
MONITOR_MODES = {"val_acc": "max", "val_f1": "max", "val_loss": "min", "val_bleu": "max"}


@dataclass(frozen=True, kw_only=True)
class OptimSettings:
    """What every task's system optimises with: the optimiser of `build_optimizer` and the
    learning-rate schedule of `build_scheduler`, which follows the validation metric
    `monitor`. The names are the config's (`optim.*`, `trainer.monitor`)."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    embedding_lr_scale: float = 1.0
    backbone_lr: float | None = None
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    lr_factor: float = 0.5
    lr_patience: int = 1
    lr_decay_after: int | None = None
    warmup_steps: int = 0
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer ({self.optimizer!r}) must be one of {', '.join(OPTIMIZERS)}"
            )
        if self.monitor not in MONITOR_MODES:
            raise ValueError(
                f"monitor ({self.monitor!r}) must be one of {', '.join(MONITOR_MODES)}"
            )

    @classmethod
    def from_config(
        cls, optim: OptimConfig, *, monitor: str, warmup_steps: int = 0
    ) -> OptimSettings:
        """The settings of a config's `optim` section and `trainer.monitor` (`warmup_steps`:
        translation's `optim.warmup_steps`, which the shared section does not have)."""
        return cls(
            optimizer=optim.optimizer,
            lr=optim.lr,
            embedding_lr_scale=optim.embedding_lr_scale,
            backbone_lr=optim.backbone_lr,
            weight_decay=optim.weight_decay,
            momentum=optim.momentum,
            nesterov=optim.nesterov,
            lr_factor=optim.lr_factor,
            lr_patience=optim.lr_patience,
            lr_decay_after=optim.lr_decay_after,
            warmup_steps=warmup_steps,
            monitor=monitor,
        )


def build_optimizer(
    model: nn.Module,
    *,
    name: str,
    lr: float,
    embedding_lr_scale: float = 1.0,
    backbone_lr: float | None = None,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
    mixed_precision: bool = False,
) -> torch.optim.Optimizer:
    """`name` over `model`'s trainable parameters in up to three groups: everything else (the
    head, a recurrent encoder) at `lr`; a pretrained encoder (`model.backbone`, if any) at
    `backbone_lr` (default `lr`); the embedding table (`model.embedding`, if any) at its
    group's LR times `embedding_lr_scale`. A weight shared by the embedding and another layer
    (tied weights) is counted once, in the embedding's group.

    Adam and AdamW run their fused kernel (one pass over each tensor instead of a chain of
    element-wise ops) when every parameter is a float tensor on the CPU or a GPU and training
    is not `mixed_precision` (Lightning refuses to clip gradients for a fused optimiser under
    autocast, see `is_mixed_precision`): the same update, in much less time when a large
    embedding table trains (benchmarks/results/notebook.md, "Training throughput").

    `momentum` is SGD's and RMSprop's (RMSprop: decay 0.99, PyTorch's default alpha);
    `nesterov` SGD's, with a momentum."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer ({name!r}) must be one of {', '.join(OPTIMIZERS)}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum ({momentum}) must be in [0, 1)")
    if nesterov and (name != "sgd" or momentum == 0):
        raise ValueError(f"nesterov needs sgd with a momentum, got {name!r}, {momentum}")
    embedding_ids = _parameter_ids(getattr(model, "embedding", None))
    backbone_ids = _parameter_ids(getattr(model, "backbone", None))
    backbone_lr = lr if backbone_lr is None else backbone_lr
    in_backbone = bool(embedding_ids) and embedding_ids <= backbone_ids
    embedding_lr = (backbone_lr if in_backbone else lr) * embedding_lr_scale
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in embedding_ids | backbone_ids]},
        {
            "params": [p for p in trainable if id(p) in backbone_ids - embedding_ids],
            "lr": backbone_lr,
        },
        {"params": [p for p in trainable if id(p) in embedding_ids], "lr": embedding_lr},
    ]
    groups = [group for group in groups if group["params"]]
    optimizer_class = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
        "rmsprop": torch.optim.RMSprop,
    }[name]
    options: dict = {}
    if name == "sgd":
        options = {"momentum": momentum, "nesterov": nesterov}
    elif name == "rmsprop":
        options = {"momentum": momentum}
    if (
        name in ("adam", "adamw")
        and not mixed_precision
        and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in trainable)
    ):
        options = {"fused": True}
    return optimizer_class(groups, lr=lr, weight_decay=weight_decay, **options)


def is_mixed_precision(task: nn.Module) -> bool:
    """True when the LightningModule `task` trains under autocast (`16-mixed`, `bf16-mixed`),
    where Lightning unscales and clips the gradients itself and so cannot use a fused
    optimiser."""
    trainer = getattr(task, "_trainer", None)
    return trainer is not None and "mixed" in str(trainer.precision)


def _parameter_ids(module: object) -> set[int]:
    """The ids of `module`'s parameters (empty when it is not a module)."""
    return {id(p) for p in module.parameters()} if isinstance(module, nn.Module) else set()


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    monitor: str,
    mode: str,
    factor: float,
    patience: int,
    decay_after: int | None = None,
    warmup_steps: int = 0,
) -> dict:
    """Lightning's scheduler entry, stepped once per epoch.

    `decay_after` None: ReduceLROnPlateau on `monitor` (multiply by `factor` after `patience`
    epochs without improvement). `decay_after` N: the fixed schedule of Zaremba et al. (2014,
    section 4.1): the LR is kept for N epochs, then multiplied by `factor` after every epoch.
    `warmup_steps` W > 0 (Transformers): stepped every optimiser step s = 1, 2, ..., the LR is
    lr * min(s / W, sqrt(W / s)): a linear warm-up to lr, then inverse-square-root decay. This
    is Vaswani et al. (2017, eq. 3), d_model^-0.5 * min(s^-0.5, s * W^-1.5), with the peak
    d_model^-0.5 * W^-0.5 set to lr.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be non-negative")
    if warmup_steps > 0:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: min((step + 1) / warmup_steps, (warmup_steps / (step + 1)) ** 0.5),
        )
        return {"scheduler": scheduler, "interval": "step"}
    if decay_after is None:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=factor, patience=patience
        )
        return {"scheduler": scheduler, "monitor": monitor, "interval": "epoch"}
    if decay_after < 0:
        raise ValueError(f"decay_after ({decay_after}) must be non-negative")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda epoch: factor ** max(0, epoch - decay_after + 1)
    )
    return {"scheduler": scheduler, "interval": "epoch"}


def configure_task_optimizers(task: nn.Module, settings: OptimSettings) -> dict:
    """What every task's `configure_optimizers` returns: `build_optimizer` over `task.model`
    and `build_scheduler`, both as `settings` say, the optimiser unfused when the
    LightningModule `task` trains under mixed precision (`is_mixed_precision`)."""
    optimizer = build_optimizer(
        task.model,
        name=settings.optimizer,
        lr=settings.lr,
        embedding_lr_scale=settings.embedding_lr_scale,
        backbone_lr=settings.backbone_lr,
        weight_decay=settings.weight_decay,
        momentum=settings.momentum,
        nesterov=settings.nesterov,
        mixed_precision=is_mixed_precision(task),
    )
    scheduler = build_scheduler(
        optimizer,
        monitor=settings.monitor,
        mode=MONITOR_MODES[settings.monitor],
        factor=settings.lr_factor,
        patience=settings.lr_patience,
        decay_after=settings.lr_decay_after,
        warmup_steps=settings.warmup_steps,
    )
    return {"optimizer": optimizer, "lr_scheduler": scheduler}
