"""The language model a config describes (config -> nn.Module); used by training and loading
alike."""

from __future__ import annotations

from torch import nn

from textseq.models.language_model import build_rnn_language_model
from textseq.models.transformer_lm import build_transformer_language_model
from textseq.tasks.lm.config import LMConfig
from textseq.text.vocab import EOS, UNK, Vocabulary

LM_SPECIALS = (UNK, EOS)  # no <pad>: contiguous streams are never padded


def is_character_level(cfg: LMConfig) -> bool:
    """Character models report bits per character; word (and subword) models perplexity."""
    return cfg.text.tokenizer == "characters"


def build_language_model(cfg: LMConfig, *, vocab: Vocabulary, pretrained=None) -> nn.Module:
    """The language model `cfg.model` describes, over `vocab`."""
    m = cfg.model
    common = dict(
        vocab_size=len(vocab),
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        embedding_dropout=m.embedding.dropout,
        tie_weights=m.tie_weights,
    )
    if m.type == "rnn":
        return build_rnn_language_model(
            word_dropout=m.embedding.word_dropout,
            unk_index=vocab.unk_index,
            cell=m.rnn.cell,
            init=m.rnn.init,
            hidden_size=m.rnn.hidden_size,
            num_layers=m.rnn.num_layers,
            dropout=m.rnn.dropout,
            **common,
        )
    t = m.transformer
    return build_transformer_language_model(
        num_layers=t.num_layers,
        num_heads=t.num_heads,
        ff_dim=t.ff_dim,
        dropout=t.dropout,
        norm_first=t.norm_first,
        activation=t.activation,
        positional=t.positional,
        max_length=t.max_length,
        **common,
    )
