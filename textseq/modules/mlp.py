"""The classification head."""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """Linear -> ReLU -> dropout -> linear to logits; `hidden_dim=0` makes it one linear layer.

    (B, input_dim) -> (B, num_outputs)
    """

    def __init__(
        self, *, input_dim: int, num_outputs: int, hidden_dim: int = 0, dropout: float = 0.0
    ):
        super().__init__()
        if num_outputs < 2:
            raise ValueError(f"num_outputs ({num_outputs}) must be at least 2")
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden_dim > 0:
            layers += [nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout)]
            input_dim = hidden_dim
        layers.append(nn.Linear(input_dim, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
