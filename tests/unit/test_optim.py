"""The optimiser factory: parameter groups, and Adam's fused kernel giving the plain update."""

import pytest
import torch
from torch import nn

from textseq.optim import build_optimizer


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
