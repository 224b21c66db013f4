"""Centroid classifier (`model.encoder.type: none`): no encoder, the pooling reads the word
vectors themselves.

    token ids -> embeddings (learned or pretrained vectors) -> dropout
              -> masked pooling (mean: the centroid; max; mean_max: both, concatenated)
              -> MLP head (a linear layer, or one hidden ReLU layer)

This is the simple word-embedding model (SWEM) of Shen et al. 2018, "Baseline Needs More
Love" (section 3.2: SWEM-aver is the mean, SWEM-max the max, SWEM-concat both): the text is
the centroid of its word vectors, z = (1/T) sum_t e_t, over the real tokens only, so padding
never moves it. With no recurrence it is the fastest classifier textseq has.

Shapes: B batch, T longest length, E embedding size, P pooled size (E, or 2E for mean_max),
C classes.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.classifier import ClassifierOutput, build_readout
from textseq.modules.embedding import build_embedding
from textseq.modules.word_dropout import WordDropout, build_word_dropout


class CentroidClassifier(nn.Module):
    """Many-to-one classifier pooling the embeddings directly, assembled from its parts."""

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        pooling: nn.Module,
        head: nn.Module,
        embedding_dropout: float = 0.0,
        word_dropout: WordDropout | None = None,
    ):
        super().__init__()
        self.word_dropout = word_dropout
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.pooling = pooling
        self.head = head

    def forward(
        self,
        token_ids: torch.Tensor,
        lengths: torch.Tensor,
        *,
        return_layer_attention: bool = False,
    ) -> ClassifierOutput:
        """token_ids: (B, T) padded ids; lengths: (B,) true lengths (>= 1). There are no
        layers, so `return_layer_attention` leaves `layer_attention` None."""
        mask = torch.arange(token_ids.size(1), device=token_ids.device) < lengths[:, None]  # (B, T)
        if self.word_dropout is not None:
            token_ids = self.word_dropout(token_ids, mask)  # (B, T), some ids now <unk>
        e = self.embedding_dropout(self.embedding(token_ids))  # (B, T, E)
        z, weights = self.pooling(e, mask)  # (B, P), (B, T) or None
        return ClassifierOutput(self.head(z), weights)  # (B, C)


def build_centroid_classifier(
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
    pooling: str = "mean",
    pooling_attention_dim: int = 128,
    pooling_num_heads: int = 4,
    head_hidden_size: int = 0,
    head_dropout: float = 0.0,
) -> CentroidClassifier:
    """A `CentroidClassifier` from plain hyperparameters (as `build_text_classifier`, without
    the encoder's)."""
    embedding = build_embedding(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        pad_index=pad_index,
        pretrained=pretrained,
        freeze=freeze_embeddings,
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
    return CentroidClassifier(
        embedding=embedding,
        pooling=pool,
        head=head,
        embedding_dropout=embedding_dropout,
        word_dropout=build_word_dropout(word_dropout, unk_index),
    )
