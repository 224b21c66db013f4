"""Transformer encoder-decoder for translation (Vaswani et al. 2017, "Attention Is All You
Need", section 3), built from the shared layers of `textseq.modules.transformer`:

    x_0 = Dropout(sqrt(E) emb_src(x) + PE)              source embeddings and positions (3.4, 3.5)
    m   = TransformerEncoder(x_0)                       self-attention over the source
    y_0 = Dropout(sqrt(E) emb_tgt(y_<t) + PE)
    h   = TransformerDecoder(y_0, m)                    causal self-attention + cross-attention
    p(y_t | y_<t, x) = softmax(W h_t)                   W tied to emb_tgt (3.4)

Source and target embeddings may be one table (`share_embeddings`, with a joint vocabulary).
Decoding uses the same step interface as the recurrent model (`encode`, `start`, `step`),
incrementally: `encode` also projects the memory into every decoder layer's cross-attention
keys and values once, and the state is each layer's self-attention keys and values of the
prefix so far, so a step runs the decoder on the newest position only (O(t) per step instead
of re-running the prefix, O(t^2)).

Shapes: B batch, S source length, T target length, E model dimension (d_model), N heads,
L decoder layers, V target vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from textseq.modules.embedding import source_target_embeddings
from textseq.modules.positional import build_positional
from textseq.modules.transformer import TransformerDecoder, TransformerEncoder

KeysValues = list[tuple[torch.Tensor, torch.Tensor]]  # per decoder layer, (B, N, *, Dh) each


@dataclass
class TransformerMemory:
    memory: torch.Tensor  # (B, S, E) encoder output
    mask: torch.Tensor  # (B, S) True at real source tokens
    keys_values: KeysValues | None = None  # (decoding) cross-attention keys, values (B, N, S, Dh)


@dataclass
class DecoderCache:
    past: KeysValues  # each decoder layer's self-attention keys, values of the prefix (B, N, t, Dh)

    @property
    def length(self) -> int:
        """t, the number of target tokens fed so far (<sos> first)."""
        return self.past[0][0].size(2)


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
        self.src_embedding, self.tgt_embedding = source_target_embeddings(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            embedding_dim=embedding_dim,
            pad_index=pad_index,
            share=share_embeddings,
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

    def _embed(self, table: nn.Embedding, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """ids: (B, T) at positions offset .. offset+T-1 -> (B, T, E)."""
        return self.dropout(self.positions(table(ids) * self.scale, offset=offset))  # (B, T, E)

    def _encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> TransformerMemory:
        """src: (B, S), src_lengths: (B,)."""
        positions = torch.arange(src.size(1), device=src.device)  # (S,)
        mask = positions[None, :] < src_lengths[:, None].to(src.device)  # (B, S)
        memory, _ = self.encoder(self._embed(self.src_embedding, src), mask)  # (B, S, E)
        return TransformerMemory(memory=memory, mask=mask)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> TransformerMemory:
        """The memory for decoding: `_encode`'s, with every decoder layer's cross-attention
        keys and values projected once."""
        encoded = self._encode(src, src_lengths)
        encoded.keys_values = self.decoder.memory_keys_values(encoded.memory)
        return encoded

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
        logits, _ = self.decode(tgt_in, self._encode(src, src_lengths))
        return logits

    def cross_attention(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> list[torch.Tensor]:
        """Every decoder layer's cross-attention weights (B, N, T, S), bottom first."""
        _, cross = self.decode(tgt_in, self._encode(src, src_lengths), need_weights=True)
        return cross

    # --- the step interface of textseq.decoding --------------------------------------------

    def start(self, encoded: TransformerMemory) -> DecoderCache:
        return DecoderCache(past=self.decoder.empty_past(encoded.memory.size(0), encoded.memory))

    def step(
        self, y_prev: torch.Tensor, state: DecoderCache, encoded: TransformerMemory
    ) -> tuple[torch.Tensor, DecoderCache, torch.Tensor]:
        """y_prev: (B,) -> logits (B, V) of the next token, the cache with y_prev appended,
        and the top layer's cross-attention of this step averaged over heads (B, S)."""
        if encoded.keys_values is None:
            raise ValueError("step needs the memory of encode (with its keys and values)")
        y = self._embed(self.tgt_embedding, y_prev[:, None], offset=state.length)  # (B, 1, E)
        h, past, cross = self.decoder.step(
            y, state.past, encoded.keys_values, encoded.mask, need_weights=True
        )  # (B, 1, E)
        alphas = cross[-1][:, :, 0].mean(dim=1)  # (B, S)
        return self.output(h[:, 0]), DecoderCache(past=past), alphas  # (B, V)
