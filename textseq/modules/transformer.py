"""The Transformer encoder and decoder (Vaswani et al. 2017, section 3.1), written out so
that every layer's attention weights can be returned.

    post-LN (the paper):  x = LayerNorm(x + Dropout(SelfAttention(x)))
                          x = LayerNorm(x + Dropout(FeedForward(x)))
    pre-LN (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"):
                          x = x + Dropout(SelfAttention(LayerNorm(x)))
                          x = x + Dropout(FeedForward(LayerNorm(x)))
    FeedForward(x) = W_2 Dropout(activation(W_1 x + b_1)) + b_2     (section 3.3, eq. 2)

Parameter names follow `torch.nn.TransformerEncoderLayer` (`linear1`, `linear2`, `norm1`,
`norm2`), and the attention is `textseq.modules.attention.MultiHeadAttention`, whose weights
are `nn.MultiheadAttention`'s split in three, so PyTorch's layer's weights can be copied in.
With `need_weights=False` the attention runs in PyTorch's fused kernel.

The decoder layer adds cross-attention over the encoder's output (the memory) between its
causal self-attention and its feed-forward block, each a residual sub-layer normalised as
above; its parameter names follow `torch.nn.TransformerDecoderLayer` (`self_attn`,
`multihead_attn`, `norm1`-`norm3`).

Masks: `mask` (B, T) is True at real tokens (padding is never attended to); `causal=True`
also hides the future (for language models). Outputs at padded positions are computed but
meaningless; outputs at real positions never depend on padding.

Shapes: B batch, T length, S memory (source) length, E model dimension (d_model), N heads,
F feed-forward dimension.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from textseq.modules.attention import MultiHeadAttention

ACTIVATIONS = {"relu": nn.functional.relu, "gelu": nn.functional.gelu}


def _check_layer(*, activation: str, dropout: float) -> None:
    """The arguments every layer (encoder or decoder) checks."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation ({activation!r}) must be one of {', '.join(ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout ({dropout}) must be in [0, 1)")


class TransformerEncoderLayer(nn.Module):
    """One self-attention + feed-forward block, pre-LN (`norm_first=True`) or post-LN."""

    def __init__(
        self,
        *,
        d_model: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        norm_first: bool = True,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        _check_layer(activation=activation, dropout=dropout)
        self.norm_first = norm_first
        self.activation_name = activation
        self.activation = ACTIVATIONS[activation]
        self.self_attn = MultiHeadAttention(embed_dim=d_model, num_heads=num_heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ff_dim)  # W_1
        self.linear2 = nn.Linear(ff_dim, d_model)  # W_2
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)  # inside the feed-forward block
        self.dropout1 = nn.Dropout(dropout)  # on the attention's output
        self.dropout2 = nn.Dropout(dropout)  # on the feed-forward's output

    def _self_attention(
        self, x: torch.Tensor, mask: torch.Tensor | None, causal: bool, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.self_attn(
            x, x, x, key_mask=mask, causal=causal, need_weights=need_weights
        )  # (B, T, E), (B, N, T, T) or None
        return self.dropout1(attended), weights

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (B, T, F)
        return self.dropout2(self.linear2(hidden))  # (B, T, E)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, E)
        mask: torch.Tensor | None = None,  # (B, T), True at real tokens
        *,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the new states (B, T, E) and, with `need_weights`, the attention weights
        (B, N, T, T) of every head (None otherwise)."""
        if self.norm_first:
            attended, weights = self._self_attention(self.norm1(x), mask, causal, need_weights)
            x = x + attended
            x = x + self._feed_forward(self.norm2(x))
        else:
            attended, weights = self._self_attention(x, mask, causal, need_weights)
            x = self.norm1(x + attended)
            x = self.norm2(x + self._feed_forward(x))
        return x, weights  # (B, T, E), (B, N, T, T) or None


class _LayerStack(nn.Module):
    """What the two stacks share: `num_layers` layers of the subclass's `layer_class`, bottom
    first, and the final LayerNorm of a pre-LN stack (its residual stream is never normalised
    otherwise; None for post-LN). A base class, not composition, because the stacks take the
    very same arguments and differ only in their layer and their `forward`."""

    layer_class: type[nn.Module]

    def __init__(
        self,
        *,
        num_layers: int,
        d_model: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        norm_first: bool = True,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers ({num_layers}) must be at least 1")
        if d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.d_model = d_model
        self.num_heads = num_heads
        self.layers = nn.ModuleList(
            self.layer_class(
                d_model=d_model,
                num_heads=num_heads,
                ff_dim=ff_dim,
                dropout=dropout,
                norm_first=norm_first,
                activation=activation,
                layer_norm_eps=layer_norm_eps,
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if norm_first else None


class TransformerEncoder(_LayerStack):
    """A stack of `num_layers` identical `TransformerEncoderLayer`s; pre-LN stacks end with a
    final LayerNorm (their residual stream is never normalised otherwise)."""

    layer_class = TransformerEncoderLayer

    def forward(
        self,
        x: torch.Tensor,  # (B, T, E)
        mask: torch.Tensor | None = None,  # (B, T), True at real tokens
        *,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """The top layer's states (B, T, E) and, with `need_weights`, one (B, N, T, T)
        weight tensor per layer, bottom first (None otherwise)."""
        all_weights: list[torch.Tensor] = []
        for layer in self.layers:
            x, weights = layer(x, mask, causal=causal, need_weights=need_weights)  # (B, T, E)
            if need_weights:
                all_weights.append(weights)
        if self.norm is not None:
            x = self.norm(x)  # (B, T, E)
        return x, (all_weights if need_weights else None)


class TransformerDecoderLayer(nn.Module):
    """Causal self-attention, cross-attention over the memory, feed-forward; pre-LN
    (`norm_first=True`) or post-LN:

        pre-LN:   x = x + SelfAttn(LN1(x));  x = x + CrossAttn(LN2(x), m);  x = x + FF(LN3(x))
        post-LN:  x = LN1(x + SelfAttn(x));  x = LN2(x + CrossAttn(x, m));  x = LN3(x + FF(x))
    """

    def __init__(
        self,
        *,
        d_model: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        norm_first: bool = True,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        _check_layer(activation=activation, dropout=dropout)
        self.norm_first = norm_first
        self.activation = ACTIVATIONS[activation]
        self.self_attn = MultiHeadAttention(embed_dim=d_model, num_heads=num_heads, dropout=dropout)
        self.multihead_attn = MultiHeadAttention(
            embed_dim=d_model, num_heads=num_heads, dropout=dropout
        )
        self.linear1 = nn.Linear(d_model, ff_dim)  # W_1
        self.linear2 = nn.Linear(ff_dim, d_model)  # W_2
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)  # inside the feed-forward block
        self.dropout1 = nn.Dropout(dropout)  # on the self-attention's output
        self.dropout2 = nn.Dropout(dropout)  # on the cross-attention's output
        self.dropout3 = nn.Dropout(dropout)  # on the feed-forward's output

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (B, T, F)
        return self.dropout3(self.linear2(hidden))  # (B, T, E)

    def _sublayers(
        self,
        x: torch.Tensor,  # (B, T, E)
        self_attention: Callable[[torch.Tensor], torch.Tensor],
        cross_attention: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """The three residual sub-layers around the given attentions (each (B, T, E) ->
        (B, T, E)), normalised pre-LN or post-LN: the one place of that wiring, for the whole
        sequence (`forward`) and for one new position (`step`)."""
        if self.norm_first:
            x = x + self.dropout1(self_attention(self.norm1(x)))
            x = x + self.dropout2(cross_attention(self.norm2(x)))
            return x + self._feed_forward(self.norm3(x))  # (B, T, E)
        x = self.norm1(x + self.dropout1(self_attention(x)))
        x = self.norm2(x + self.dropout2(cross_attention(x)))
        return self.norm3(x + self._feed_forward(x))  # (B, T, E)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, E) target-side states
        memory: torch.Tensor,  # (B, S, E) encoder output
        mask: torch.Tensor | None = None,  # (B, T), True at real target tokens
        memory_mask: torch.Tensor | None = None,  # (B, S), True at real source tokens
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The new states (B, T, E) and, with `need_weights`, the self-attention (B, N, T, T)
        and cross-attention (B, N, T, S) weights of every head (None otherwise)."""
        weights: dict[str, torch.Tensor | None] = {}

        def self_attention(h: torch.Tensor) -> torch.Tensor:
            attended, weights["self"] = self.self_attn(
                h, h, h, key_mask=mask, causal=True, need_weights=need_weights
            )  # (B, T, E), (B, N, T, T) or None
            return attended

        def cross_attention(h: torch.Tensor) -> torch.Tensor:
            attended, weights["cross"] = self.multihead_attn(
                h, memory, memory, key_mask=memory_mask, need_weights=need_weights
            )  # (B, T, E), (B, N, T, S) or None
            return attended

        x = self._sublayers(x, self_attention, cross_attention)  # (B, T, E)
        return x, weights["self"], weights["cross"]

    def step(
        self,
        x: torch.Tensor,  # (B, 1, E) the newest target position
        past: tuple[torch.Tensor, torch.Tensor],  # self-attention keys, values (B, N, t, Dh)
        memory_kv: tuple[torch.Tensor, torch.Tensor],  # the memory's keys, values (B, N, S, Dh)
        memory_mask: torch.Tensor | None = None,  # (B, S), True at real source tokens
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        """Incremental decoding: `forward` at the last position of a prefix whose earlier
        positions' self-attention keys and values are `past`, so each step costs O(t) instead
        of re-running the prefix. Returns the new state (B, 1, E), `past` with this position
        appended (B, N, t+1, Dh) each, and with `need_weights` the cross-attention weights
        (B, N, 1, S)."""
        weights: dict[str, torch.Tensor | None] = {}
        cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def self_attention(h: torch.Tensor) -> torch.Tensor:
            k, v = self.self_attn.keys_values(h, h)  # (B, N, 1, Dh) each
            k = torch.cat([past[0], k], dim=2)  # (B, N, t+1, Dh)
            v = torch.cat([past[1], v], dim=2)  # (B, N, t+1, Dh)
            cache["self"] = (k, v)
            attended, _ = self.self_attn.attend(h, k, v, need_weights=False)  # (B, 1, E)
            return attended

        def cross_attention(h: torch.Tensor) -> torch.Tensor:
            attended, weights["cross"] = self.multihead_attn.attend(
                h, *memory_kv, key_mask=memory_mask, need_weights=need_weights
            )  # (B, 1, E), (B, N, 1, S) or None
            return attended

        x = self._sublayers(x, self_attention, cross_attention)  # (B, 1, E)
        return x, cache["self"], weights["cross"]


class TransformerDecoder(_LayerStack):
    """A stack of `num_layers` `TransformerDecoderLayer`s; pre-LN stacks end with a final
    LayerNorm."""

    layer_class = TransformerDecoderLayer

    def forward(
        self,
        x: torch.Tensor,  # (B, T, E)
        memory: torch.Tensor,  # (B, S, E)
        mask: torch.Tensor | None = None,  # (B, T)
        memory_mask: torch.Tensor | None = None,  # (B, S)
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """The top layer's states (B, T, E) and, with `need_weights`, one (B, N, T, S)
        cross-attention weight tensor per layer, bottom first (None otherwise)."""
        cross: list[torch.Tensor] = []
        for layer in self.layers:
            x, _, weights = layer(x, memory, mask, memory_mask, need_weights=need_weights)
            if need_weights:
                cross.append(weights)
        if self.norm is not None:
            x = self.norm(x)  # (B, T, E)
        return x, (cross if need_weights else None)

    def memory_keys_values(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """memory: (B, S, E) -> every layer's cross-attention keys and values (B, N, S, Dh),
        computed once per sentence for `step`, bottom first."""
        return [layer.multihead_attn.keys_values(memory, memory) for layer in self.layers]

    def empty_past(
        self, batch_size: int, like: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The self-attention cache of an empty prefix: every layer's (B, N, 0, Dh) keys and
        values, in `like`'s dtype and device."""
        attention = self.layers[0].self_attn
        empty = like.new_zeros(batch_size, attention.num_heads, 0, attention.head_dim)
        return [(empty, empty) for _ in self.layers]

    def step(
        self,
        x: torch.Tensor,  # (B, 1, E) the newest target position
        past: list[tuple[torch.Tensor, torch.Tensor]],  # per layer, (B, N, t, Dh) each
        memory_kv: list[tuple[torch.Tensor, torch.Tensor]],  # `memory_keys_values`
        memory_mask: torch.Tensor | None = None,  # (B, S)
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]], list[torch.Tensor] | None]:
        """`forward` at the last position of the prefix, from the cache (see
        `TransformerDecoderLayer.step`): the top state (B, 1, E), the cache with this
        position appended, and with `need_weights` each layer's (B, N, 1, S) cross-attention,
        bottom first."""
        cross: list[torch.Tensor] = []
        new_past = []
        for layer, layer_past, layer_memory in zip(self.layers, past, memory_kv, strict=True):
            x, kv, weights = layer.step(
                x, layer_past, layer_memory, memory_mask, need_weights=need_weights
            )  # (B, 1, E)
            new_past.append(kv)
            if need_weights:
                cross.append(weights)
        if self.norm is not None:
            x = self.norm(x)  # (B, 1, E)
        return x, new_past, (cross if need_weights else None)
