"""Transformer text classifier trained from scratch:

    token ids -> embeddings (learned or pretrained vectors) [-> prepend a learned [CLS]]
              -> + positions -> LayerNorm -> dropout -> N Transformer encoder layers
              -> pooling ([CLS], masked mean/max, attention) -> MLP head

The LayerNorm after adding positions (as BERT does, Devlin et al. 2019) puts word vectors of
any scale (learned, or GloVe's) and the positions on one footing before the first layer.

Shapes: B batch, T longest length, E model size (= embedding size), N heads, L layers,
C classes.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.classifier import ClassifierOutput, build_readout
from textseq.modules.embedding import build_embedding
from textseq.modules.positional import build_positional
from textseq.modules.transformer import TransformerEncoder
from textseq.modules.word_dropout import WordDropout, build_word_dropout


class TransformerClassifier(nn.Module):
    """Many-to-one classifier over a Transformer encoder, assembled from the parts it is given.

    With `cls=True` a learned vector is put before every sequence (position 0) and the
    pooling is expected to read it (`ClsPooling`).
    """

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        positional: nn.Module,
        encoder: TransformerEncoder,
        pooling: nn.Module,
        head: nn.Module,
        cls: bool = False,
        dropout: float = 0.0,
        word_dropout: WordDropout | None = None,
    ):
        super().__init__()
        dim = embedding.embedding_dim
        if dim != encoder.d_model:
            raise ValueError(
                f"embedding_dim ({dim}) must equal the encoder's d_model ({encoder.d_model})"
            )
        self.word_dropout = word_dropout
        self.embedding = embedding
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5) if cls else None  # (1, 1, E)
        self.positional = positional
        self.embedding_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.encoder = encoder
        self.pooling = pooling
        self.head = head

    def forward(
        self,
        token_ids: torch.Tensor,
        lengths: torch.Tensor,
        *,
        return_layer_attention: bool = False,
    ) -> ClassifierOutput:
        """token_ids: (B, T) padded ids; lengths: (B,) true lengths (>= 1)."""
        mask = torch.arange(token_ids.size(1), device=token_ids.device) < lengths[:, None]  # (B, T)
        if self.word_dropout is not None:
            token_ids = self.word_dropout(token_ids, mask)  # (B, T), some ids now <unk>
        x = self.embedding(token_ids)  # (B, T, E)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.size(0), -1, -1), x], dim=1)  # (B, 1+T, E)
            mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], dim=1)  # (B, 1+T)
        x = self.dropout(self.embedding_norm(self.positional(x)))  # (B, T', E)
        states, layer_attention = self.encoder(
            x, mask, need_weights=return_layer_attention
        )  # (B, T', E), L x (B, N, T', T') or None
        pooled, weights = self.pooling(states, mask)  # (B, E), (B, T') or None
        if weights is not None and self.cls is not None:
            weights = weights[:, 1:]  # (B, T): pooling weights over the tokens only
        return ClassifierOutput(self.head(pooled), weights, layer_attention)  # (B, C)


def build_transformer_classifier(
    *,
    vocab_size: int,
    num_labels: int,
    pad_index: int,
    embedding_dim: int = 128,
    pretrained: torch.Tensor | None = None,
    freeze_embeddings: bool = False,
    embedding_dropout: float = 0.1,
    word_dropout: float = 0.0,
    unk_index: int | None = None,
    num_layers: int = 2,
    num_heads: int = 4,
    ff_dim: int = 256,
    dropout: float = 0.1,
    norm_first: bool = True,
    activation: str = "gelu",
    positional: str = "sinusoidal",
    max_positions: int = 512,
    pooling: str = "cls",
    pooling_attention_dim: int = 128,
    pooling_num_heads: int = 4,
    head_hidden_size: int = 0,
    head_dropout: float = 0.0,
) -> TransformerClassifier:
    """A `TransformerClassifier` from plain hyperparameters; the model size is
    `embedding_dim` (the vectors' dimension when `pretrained` is given)."""
    embedding = build_embedding(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        pad_index=pad_index,
        pretrained=pretrained,
        freeze=freeze_embeddings,
    )
    encoder = TransformerEncoder(
        num_layers=num_layers,
        d_model=embedding_dim,
        num_heads=num_heads,
        ff_dim=ff_dim,
        dropout=dropout,
        norm_first=norm_first,
        activation=activation,
    )
    pool, head = build_readout(
        input_dim=embedding_dim,
        num_labels=num_labels,
        pooling=pooling,
        pooling_attention_dim=pooling_attention_dim,
        pooling_num_heads=pooling_num_heads,
        head_hidden_size=head_hidden_size,
        head_dropout=head_dropout,
    )
    return TransformerClassifier(
        embedding=embedding,
        positional=build_positional(
            positional,
            dim=embedding_dim,
            # the sinusoid table is computed, not learned: make it long enough for any input
            max_length=max_positions if positional == "learned" else max(max_positions, 8192),
        ),
        encoder=encoder,
        pooling=pool,
        head=head,
        cls=pooling == "cls",
        dropout=embedding_dropout,
        word_dropout=build_word_dropout(word_dropout, unk_index),
    )
