"""Attention mechanisms. Every one returns `(context, weights)`.

Notation for tensor shapes:
    B  batch size
    Tq number of query positions, Tk number of key positions (T when they are the same)
    E  model (embedding) dimension, K key dimension, A attention dimension
    N  number of heads, Dh = E // N dimension per head

Masks are boolean and True where a position may be attended to (a real token). A query whose
keys are all masked gets all-zero weights and a zero context, never NaN.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax over `dim` where masked-out positions get exactly zero weight.

    Masked scores are set to the dtype's lowest finite value rather than -inf, so a fully
    masked row yields a uniform distribution (not NaN), which the final multiplication by the
    mask turns into zeros; gradients stay finite.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=dim) * mask


class AdditiveAttention(nn.Module):
    """Additive (concat) attention, Bahdanau et al. 2015, eq. (6) and appendix A.1.2:

        e_j = v^T tanh(W q + U k_j),   alpha = softmax(e),   context = sum_j alpha_j k_j

    With no query (`query=None`) the score is `v^T tanh(U k_j + b)`, the learned-context
    attention of Yang et al. 2016 (HAN, eq. 5-7) used for attention pooling.
    """

    def __init__(self, *, key_dim: int, attention_dim: int, query_dim: int | None = None):
        super().__init__()
        self.key_projection = nn.Linear(key_dim, attention_dim, bias=True)  # U (and b)
        self.query_projection = (
            nn.Linear(query_dim, attention_dim, bias=False) if query_dim is not None else None
        )  # W
        self.energy = nn.Linear(attention_dim, 1, bias=False)  # v

    def forward(
        self,
        keys: torch.Tensor,  # (B, Tk, K)
        mask: torch.Tensor | None = None,  # (B, Tk)
        query: torch.Tensor | None = None,  # (B, Q)
        values: torch.Tensor | None = None,  # (B, Tk, V), defaults to keys
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.key_projection(keys)  # (B, Tk, A)
        if query is not None:
            if self.query_projection is None:
                raise ValueError("this AdditiveAttention was built without query_dim")
            hidden = hidden + self.query_projection(query).unsqueeze(1)  # (B, Tk, A)
        scores = self.energy(torch.tanh(hidden)).squeeze(-1)  # (B, Tk)
        alphas = masked_softmax(scores, mask)  # (B, Tk)
        values = keys if values is None else values
        context = torch.bmm(alphas.unsqueeze(1), values).squeeze(1)  # (B, V)
        return context, alphas


def scaled_dot_product_attention(
    q: torch.Tensor,  # (..., Tq, Dh)
    k: torch.Tensor,  # (..., Tk, Dh)
    v: torch.Tensor,  # (..., Tk, Dv)
    mask: torch.Tensor | None = None,  # broadcastable to (..., Tq, Tk)
    dropout: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vaswani et al. 2017, eq. (1): softmax(q k^T / sqrt(d_k)) v."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., Tq, Tk)
    weights = masked_softmax(scores, mask)  # (..., Tq, Tk)
    attended = weights if dropout is None else dropout(weights)
    return attended @ v, weights  # (..., Tq, Dv), (..., Tq, Tk)


class MultiHeadAttention(nn.Module):
    """Multi-head attention, Vaswani et al. 2017, section 3.2.2:

        MultiHead(Q, K, V) = Concat(head_1, ..., head_N) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    Weights are laid out as in `torch.nn.MultiheadAttention` (`in_proj` rows q, k, v), so one
    can be copied into the other.
    """

    def __init__(self, *, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, N, T, Dh)

    def forward(
        self,
        query: torch.Tensor,  # (B, Tq, E)
        key: torch.Tensor,  # (B, Tk, E)
        value: torch.Tensor,  # (B, Tk, E)
        key_mask: torch.Tensor | None = None,  # (B, Tk), True at real keys
        attn_mask: torch.Tensor | None = None,  # (Tq, Tk), True where allowed (e.g. causal)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, tq, _ = query.shape
        q = self._split_heads(self.q_proj(query))  # (B, N, Tq, Dh)
        k = self._split_heads(self.k_proj(key))  # (B, N, Tk, Dh)
        v = self._split_heads(self.v_proj(value))  # (B, N, Tk, Dh)
        mask = None
        if key_mask is not None:
            mask = key_mask[:, None, None, :]  # (B, 1, 1, Tk)
        if attn_mask is not None:
            mask = attn_mask if mask is None else mask & attn_mask  # (B, 1, Tq, Tk)
        context, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        context = context.transpose(1, 2).reshape(b, tq, self.embed_dim)  # (B, Tq, E)
        return self.out_proj(context), weights  # (B, Tq, E), (B, N, Tq, Tk)
