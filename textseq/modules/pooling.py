"""Pooling: a sequence of states to one vector, never counting padding.

Every pooling takes `(states (B, T, H), mask (B, T))` and returns `(pooled (B, H'), weights)`,
where `weights` is `(B, T)`, sums to 1 over real tokens and says how much each token
contributed, or is None for poolings that have no such weights (last, mean, max, mean_max).
`mean_max` returns twice the width (H' = 2H); every other pooling keeps it (H' = H).
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    scaled_dot_product_attention,
)

POOLINGS = ("last", "mean", "max", "mean_max", "attention", "self_attention", "multihead", "cls")


class LastStatePooling(nn.Module):
    """The final state of each direction of the top layer: the forward direction's state at
    the last real token, and for a bidirectional encoder the backward direction's state at the
    first token (where the backward pass ends). Taking `states[:, -1]` instead, as course notes
    often do, reads padding for every sequence shorter than the batch and the backward
    direction's state after a single token."""

    def __init__(self, *, bidirectional: bool):
        super().__init__()
        self.bidirectional = bidirectional

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        lengths = mask.sum(dim=1)  # (B,)
        rows = torch.arange(states.size(0), device=states.device)
        last = states[rows, lengths - 1]  # (B, H)
        if not self.bidirectional:
            return last, None
        half = states.size(-1) // 2
        forward_final = last[:, :half]  # (B, H/2)
        backward_final = states[:, 0, half:]  # (B, H/2)
        return torch.cat([forward_final, backward_final], dim=-1), None  # (B, H)


class ClsPooling(nn.Module):
    """The state at position 0, where Transformer classifiers put a `[CLS]` token whose
    self-attention gathers the sentence (Devlin et al. 2019, section 3)."""

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        return states[:, 0], None  # (B, H)


class MeanPooling(nn.Module):
    """The average over real tokens only."""

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        weights = mask.to(states.dtype).unsqueeze(-1)  # (B, T, 1)
        total = (states * weights).sum(dim=1)  # (B, H)
        return total / weights.sum(dim=1).clamp(min=1.0), None  # (B, H)


class MaxPooling(nn.Module):
    """The element-wise maximum over real tokens only."""

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        lowest = torch.finfo(states.dtype).min
        masked = states.masked_fill(~mask.unsqueeze(-1), lowest)  # (B, T, H)
        return masked.max(dim=1).values, None  # (B, H)


class MeanMaxPooling(nn.Module):
    """The mean and the maximum over real tokens, concatenated (SWEM-concat, Shen et al.
    2018, section 3.2): the average says what the text is about, the maximum which features
    any word has strongly."""

    def __init__(self):
        super().__init__()
        self.mean = MeanPooling()
        self.max = MaxPooling()

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        mean, _ = self.mean(states, mask)  # (B, H)
        top, _ = self.max(states, mask)  # (B, H)
        return torch.cat([mean, top], dim=-1), None  # (B, 2H)


def pooled_size(kind: str, input_dim: int) -> int:
    """The width of what the pooling named `kind` returns for states of width `input_dim`."""
    return 2 * input_dim if kind == "mean_max" else input_dim


class AttentionPooling(nn.Module):
    """A weighted average of the states, weights from additive attention with a learned
    context vector (Yang et al. 2016; the score of Bahdanau et al. 2015 without a query)."""

    def __init__(self, *, input_dim: int, attention_dim: int):
        super().__init__()
        self.attention = AdditiveAttention(key_dim=input_dim, attention_dim=attention_dim)

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attention(states, mask)  # (B, H), (B, T)


class SelfAttentionPooling(nn.Module):
    """Scaled dot-product self-attention of the states over themselves, then the masked mean.

    The returned weight of token j is the attention it receives, averaged over the real query
    positions, so it sums to 1 over the real tokens.
    """

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = scaled_dot_product_attention(
            states, states, states, mask.unsqueeze(1)
        )  # (B, T, H), (B, T, T)
        query_weights = mask.to(states.dtype)  # (B, T)
        query_weights = query_weights / query_weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        pooled = torch.bmm(query_weights.unsqueeze(1), attended).squeeze(1)  # (B, H)
        received = torch.bmm(query_weights.unsqueeze(1), weights).squeeze(1)  # (B, T)
        return pooled, received


class MultiheadAttentionPooling(nn.Module):
    """Multi-head attention from one learned query to the states (as in Set Transformer's
    pooling by multi-head attention, Lee et al. 2019). The returned weights are the heads'
    average."""

    def __init__(self, *, input_dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, input_dim) * input_dim**-0.5)  # (1, 1, H)
        self.attention = MultiHeadAttention(
            embed_dim=input_dim, num_heads=num_heads, dropout=dropout
        )

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        query = self.query.expand(states.size(0), -1, -1)  # (B, 1, H)
        pooled, weights = self.attention(query, states, states, key_mask=mask)
        # pooled (B, 1, H), weights (B, N, 1, T)
        return pooled.squeeze(1), weights.squeeze(2).mean(dim=1)  # (B, H), (B, T)


def build_pooling(
    kind: str, *, input_dim: int, bidirectional: bool, attention_dim: int, num_heads: int
) -> nn.Module:
    """The pooling named `kind` for states of width `input_dim`."""
    if kind == "last":
        return LastStatePooling(bidirectional=bidirectional)
    if kind == "mean":
        return MeanPooling()
    if kind == "max":
        return MaxPooling()
    if kind == "mean_max":
        return MeanMaxPooling()
    if kind == "attention":
        return AttentionPooling(input_dim=input_dim, attention_dim=attention_dim)
    if kind == "self_attention":
        return SelfAttentionPooling()
    if kind == "multihead":
        return MultiheadAttentionPooling(input_dim=input_dim, num_heads=num_heads)
    if kind == "cls":
        return ClsPooling()
    raise ValueError(f"pooling ({kind!r}) must be one of {', '.join(POOLINGS)}")
