"""Training a sequence tagger (`task: tag`): CoNLL data in, model directory out.

The steps mirror `textseq.training.train`: read the tagged splits; fit the word, character and
tag vocabularies on the training split only (plus the pretrained vectors' words, when
configured); build the tagger; train it; write the model directory atomically. The helpers
that are the same for every task (output directory, trainer, weights, manifest) come from
`textseq.training`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
import torch

from textseq.config import TagConfig, dump_yaml
from textseq.data.conll import TaggedSentence, load_tagged
from textseq.data.datamodule import TextDataModule
from textseq.data.sources import split_off
from textseq.data.tagging import TagCollator, TagEncoder
from textseq.model_dir import partial_dir
from textseq.models.tagger import SequenceTagger, build_sequence_tagger
from textseq.tasks.tagging import TaggingTask
from textseq.text.tags import allowed_transitions

log = logging.getLogger("textseq")


def train_tagger(
    cfg: TagConfig,
    *,
    final: Path,
    resume_dir: Path | None = None,
    checkpoint: str | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Trains the tagger `cfg` describes and returns its finished model directory."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from textseq.training import (
        _configured_vectors,
        _prepare_work_dir,
        _sample,
        fit_and_publish,
        train_only_reachable_rows,
    )

    is_main = rank_zero_only.rank == 0
    work = partial_dir(final)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.threads is not None:
        torch.set_num_threads(cfg.trainer.threads)
    train_sentences, val_sentences = read_tagged_splits(cfg)
    train_sentences = _sample(train_sentences, cfg.data.limit_train, cfg.seed)
    val_sentences = _sample(val_sentences, cfg.data.limit_val, cfg.seed + 1)
    # A resumed run takes its weights from the checkpoint: the vectors would only be overwritten.
    keyed_vectors = None if checkpoint else _configured_vectors(cfg)
    if resume_dir is not None:
        encoder = TagEncoder.load(resume_dir, lowercase=cfg.text.lowercase, scheme=cfg.model.scheme)
    else:
        encoder = fit_tag_encoder(cfg, train_sentences, keyed_vectors, val_sentences)
    train_set = encoder.dataset(train_sentences)
    val_set = encoder.dataset(val_sentences)
    log.info(
        "data: %s training and %s validation sentences, %s tags (%s), %s words, %s characters",
        f"{len(train_set):,}",
        f"{len(val_set):,}",
        len(encoder.tags),
        " ".join(encoder.tags.itos),
        f"{len(encoder.words):,}",
        len(encoder.chars),
    )
    pretrained, coverage = None, None
    if keyed_vectors is not None:
        from textseq.vectors import embedding_matrix

        pretrained, coverage = embedding_matrix(
            encoder.words,
            keyed_vectors,
            unknown_init=cfg.model.embedding.unknown_init,
            seed=cfg.seed,
        )
        log.info("word vectors cover %s", coverage)
    model = build_tagger(cfg, encoder, pretrained=pretrained)
    word_ids = (words for words, *_ in train_set.items)
    train_only_reachable_rows(cfg, model, word_ids, encoder.words.unk_index)
    if is_main:
        _prepare_work_dir(work, resume_dir)
        (work / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
        encoder.save(work)
    task = TaggingTask(
        model,
        tag_names=encoder.tags.itos,
        scheme=cfg.model.scheme,
        optimizer=cfg.optim.optimizer,
        lr=cfg.optim.lr,
        embedding_lr_scale=cfg.optim.embedding_lr_scale,
        weight_decay=cfg.optim.weight_decay,
        lr_factor=cfg.optim.lr_factor,
        lr_patience=cfg.optim.lr_patience,
        lr_decay_after=cfg.optim.lr_decay_after,
        monitor=cfg.trainer.monitor,
    )
    datamodule = TextDataModule(
        train=train_set,
        val=val_set,
        pad_index=0,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        bucket=cfg.data.bucket,
        seed=cfg.seed,
        num_workers=cfg.data.num_workers,
        collate=TagCollator(),
    )
    return fit_and_publish(
        cfg,
        task,
        model,
        datamodule=datamodule,
        work=work,
        final=final,
        checkpoint=checkpoint,
        callbacks=callbacks,
        data={
            "train_sentences": len(train_set),
            "val_sentences": len(val_set),
            "tags": encoder.tags.itos,
            "vocab_size": len(encoder.words),
            "chars": len(encoder.chars),
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


def read_tagged_splits(cfg: TagConfig) -> tuple[list[TaggedSentence], list[TaggedSentence]]:
    columns = dict(
        tag_set=cfg.data.tags, token_column=cfg.data.token_column, tag_column=cfg.data.tag_column
    )
    train_sentences = load_tagged(cfg.data.train, **columns)
    if cfg.data.val is not None:
        return train_sentences, load_tagged(cfg.data.val, **columns)
    rest, held_out = split_off(train_sentences, cfg.data.val_fraction, seed=cfg.seed)
    log.info(
        "validation: held out %s of %s training sentences (data.val_fraction=%s)",
        f"{len(held_out):,}",
        f"{len(train_sentences):,}",
        cfg.data.val_fraction,
    )
    return rest, held_out


def fit_tag_encoder(
    cfg: TagConfig,
    train_sentences: Sequence[TaggedSentence],
    keyed_vectors=None,
    val_sentences: Sequence[TaggedSentence] = (),
) -> TagEncoder:
    """Word and character vocabularies from the training sentences alone, plus the
    pretrained vectors' words with `model.words_from_vectors`; the tag set from the training
    and validation sentences."""
    extra: list[str] = []
    if keyed_vectors is not None and cfg.model.words_from_vectors:
        from textseq.vectors import vector_words

        extra = vector_words(keyed_vectors, lowercase=cfg.text.lowercase)
    return TagEncoder.fit(
        train_sentences,
        lowercase=cfg.text.lowercase,
        scheme=cfg.model.scheme,
        min_freq=cfg.text.min_freq,
        max_vocab_size=cfg.text.max_vocab_size,
        char_min_freq=cfg.model.chars.min_freq,
        extra_words=extra,
        more_tags=val_sentences,
    )


def build_tagger(
    cfg: TagConfig, encoder: TagEncoder, *, pretrained: torch.Tensor | None = None
) -> SequenceTagger:
    """The tagger `cfg.model` describes, over `encoder`'s vocabularies."""
    m = cfg.model
    e = m.encoder
    encoder_args = (
        dict(cell=e.cell, bidirectional=e.bidirectional)
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
