"""Text classifier: embeddings -> recurrent encoder -> pooling -> MLP head.

The other encoders' classifiers (`textseq.models.transformer_classifier`,
`textseq.models.pretrained_classifier`) take the same inputs and return the same
`ClassifierOutput`, and all keep the table of token input vectors as `embedding`.

Shapes: B batch, T longest length, E embedding size, S encoder state size (hidden size times
directions), C classes, N heads, L layers.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from textseq.modules.embedding import build_embedding
from textseq.modules.mlp import MLPHead
from textseq.modules.pooling import build_pooling, pooled_size
from textseq.modules.rnn import RNNEncoder
from textseq.modules.word_dropout import WordDropout, build_word_dropout


class ClassifierOutput(NamedTuple):
    logits: torch.Tensor  # (B, C)
    attention: torch.Tensor | None  # (B, T) pooling weights over tokens, or None
    # With `return_layer_attention=True` and a Transformer encoder: L tensors (B, N, T', T'),
    # bottom layer first. T' = T, except for a from-scratch Transformer with `cls` pooling,
    # whose position 0 is the learned [CLS] vector (T' = T + 1, tokens from position 1).
    layer_attention: list[torch.Tensor] | None = None


class TextClassifier(nn.Module):
    """Many-to-one sequence classifier, assembled from the parts it is given."""

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        encoder: RNNEncoder,
        pooling: nn.Module,
        head: nn.Module,
        embedding_dropout: float = 0.0,
        word_dropout: WordDropout | None = None,
    ):
        super().__init__()
        self.word_dropout = word_dropout
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(embedding_dropout)
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
        """token_ids: (B, T) padded ids; lengths: (B,) true lengths (>= 1). An RNN has no
        layer attention: `return_layer_attention` leaves `layer_attention` None."""
        mask = torch.arange(token_ids.size(1), device=token_ids.device) < lengths[:, None]  # (B, T)
        if self.word_dropout is not None:
            token_ids = self.word_dropout(token_ids, mask)  # (B, T), some ids now <unk>
        x = self.embedding_dropout(self.embedding(token_ids))  # (B, T, E)
        states = self.encoder(x, lengths)  # (B, T, S)
        pooled, weights = self.pooling(states, mask)  # (B, S'), (B, T) or None
        return ClassifierOutput(self.head(pooled), weights)  # (B, C)


def build_text_classifier(
    *,
    vocab_size: int,
    num_labels: int,
    pad_index: int,
    embedding_dim: int = 100,
    pretrained: torch.Tensor | None = None,
    freeze_embeddings: bool = False,
    embedding_dropout: float = 0.0,
    word_dropout: float = 0.0,
    unk_index: int | None = None,
    cell: str = "lstm",
    init: str = "default",
    hidden_size: int = 128,
    num_layers: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.0,
    packed: bool = False,
    pooling: str = "attention",
    pooling_attention_dim: int = 128,
    pooling_num_heads: int = 4,
    head_hidden_size: int = 0,
    head_dropout: float = 0.0,
) -> TextClassifier:
    """A `TextClassifier` from plain hyperparameters.

    `pretrained`, when given, is a (vocab_size, embedding_dim) matrix that initialises the
    embeddings (and stays fixed with `freeze_embeddings`). `word_dropout` > 0 needs the
    vocabulary's `unk_index`.
    """
    embedding = build_embedding(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        pad_index=pad_index,
        pretrained=pretrained,
        freeze=freeze_embeddings,
    )
    encoder = RNNEncoder(
        input_size=embedding_dim,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,
        bidirectional=bidirectional,
        dropout=dropout,
        packed=packed,
        init=init,
    )
    pool, head = build_readout(
        input_dim=encoder.output_size,
        num_labels=num_labels,
        pooling=pooling,
        bidirectional=bidirectional,
        pooling_attention_dim=pooling_attention_dim,
        pooling_num_heads=pooling_num_heads,
        head_hidden_size=head_hidden_size,
        head_dropout=head_dropout,
    )
    return TextClassifier(
        embedding=embedding,
        encoder=encoder,
        pooling=pool,
        head=head,
        embedding_dropout=embedding_dropout,
        word_dropout=build_word_dropout(word_dropout, unk_index),
    )


def build_readout(
    *,
    input_dim: int,
    num_labels: int,
    pooling: str,
    bidirectional: bool = False,
    pooling_attention_dim: int = 128,
    pooling_num_heads: int = 4,
    head_hidden_size: int = 0,
    head_dropout: float = 0.0,
) -> tuple[nn.Module, MLPHead]:
    """The tail every classifier puts on its encoder's states (B, T, input_dim): the pooling
    named `pooling` -> (B, input_dim) (twice that for mean_max), then the MLP head -> (B, C)
    logits, built in that order (so a seeded model draws the same weights whichever encoder is
    below)."""
    pool = build_pooling(
        pooling,
        input_dim=input_dim,
        bidirectional=bidirectional,
        attention_dim=pooling_attention_dim,
        num_heads=pooling_num_heads,
    )
    head = MLPHead(
        input_dim=pooled_size(pooling, input_dim),
        num_outputs=num_labels,
        hidden_dim=head_hidden_size,
        dropout=head_dropout,
    )
    return pool, head
