"""Transformer encoder-decoder for translation (Vaswani et al. 2017, "Attention Is All You
Need", section 3), built from the shared layers of `textseq.modules.transformer`:

    x_0 = Dropout(sqrt(E) emb_src(x) + PE)              source embeddings and positions (3.4, 3.5)
    m   = TransformerEncoder(x_0)                       self-attention over the source
    y_0 = Dropout(sqrt(E) emb_tgt(y_<t) + PE)
    h   = TransformerDecoder(y_0, m)                    causal self-attention + cross-attention
    p(y_t | y_<t, x) = softmax(W h_t)                   W tied to emb_tgt (3.4)

Source and target embeddings may be one table (`share_embeddings`, with a joint vocabulary).
Decoding uses the same step interface as the recurrent model (`encode`, `start`, `step`):
the state is the target prefix, and every step runs the decoder over the whole prefix (no
key/value cache; Multi30k sentences are short).

Shapes: B batch, S source length, T target length, E model dimension (d_model), N heads,
L decoder layers, V target vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from textseq.modules.positional import build_positional
from textseq.modules.transformer import TransformerDecoder, TransformerEncoder


@dataclass
class TransformerMemory:
    memory: torch.Tensor  # (B, S, E) encoder output
    mask: torch.Tensor  # (B, S) True at real source tokens


@dataclass
class PrefixState:
    tokens: torch.Tensor  # (B, t) target tokens fed so far, <sos> first


class TransformerSeq2Seq(nn.Module):
    def __init__(
        self,
        *,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_index: int = 0,
        embedding_dim: int = 256,
        encoder_layers: int = 3,
        decoder_layers: int = 3,
        num_heads: int = 4,
        ff_dim: int = 1024,
        dropout: float = 0.1,
        norm_first: bool = True,
        activation: str = "relu",
        positional: str = "sinusoidal",
        max_length: int = 256,
        tie_embeddings: bool = True,
        share_embeddings: bool = False,
    ):
        super().__init__()
        if embedding_dim % num_heads:
            raise ValueError(
                f"embedding_dim ({embedding_dim}) must be divisible by num_heads ({num_heads})"
            )
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(
                f"shared embeddings need one vocabulary, got sizes {src_vocab_size} (source) and "
                f"{tgt_vocab_size} (target)"
            )
        self.src_embedding = nn.Embedding(src_vocab_size, embedding_dim, padding_idx=pad_index)
        self.tgt_embedding = (
            self.src_embedding
            if share_embeddings
            else nn.Embedding(tgt_vocab_size, embedding_dim, padding_idx=pad_index)
        )
        for table in {id(t): t for t in (self.src_embedding, self.tgt_embedding)}.values():
            # N(0, E^-1/2), so that sqrt(E) * embedding has unit variance (fairseq's init)
            nn.init.normal_(table.weight, std=embedding_dim**-0.5)
            with torch.no_grad():
                table.weight[pad_index].zero_()
        self.positions = build_positional(positional, dim=embedding_dim, max_length=max_length)
        self.dropout = nn.Dropout(dropout)
        layer = dict(
            d_model=embedding_dim,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            norm_first=norm_first,
            activation=activation,
        )
        self.encoder = TransformerEncoder(num_layers=encoder_layers, **layer)
        self.decoder = TransformerDecoder(num_layers=decoder_layers, **layer)
        self.output = nn.Linear(embedding_dim, tgt_vocab_size, bias=False)
        if tie_embeddings:
            self.output.weight = self.tgt_embedding.weight
        self.scale = math.sqrt(embedding_dim)
        self.pad_index = pad_index

    @property
    def embedding(self) -> nn.Embedding:
        """The target embedding table (for the optimiser's embedding group)."""
        return self.tgt_embedding

    def _embed(self, table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.positions(table(ids) * self.scale))  # (B, T, E)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> TransformerMemory:
        """src: (B, S), src_lengths: (B,)."""
        positions = torch.arange(src.size(1), device=src.device)  # (S,)
        mask = positions[None, :] < src_lengths[:, None].to(src.device)  # (B, S)
        memory, _ = self.encoder(self._embed(self.src_embedding, src), mask)  # (B, S, E)
        return TransformerMemory(memory=memory, mask=mask)

    def decode(
        self, tgt_in: torch.Tensor, encoded: TransformerMemory, *, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """tgt_in: (B, T) -> logits (B, T, V) and, with `need_weights`, each layer's
        cross-attention (B, N, T, S). Target padding needs no mask: causal attention keeps
        every real position from seeing the padding after it."""
        y = self._embed(self.tgt_embedding, tgt_in)  # (B, T, E)
        h, cross = self.decoder(y, encoded.memory, None, encoded.mask, need_weights=need_weights)
        return self.output(h), cross  # (B, T, V)

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for every target position."""
        logits, _ = self.decode(tgt_in, self.encode(src, src_lengths))
        return logits

    def cross_attention(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> list[torch.Tensor]:
        """Every decoder layer's cross-attention weights (B, N, T, S), bottom first."""
        _, cross = self.decode(tgt_in, self.encode(src, src_lengths), need_weights=True)
        return cross

    # --- the step interface of textseq.decoding --------------------------------------------

    def start(self, encoded: TransformerMemory) -> PrefixState:
        b = encoded.memory.size(0)
        return PrefixState(tokens=encoded.mask.new_zeros(b, 0, dtype=torch.long))  # (B, 0)

    def step(
        self, y_prev: torch.Tensor, state: PrefixState, encoded: TransformerMemory
    ) -> tuple[torch.Tensor, PrefixState, torch.Tensor]:
        """y_prev: (B,) -> logits (B, V) of the next token, the longer prefix, and the top
        layer's cross-attention of this step averaged over heads (B, S)."""
        tokens = torch.cat([state.tokens, y_prev[:, None]], dim=1)  # (B, t)
        logits, cross = self.decode(tokens, encoded, need_weights=True)  # (B, t, V)
        alphas = cross[-1][:, :, -1].mean(dim=1)  # (B, S)
        return logits[:, -1], PrefixState(tokens=tokens), alphas
