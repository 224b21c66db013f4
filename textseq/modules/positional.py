"""Position information for attention, which by itself is blind to word order.

- `SinusoidalPositionalEncoding`: fixed sines and cosines, Vaswani et al. 2017, section 3.5.
- `LearnedPositionalEmbedding`: one trained vector per position (Gehring et al. 2017, BERT).

Both add the position vectors to their input and take an `offset`, the position of the first
step of `x` (for incremental decoding, where one step is fed at a time).

Shapes: B batch, T sequence length, E model dimension, L maximum length.
"""

from __future__ import annotations

import math

import torch
from torch import nn

POSITIONALS = ("sinusoidal", "learned", "none")


class SinusoidalPositionalEncoding(nn.Module):
    """Vaswani et al. 2017, section 3.5:

        PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
        PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

    The table is a buffer computed once for `max_length` positions and not saved with the
    weights (`persistent=False`), so a longer table can be built without invalidating them.
    """

    def __init__(self, *, dim: int, max_length: int = 5000):
        super().__init__()
        if dim < 1 or max_length < 1:
            raise ValueError(f"dim ({dim}) and max_length ({max_length}) must be positive")
        position = torch.arange(max_length, dtype=torch.float).unsqueeze(1)  # (L, 1)
        inverse_frequency = torch.exp(
            torch.arange(0, dim, 2, dtype=torch.float) * (-math.log(10000.0) / dim)
        )  # (ceil(E/2),)
        table = torch.zeros(max_length, dim)  # (L, E)
        table[:, 0::2] = torch.sin(position * inverse_frequency)
        table[:, 1::2] = torch.cos(position * inverse_frequency[: dim // 2])
        self.register_buffer("table", table, persistent=False)  # (L, E)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x: (B, T, E) -> x + PE[offset : offset + T], (B, T, E)."""
        end = offset + x.size(1)
        if end > self.table.size(0):
            raise ValueError(
                f"positions up to {end} requested but the table holds {self.table.size(0)} "
                "(raise max_length)"
            )
        return x + self.table[offset:end].to(x.dtype)  # (B, T, E)


class LearnedPositionalEmbedding(nn.Module):
    """A trained vector per position, added to the input (as in BERT and ConvS2S)."""

    def __init__(self, *, dim: int, max_length: int = 512):
        super().__init__()
        if dim < 1 or max_length < 1:
            raise ValueError(f"dim ({dim}) and max_length ({max_length}) must be positive")
        self.embedding = nn.Embedding(max_length, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x: (B, T, E) -> x + P[offset : offset + T], (B, T, E)."""
        end = offset + x.size(1)
        if end > self.embedding.num_embeddings:
            raise ValueError(
                f"positions up to {end} requested but only {self.embedding.num_embeddings} "
                "are learned (raise max_length, or truncate with data.max_length)"
            )
        positions = torch.arange(offset, end, device=x.device)  # (T,)
        return x + self.embedding(positions)  # (B, T, E)


class NoPositionalEncoding(nn.Module):
    """Adds nothing: for models that get word order from elsewhere (or ablations)."""

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return x


def build_positional(kind: str, *, dim: int, max_length: int) -> nn.Module:
    """`sinusoidal`, `learned`, or `none` (identity, for models that get order elsewhere)."""
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(dim=dim, max_length=max_length)
    if kind == "learned":
        return LearnedPositionalEmbedding(dim=dim, max_length=max_length)
    if kind == "none":
        return NoPositionalEncoding()
    raise ValueError(f"positional ({kind!r}) must be one of {', '.join(POSITIONALS)}")
