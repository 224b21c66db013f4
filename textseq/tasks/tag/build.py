"""The tagger a config describes (config -> nn.Module) over its vocabularies; used by
training and loading alike."""

from __future__ import annotations

import torch

from textseq.models.tagger import SequenceTagger, build_sequence_tagger
from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.data import TagEncoder
from textseq.text.tags import allowed_transitions


def build_tagger(
    cfg: TagConfig, encoder: TagEncoder, *, pretrained: torch.Tensor | None = None
) -> SequenceTagger:
    """The tagger `cfg.model` describes, over `encoder`'s vocabularies."""
    m = cfg.model
    e = m.encoder
    encoder_args = (
        dict(cell=e.cell, init=e.init, bidirectional=e.bidirectional)
        if e.type == "rnn"
        else dict(num_heads=e.num_heads, ff_dim=e.ff_dim, max_length=e.max_length)
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
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        word_dropout=m.embedding.word_dropout,
        chars=m.chars.type,
        char_dim=m.chars.dim,
        char_hidden_size=m.chars.hidden_size,
        char_kernel_size=m.chars.kernel_size,
        casing_dim=m.casing_dim,
        encoder=e.type,
        hidden_size=e.hidden_size,
        num_layers=e.num_layers,
        encoder_dropout=e.dropout,
        **encoder_args,
        embedding_dropout=m.embedding.dropout,
        dropout=m.dropout,
        output=m.output,
        allowed=allowed,
    )
