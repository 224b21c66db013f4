"""The optimiser factory: parameter groups, and Adam's fused kernel giving the plain update."""

import re

import pytest
import torch
from torch import nn

from textseq.errors import ConfigError
from textseq.optim import OptimSettings, build_optimizer, configure_task_optimizers
from textseq.tasks import load_config
from textseq.tasks.lm.system import LanguageModelTask


class TinyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids).mean(dim=1))  # (B, 3)


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 5) -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        ids = torch.randint(0, 20, (8, 5), generator=generator)
        labels = torch.randint(0, 3, (8,), generator=generator)
        loss = nn.functional.cross_entropy(model(ids), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_runs_fused_and_updates_like_the_plain_loop(name):
    torch.manual_seed(0)
    fused_model = TinyModel()
    plain_model = TinyModel()
    plain_model.load_state_dict(fused_model.state_dict())
    options = dict(name=name, lr=0.01, embedding_lr_scale=0.5, weight_decay=0.01)
    fused = build_optimizer(fused_model, **options)
    assert fused.defaults["fused"] is True
    assert [group["lr"] for group in fused.param_groups] == [0.01, 0.005]
    plain = type(fused)(
        [
            {"params": list(plain_model.head.parameters())},
            {"params": list(plain_model.embedding.parameters()), "lr": 0.005},
        ],
        lr=0.01,
        weight_decay=0.01,
    )
    initial = fused_model.head.weight.detach().clone()
    train_steps(fused_model, fused)
    train_steps(plain_model, plain)
    plain_state = plain_model.state_dict()
    for key, value in fused_model.state_dict().items():
        torch.testing.assert_close(
            value, plain_state[key], msg=f"{key} differs", rtol=1e-5, atol=1e-6
        )
    assert not torch.equal(fused_model.head.weight, initial)  # the steps did update


def test_sgd_is_not_fused():
    optimizer = build_optimizer(TinyModel(), name="sgd", lr=0.1)
    assert not optimizer.defaults.get("fused")


def test_mixed_precision_keeps_adam_unfused():
    # Lightning clips gradients itself under autocast and refuses a fused optimiser there.
    optimizer = build_optimizer(TinyModel(), name="adam", lr=0.1, mixed_precision=True)
    assert not optimizer.defaults.get("fused")


def test_settings_refuse_an_unknown_optimizer_or_monitor_naming_the_choices():
    with pytest.raises(ValueError, match=r"optimizer \('adagrad'\) must be one of adam, adamw"):
        OptimSettings(optimizer="adagrad")
    with pytest.raises(ValueError, match=r"monitor \('val_bpc'\) must be one of val_acc"):
        OptimSettings(monitor="val_bpc")


def test_settings_from_a_config_keep_its_names_and_drive_optimiser_and_schedule():
    cfg = load_config(
        {"task": "translate"},
        ["optim.lr=0.02", "optim.embedding_lr_scale=0.5", "optim.warmup_steps=4"],
    )
    settings = OptimSettings.from_config(
        cfg.optim, monitor=cfg.trainer.monitor, warmup_steps=cfg.optim.warmup_steps
    )
    assert (settings.optimizer, settings.lr, settings.monitor) == ("adam", 0.02, "val_bleu")

    class Task(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = TinyModel()

    configured = configure_task_optimizers(Task(), settings)
    rest, embedding = configured["optimizer"].param_groups
    assert embedding["initial_lr"] == pytest.approx(0.01)
    assert rest["initial_lr"] == pytest.approx(0.02)
    assert configured["lr_scheduler"]["interval"] == "step"  # the warm-up schedule


def test_a_language_model_system_monitors_its_validation_loss_only():
    model = TinyModel()
    with pytest.raises(ValueError, match="a language model monitors val_loss"):
        LanguageModelTask(model, optim=OptimSettings(monitor="val_acc"))


def test_nesterov_sgd_takes_the_look_ahead_step():
    """Sutskever et al. (2013) as PyTorch writes it: v <- mu v + g; p <- p - lr (g + mu v)."""
    weight = nn.Parameter(torch.tensor([1.0, -2.0]))
    model = nn.Module()
    model.weight = weight
    optimizer = build_optimizer(model, name="sgd", lr=0.1, momentum=0.9, nesterov=True)
    expected, velocity = weight.detach().clone(), torch.zeros(2)
    for _ in range(3):
        optimizer.zero_grad()
        (weight**2).sum().backward()  # g = 2 p
        gradient = 2 * expected
        velocity = 0.9 * velocity + gradient
        expected = expected - 0.1 * (gradient + 0.9 * velocity)
        optimizer.step()
        torch.testing.assert_close(weight.detach(), expected)


def test_rmsprop_and_momentum_from_the_config():
    cfg = load_config({"task": "tag"}, ["optim.optimizer=rmsprop", "optim.momentum=0.5"])
    settings = OptimSettings.from_config(cfg.optim, monitor=cfg.trainer.monitor)
    optimizer = build_optimizer(
        TinyModel(), name=settings.optimizer, lr=0.01, momentum=settings.momentum
    )
    assert isinstance(optimizer, torch.optim.RMSprop)
    assert optimizer.defaults["momentum"] == 0.5


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["optim.momentum=0.9"], "optim.momentum: does not apply to optim.optimizer 'adam'"),
        (
            ["optim.optimizer=sgd", "optim.nesterov=true"],
            "optim.nesterov: does not apply to optim.optimizer 'sgd' with optim.momentum 0.0",
        ),
        (["optim.optimizer=sgd", "optim.momentum=1.0"], "optim.momentum"),
    ],
)
def test_momentum_keys_apply_only_where_they_are_read(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({"task": "tag", "optim": {"optimizer": "adam"}}, overrides)
