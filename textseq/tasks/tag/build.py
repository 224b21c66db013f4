"""The tagger a config describes (config -> nn.Module) over its vocabularies; used by
training and loading alike."""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.tagger import SequenceTagger, build_sequence_tagger
from textseq.models.word_features import TransformerWordFeatures
from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.data import TagEncoder
from textseq.text.tags import allowed_transitions


def build_tagger(
    cfg: TagConfig,
    encoder: TagEncoder,
    *,
    pretrained: torch.Tensor | None = None,
    backbone: nn.Module | None = None,
) -> SequenceTagger:
    """The tagger `cfg.model` describes, over `encoder`'s vocabularies; `backbone` is the
    Hugging Face encoder of the transformer feature (`model.features`)."""
    m = cfg.model
    e = m.encoder
    features = m.features
    encoder_args: dict = {}
    if e.type == "rnn":
        encoder_args = dict(cell=e.cell, init=e.init, bidirectional=e.bidirectional)
    elif e.type == "transformer":
        encoder_args = dict(num_heads=e.num_heads, ff_dim=e.ff_dim, max_length=e.max_length)
    word_features = None
    if "transformer" in features:
        if backbone is None:
            raise ValueError("model.features lists transformer: build_tagger needs the backbone")
        word_features = TransformerWordFeatures(
            backbone=backbone,
            layers=m.transformer.layers,
            pooling=m.transformer.pooling,
            frozen=not m.transformer.fine_tune,
        )
    allowed = (
        allowed_transitions(encoder.tags.itos, m.scheme)
        if m.constrained and m.scheme != "plain"
        else None
    )
    return build_sequence_tagger(
        vocab_size=len(encoder.words),
        num_chars=len(encoder.chars),
        num_tags=len(encoder.tags),
        pad_index=encoder.words.pad_index,
        unk_index=encoder.words.unk_index,
        words="words" in features,
        word_features=word_features,
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        word_dropout=m.embedding.word_dropout,
        chars=m.chars.type if "chars" in features else "none",
        char_dim=m.chars.dim,
        char_hidden_size=m.chars.hidden_size,
        char_kernel_size=m.chars.kernel_size,
        casing_dim=m.casing_dim if "casing" in features else 0,
        encoder=e.type,
        **(
            dict(hidden_size=e.hidden_size, num_layers=e.num_layers, encoder_dropout=e.dropout)
            if e.type != "none"
            else {}
        ),
        **encoder_args,
        embedding_dropout=m.embedding.dropout,
        dropout=m.dropout,
        output=m.output,
        allowed=allowed,
    )
