"""Recurrent language model: embeddings -> stacked LSTM/GRU -> linear layer over the vocabulary.

Zaremba, Sutskever and Vinyals (2014), "Recurrent Neural Network Regularization": a stacked
LSTM with dropout on the non-recurrent connections only (the embeddings, between layers, and
the top layer's output), trained with truncated BPTT over contiguous streams. The output layer
may share its weight matrix with the input embedding (Press and Wolf 2017, "Using the Output
Embedding to Improve Language Models"; Inan, Khosravi and Socher 2017, "Tying Word Vectors and
Word Classifiers"): p(w_t+1 | h_t) = softmax(E h_t + b), with E the (V, E) embedding table.

Shapes: B batch (streams), T window length, E embedding size, H hidden size, V vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from textseq.modules.embedding import build_embedding
from textseq.modules.rnn import RNNEncoder, State
from textseq.modules.word_dropout import WordDropout, build_word_dropout


class LMOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, V) scores of the next token at every position
    state: State | None  # what to carry into the next window (None: the model has none)


def vocabulary_decoder(embedding: nn.Embedding, input_size: int, *, tie_weights: bool) -> nn.Linear:
    """The output layer over the vocabulary, h (B, T, input_size) -> logits (B, T, V), its bias
    starting at zero; with `tie_weights` its weight is the (V, E) embedding table itself
    (Press and Wolf 2017), which needs input_size == E."""
    decoder = nn.Linear(input_size, embedding.num_embeddings)
    if tie_weights:
        decoder.weight = embedding.weight  # one (V, E) parameter, two uses
    nn.init.zeros_(decoder.bias)
    return decoder


class RNNLanguageModel(nn.Module):
    """Next-token scores for every position of a window, given the state the previous window
    ended in."""

    is_recurrent = True
    context_size: int | None = None  # no limit: the state carries the whole past

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        encoder: RNNEncoder,
        embedding_dropout: float = 0.0,
        output_dropout: float = 0.0,
        tie_weights: bool = False,
        word_dropout: WordDropout | None = None,
    ):
        super().__init__()
        if encoder.bidirectional:
            raise ValueError(
                "a language model reads left to right: the encoder must be unidirectional"
            )
        vocab_size, embedding_dim = embedding.weight.shape
        if tie_weights and embedding_dim != encoder.output_size:
            raise ValueError(
                f"tied weights need the embedding size ({embedding_dim}) to equal the encoder's "
                f"output size ({encoder.output_size})"
            )
        self.word_dropout = word_dropout
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.encoder = encoder
        self.output_dropout = nn.Dropout(output_dropout)
        self.decoder = vocabulary_decoder(embedding, encoder.output_size, tie_weights=tie_weights)
        self.vocab_size = vocab_size

    def forward(self, token_ids: torch.Tensor, state: State | None = None) -> LMOutput:
        """token_ids: (B, T), state: from the previous window or None -> logits (B, T, V)."""
        if self.word_dropout is not None:
            token_ids = self.word_dropout(token_ids, torch.ones_like(token_ids, dtype=torch.bool))
        x = self.embedding_dropout(self.embedding(token_ids))  # (B, T, E)
        h, state = self.encoder.stream(x, state)  # (B, T, H)
        logits = self.decoder(self.output_dropout(h))  # (B, T, V)
        return LMOutput(logits, state)


def build_rnn_language_model(
    *,
    vocab_size: int,
    embedding_dim: int = 200,
    pretrained: torch.Tensor | None = None,
    freeze_embeddings: bool = False,
    embedding_dropout: float = 0.0,
    word_dropout: float = 0.0,
    unk_index: int | None = None,
    cell: str = "lstm",
    init: str = "default",
    hidden_size: int = 200,
    num_layers: int = 2,
    dropout: float = 0.0,
    tie_weights: bool = True,
) -> RNNLanguageModel:
    """An `RNNLanguageModel` from plain hyperparameters; `dropout` applies between layers and
    on the top layer's output."""
    word_dropout_layer = build_word_dropout(word_dropout, unk_index)
    encoder = RNNEncoder(
        input_size=embedding_dim,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,
        bidirectional=False,
        dropout=dropout,
        init=init,
    )
    return RNNLanguageModel(
        embedding=build_embedding(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            pretrained=pretrained,
            freeze=freeze_embeddings,
            init="uniform",
            init_scale=0.1,
        ),
        encoder=encoder,
        embedding_dropout=embedding_dropout,
        output_dropout=dropout,
        tie_weights=tie_weights,
        word_dropout=word_dropout_layer,
    )
