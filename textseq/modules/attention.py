"""Attention mechanisms: the one home for attention in textseq. Every one returns
`(context, weights)`.

- `AdditiveAttention`: Bahdanau et al. 2015 (concat/MLP score), also learned-query pooling.
- `LuongAttention`: Luong et al. 2015, section 3.1, `dot`, `general` and `concat` scores.
- `scaled_dot_product_attention`: Vaswani et al. 2017, eq. (1).
- `MultiHeadAttention`: Vaswani et al. 2017, section 3.2.2, with key-padding and causal masks
  and a fused fast path (`need_weights=False`).
- `causal_mask`: the (T, T) lower-triangular mask of autoregressive (decoder) attention.

Notation for tensor shapes:
    B  batch size
    Tq number of query positions, Tk number of key positions (T when they are the same)
    E  model (embedding) dimension, Q query dimension, K key dimension, A attention dimension
    N  number of heads, Dh = E // N dimension per head

Masks are boolean and True where a position may be attended to (a real token; for causal
masks, a position not in the future). A query whose keys are all masked gets all-zero weights
and a zero context, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """U k_j + b, (B, Tk, A): independent of the query, so a decoder that attends to the
        same keys at every step computes it once and passes it as `projected_keys`."""
        return self.key_projection(keys)  # (B, Tk, A)

    def forward(
        self,
        keys: torch.Tensor,  # (B, Tk, K)
        mask: torch.Tensor | None = None,  # (B, Tk)
        query: torch.Tensor | None = None,  # (B, Q)
        values: torch.Tensor | None = None,  # (B, Tk, V), defaults to keys
        projected_keys: torch.Tensor | None = None,  # (B, Tk, A) from `project_keys`
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.project_keys(keys) if projected_keys is None else projected_keys  # (B, Tk, A)
        if query is not None:
            if self.query_projection is None:
                raise ValueError("this AdditiveAttention was built without query_dim")
            hidden = hidden + self.query_projection(query).unsqueeze(1)  # (B, Tk, A)
        scores = self.energy(torch.tanh(hidden)).squeeze(-1)  # (B, Tk)
        alphas = masked_softmax(scores, mask)  # (B, Tk)
        values = keys if values is None else values
        context = torch.bmm(alphas.unsqueeze(1), values).squeeze(1)  # (B, V)
        return context, alphas


LUONG_SCORES = ("dot", "general", "concat")


class LuongAttention(nn.Module):
    """Global attention of Luong et al. 2015, section 3.1, eq. (7)-(8):

        score(h_t, h_s) = h_t^T h_s                        dot
                        = h_t^T W_a h_s                    general
                        = v_a^T tanh(W_a [h_t; h_s])       concat
        a_t = softmax_s(score(h_t, h_s)),   c_t = sum_s a_t(s) h_s

    `query` is one decoder state per example, (B, Q), or several, (B, Tq, Q); the weights and
    context follow its shape. `dot` needs Q == K. The attentional state
    `tanh(W_c [c_t; h_t])` of eq. (5) belongs to the decoder that uses this module.
    """

    def __init__(
        self,
        *,
        query_dim: int,
        key_dim: int,
        score: str = "general",
        attention_dim: int | None = None,
    ):
        super().__init__()
        if score not in LUONG_SCORES:
            raise ValueError(f"score ({score!r}) must be one of {', '.join(LUONG_SCORES)}")
        if score == "dot" and query_dim != key_dim:
            raise ValueError(
                f"the dot score needs query_dim ({query_dim}) equal to key_dim ({key_dim}); "
                "use 'general' to project between them"
            )
        self.score = score
        self.weight = None  # W_a of `general`
        self.concat_projection = None  # W_a of `concat`
        self.energy = None  # v_a of `concat`
        if score == "general":
            self.weight = nn.Linear(key_dim, query_dim, bias=False)  # W_a h_s
        elif score == "concat":
            attention_dim = attention_dim or query_dim
            self.concat_projection = nn.Linear(query_dim + key_dim, attention_dim, bias=False)
            self.energy = nn.Linear(attention_dim, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor | None:
        """W_a h_s (B, Tk, Q) for `general`, the keys themselves for `dot`, None for `concat`:
        the query-independent part of the score, which a decoder attending to the same keys
        at every step computes once and passes as `projected_keys`."""
        if self.score == "general":
            return self.weight(keys)  # (B, Tk, Q)
        return keys if self.score == "dot" else None

    def scores(
        self,
        query: torch.Tensor,  # (B, Tq, Q)
        keys: torch.Tensor,  # (B, Tk, K)
        projected_keys: torch.Tensor | None = None,  # (B, Tk, Q) from `project_keys`
    ) -> torch.Tensor:
        """Unnormalised scores, (B, Tq, Tk)."""
        if self.score in ("dot", "general"):
            if projected_keys is None:
                projected_keys = self.project_keys(keys)  # (B, Tk, Q)
            return query @ projected_keys.transpose(1, 2)  # (B, Tq, Tk)
        tq, tk = query.size(1), keys.size(1)
        pairs = torch.cat(
            [
                query.unsqueeze(2).expand(-1, -1, tk, -1),  # (B, Tq, Tk, Q)
                keys.unsqueeze(1).expand(-1, tq, -1, -1),  # (B, Tq, Tk, K)
            ],
            dim=-1,
        )  # (B, Tq, Tk, Q+K)
        return self.energy(torch.tanh(self.concat_projection(pairs))).squeeze(-1)  # (B, Tq, Tk)

    def forward(
        self,
        query: torch.Tensor,  # (B, Q) or (B, Tq, Q)
        keys: torch.Tensor,  # (B, Tk, K)
        mask: torch.Tensor | None = None,  # (B, Tk)
        values: torch.Tensor | None = None,  # (B, Tk, V), defaults to keys
        projected_keys: torch.Tensor | None = None,  # from `project_keys`
    ) -> tuple[torch.Tensor, torch.Tensor]:
        single = query.dim() == 2
        if single:
            query = query.unsqueeze(1)  # (B, 1, Q)
        scores = self.scores(query, keys, projected_keys)  # (B, Tq, Tk)
        alphas = masked_softmax(scores, None if mask is None else mask.unsqueeze(1))  # (B, Tq, Tk)
        values = keys if values is None else values
        context = alphas @ values  # (B, Tq, V)
        if single:
            return context.squeeze(1), alphas.squeeze(1)  # (B, V), (B, Tk)
        return context, alphas


def causal_mask(size: int, device: torch.device | None = None) -> torch.Tensor:
    """(T, T) bool, True at (i, j) when j <= i: position i may attend to itself and the past."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    q: torch.Tensor,  # (..., Tq, Dh)
    k: torch.Tensor,  # (..., Tk, Dh)
    v: torch.Tensor,  # (..., Tk, Dv)
    mask: torch.Tensor | None = None,  # broadcastable to (..., Tq, Tk)
    dropout: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vaswani et al. 2017, eq. (1): softmax(q k^T / sqrt(d_k)) v.

    Returns the context (..., Tq, Dv) and the weights (..., Tq, Tk), which are the
    pre-dropout probabilities: masked keys get exactly zero, every row with at least one
    allowed key sums to 1.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., Tq, Tk)
    weights = masked_softmax(scores, mask)  # (..., Tq, Tk)
    attended = weights if dropout is None else dropout(weights)
    return attended @ v, weights  # (..., Tq, Dv), (..., Tq, Tk)


class MultiHeadAttention(nn.Module):
    """Multi-head attention, Vaswani et al. 2017, section 3.2.2:

        MultiHead(Q, K, V) = Concat(head_1, ..., head_N) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    Weights are laid out as in `torch.nn.MultiheadAttention` (`in_proj` rows q, k, v), so one
    can be copied into the other. Masks: `key_mask` (B, Tk) hides padding, `attn_mask`
    (Tq, Tk) or (B, Tq, Tk) hides any other pairs, and `causal=True` hides the future (a query
    at position i sees keys 0..i; queries and keys must then be the same length).

    With `need_weights=False` the heads run in PyTorch's fused
    `torch.nn.functional.scaled_dot_product_attention` and the returned weights are None;
    the output is the same as the explicit path's up to floating-point rounding.
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

    def keys_values(
        self, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """key, value: (B, Tk, E) -> the heads' keys K W_i^K and values V W_i^V, each
        (B, N, Tk, Dh): what incremental decoding caches, so each position is projected once."""
        return self._split_heads(self.k_proj(key)), self._split_heads(self.v_proj(value))

    def forward(
        self,
        query: torch.Tensor,  # (B, Tq, E)
        key: torch.Tensor,  # (B, Tk, E)
        value: torch.Tensor,  # (B, Tk, E)
        key_mask: torch.Tensor | None = None,  # (B, Tk), True at real keys
        attn_mask: torch.Tensor | None = None,  # (Tq, Tk) or (B, Tq, Tk), True where allowed
        *,
        causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        k, v = self.keys_values(key, value)  # (B, N, Tk, Dh) each
        return self.attend(
            query, k, v, key_mask, attn_mask, causal=causal, need_weights=need_weights
        )

    def attend(
        self,
        query: torch.Tensor,  # (B, Tq, E)
        k: torch.Tensor,  # (B, N, Tk, Dh) projected keys (`keys_values`)
        v: torch.Tensor,  # (B, N, Tk, Dh) projected values
        key_mask: torch.Tensor | None = None,  # (B, Tk), True at real keys
        attn_mask: torch.Tensor | None = None,  # (Tq, Tk) or (B, Tq, Tk), True where allowed
        *,
        causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`forward` over keys and values already projected (and cached) by `keys_values`.
        Incremental decoding feeds one new query over the cached keys of every earlier
        position and its own, which needs no causal mask: nothing in the cache is in its
        future."""
        b, tq, _ = query.shape
        tk = k.size(2)
        if causal and tq != tk:
            raise ValueError(f"causal attention needs as many queries ({tq}) as keys ({tk})")
        q = self._split_heads(self.q_proj(query))  # (B, N, Tq, Dh)
        mask = None
        if key_mask is not None:
            mask = key_mask[:, None, None, :]  # (B, 1, 1, Tk)
        if attn_mask is not None:
            if attn_mask.dim() == 3:
                attn_mask = attn_mask.unsqueeze(1)  # (B, 1, Tq, Tk)
            mask = attn_mask if mask is None else mask & attn_mask  # (B, 1, Tq, Tk)
        if causal:
            future = causal_mask(tq, device=query.device)  # (Tq, Tk)
            mask = future if mask is None else mask & future  # (B, 1, Tq, Tk)
        if need_weights:
            context, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        else:
            # The fused kernel; with no other mask, its own causal flag skips building one.
            only_causal = causal and key_mask is None and attn_mask is None
            context = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=None if only_causal else mask,
                dropout_p=self.dropout.p if self.training else 0.0,
                is_causal=only_causal,
            )  # (B, N, Tq, Dh)
            weights = None
        context = context.transpose(1, 2).reshape(b, tq, self.embed_dim)  # (B, Tq, E)
        return self.out_proj(context), weights  # (B, Tq, E), (B, N, Tq, Tk) or None
