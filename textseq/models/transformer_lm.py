"""Decoder-only Transformer language model (Radford et al. 2018, "Improving Language
Understanding by Generative Pre-Training"; the layers of Vaswani et al. 2017 with causal
self-attention):

    x_0 = Dropout(E[w] + P[positions])                       token and position embeddings
    x_l = TransformerEncoderLayer_l(x_{l-1}, causal=True)     position t attends to <= t only
    logits = x_L W^T + b                                      W = E when the weights are tied

The layers are `textseq.modules.transformer`'s, shared with every other Transformer in
textseq. The model carries no state between windows: it sees at most `context_size` tokens.

Shapes: B batch, T window length (<= context_size), E model dimension, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.language_model import LMOutput, vocabulary_decoder
from textseq.modules.embedding import build_embedding
from textseq.modules.positional import build_positional
from textseq.modules.transformer import TransformerEncoder


class TransformerLanguageModel(nn.Module):
    """Next-token scores for every position of a window of at most `context_size` tokens."""

    is_recurrent = False

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        positions: nn.Module,
        encoder: TransformerEncoder,
        context_size: int,
        embedding_dropout: float = 0.0,
        tie_weights: bool = True,
    ):
        super().__init__()
        vocab_size, embedding_dim = embedding.weight.shape
        if embedding_dim != encoder.d_model:
            raise ValueError(
                f"the embedding size ({embedding_dim}) must equal the Transformer's d_model "
                f"({encoder.d_model})"
            )
        self.embedding = embedding
        self.positions = positions
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.encoder = encoder
        self.decoder = vocabulary_decoder(embedding, embedding_dim, tie_weights=tie_weights)
        self.context_size = context_size
        self.vocab_size = vocab_size

    def forward(self, token_ids: torch.Tensor, state: None = None) -> LMOutput:
        """token_ids: (B, T) -> logits (B, T, V); `state` is accepted for a uniform interface
        with recurrent models and ignored (there is none)."""
        if token_ids.size(1) > self.context_size:
            raise ValueError(
                f"a window of {token_ids.size(1)} tokens exceeds the context size "
                f"({self.context_size}); raise model.transformer.max_length"
            )
        x = self.embedding_dropout(self.positions(self.embedding(token_ids)))  # (B, T, E)
        h, _ = self.encoder(x, causal=True)  # (B, T, E)
        return LMOutput(self.decoder(h), None)  # (B, T, V)


def build_transformer_language_model(
    *,
    vocab_size: int,
    embedding_dim: int = 256,
    pretrained: torch.Tensor | None = None,
    freeze_embeddings: bool = False,
    embedding_dropout: float = 0.1,
    num_layers: int = 4,
    num_heads: int = 4,
    ff_dim: int = 1024,
    dropout: float = 0.1,
    norm_first: bool = True,
    activation: str = "gelu",
    positional: str = "learned",
    max_length: int = 512,
    tie_weights: bool = True,
) -> TransformerLanguageModel:
    """A `TransformerLanguageModel` from plain hyperparameters; token embeddings are drawn from
    N(0, 0.02^2) as in GPT-2 unless `pretrained` vectors are given."""
    embedding = build_embedding(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        pretrained=pretrained,
        freeze=freeze_embeddings,
        init="normal",
        init_scale=0.02,
    )
    return TransformerLanguageModel(
        embedding=embedding,
        positions=build_positional(positional, dim=embedding_dim, max_length=max_length),
        encoder=TransformerEncoder(
            num_layers=num_layers,
            d_model=embedding_dim,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            norm_first=norm_first,
            activation=activation,
        ),
        context_size=max_length,
        embedding_dropout=embedding_dropout,
        tie_weights=tie_weights,
    )
