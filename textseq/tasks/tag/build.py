"""The tagger a config describes (config -> nn.Module) over its vocabularies; used by
training and loading alike."""

from __future__ import annotations

import torch

from textseq.config import TagConfig
from textseq.models.tagger import SequenceTagger, build_sequence_tagger
from textseq.tasks.tag.data import TagEncoder
from textseq.text.tags import allowed_transitions


def build_tagger(
    cfg: TagConfig, encoder: TagEncoder, *, pretrained: torch.Tensor | None = None
) -> SequenceTagger:
    """The tagger `cfg.model` describes, over `encoder`'s vocabularies."""
    m = cfg.model
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
        encoder=m.encoder.type,
        cell=m.encoder.cell,
        hidden_size=m.encoder.hidden_size,
        num_layers=m.encoder.num_layers,
        bidirectional=m.encoder.bidirectional,
        encoder_dropout=m.encoder.dropout,
        num_heads=m.encoder.num_heads,
        ff_dim=m.encoder.ff_dim,
        max_length=m.encoder.max_length,
        input_dropout=m.embedding.dropout,
        dropout=m.dropout,
        output=m.output,
        allowed=allowed,
    )
