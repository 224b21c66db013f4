"""The translation model a config describes (config -> nn.Module) over its vocabularies;
used by training and loading alike."""

from __future__ import annotations

from torch import nn

from textseq.models.seq2seq import RecurrentSeq2Seq
from textseq.models.seq2seq_transformer import TransformerSeq2Seq
from textseq.tasks.translate.config import TranslateConfig
from textseq.tasks.translate.data import ParallelEncoder


def build_translator(cfg: TranslateConfig, encoder: ParallelEncoder) -> nn.Module:
    """The sequence-to-sequence model `cfg.model` describes, over `encoder`'s vocabularies."""
    m = cfg.model
    common = dict(
        src_vocab_size=len(encoder.src_vocab),
        tgt_vocab_size=len(encoder.tgt_vocab),
        pad_index=encoder.pad_index,
        embedding_dim=m.embedding.dim,
        dropout=m.dropout,
        tie_embeddings=m.tie_embeddings,
        share_embeddings=m.share_embeddings,
    )
    if m.type == "transformer":
        t = m.transformer
        return TransformerSeq2Seq(
            encoder_layers=t.encoder_layers,
            decoder_layers=t.decoder_layers,
            num_heads=t.num_heads,
            ff_dim=t.ff_dim,
            norm_first=t.norm_first,
            activation=t.activation,
            positional=t.positional,
            max_length=t.max_length,
            **common,
        )
    r = m.rnn
    return RecurrentSeq2Seq(
        cell=r.cell,
        encoder_cell=r.encoder_cell or r.cell,
        init=r.init,
        encoder_hidden_size=r.encoder_hidden_size,
        encoder_layers=r.encoder_layers,
        bidirectional=r.bidirectional,
        decoder_hidden_size=r.decoder_hidden_size,
        decoder_layers=r.decoder_layers,
        attention=r.attention,
        attention_dim=r.attention_dim,
        input_feeding=r.input_feeding,
        bridge=r.bridge,
        **common,
    )
