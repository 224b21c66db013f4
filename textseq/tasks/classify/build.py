"""The classifier a config describes (config -> nn.Module), and its text pipeline; used by
training and loading alike."""

from __future__ import annotations

from pathlib import Path

import torch

from textseq.models.centroid_classifier import build_centroid_classifier
from textseq.models.classifier import build_text_classifier
from textseq.models.pretrained_classifier import build_pretrained_classifier
from textseq.models.transformer_classifier import build_transformer_classifier
from textseq.tasks.classify.config import Config
from textseq.text.pipeline import TextPipeline, cleaner_of, load_pipeline
from textseq.text.pretrained import PretrainedTokenizer
from textseq.text.vocab import Vocabulary


def build_model(
    cfg: Config,
    *,
    vocab: Vocabulary,
    num_labels: int,
    pretrained: torch.Tensor | None = None,
    backbone: torch.nn.Module | None = None,
) -> torch.nn.Module:
    """The classifier `cfg.model` describes, for `vocab` and `num_labels` outputs.

    `pretrained` are word vectors for the embedding table (rnn, transformer and none);
    `backbone` is the Hugging Face encoder of `model.encoder.type: pretrained`.
    """
    m = cfg.model
    readout = dict(  # the pooling and head every encoder's classifier ends with
        num_labels=num_labels,
        pooling=m.pooling.type,
        pooling_attention_dim=m.pooling.attention_dim,
        pooling_num_heads=m.pooling.num_heads,
        head_hidden_size=m.head.hidden_size,
        head_dropout=m.head.dropout,
    )
    if m.encoder.type == "pretrained":
        if backbone is None:
            raise ValueError("model.encoder.type pretrained needs the backbone encoder")
        return build_pretrained_classifier(backbone=backbone, **readout)
    embedding = dict(  # the table the rnn and transformer encoders (or the pooling) read
        vocab_size=len(vocab),
        pad_index=vocab.pad_index,
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        embedding_dropout=m.embedding.dropout,
        word_dropout=m.embedding.word_dropout,
        unk_index=vocab.unk_index,
    )
    e = m.encoder
    if e.type == "none":
        return build_centroid_classifier(**embedding, **readout)
    if e.type == "transformer":
        return build_transformer_classifier(
            num_layers=e.num_layers,
            num_heads=e.num_heads,
            ff_dim=e.ff_dim,
            dropout=e.dropout,
            norm_first=e.norm_first,
            activation=e.activation,
            positional=e.positional,
            max_positions=e.max_positions,
            **embedding,
            **readout,
        )
    return build_text_classifier(
        cell=e.cell,
        init=e.init,
        hidden_size=e.hidden_size,
        num_layers=e.num_layers,
        bidirectional=e.bidirectional,
        dropout=e.dropout,
        packed=e.packed,
        **embedding,
        **readout,
    )


def load_text_pipeline(directory: Path, cfg: Config) -> TextPipeline:
    """The text pipeline saved in a model or run directory, for the model `cfg` describes."""
    if cfg.model.encoder.type != "pretrained":
        return load_pipeline(directory, cfg.text, max_length=cfg.data.max_length)
    cleaner = cleaner_of(cfg.text)
    tokenizer = PretrainedTokenizer.load_saved(directory, max_length=cfg.data.max_length)
    return TextPipeline(cleaner, tokenizer, tokenizer.vocabulary())
