"""Setting up the training of a translation model (`task: translate`).

The steps: read the training and validation pairs; fit the tokenizer and the source and target
vocabularies on the training pairs only; drop training pairs longer than the length limits
(reported); build the model and its Lightning system, whose validation BLEU drives early
stopping and the best checkpoint. `textseq.training` runs the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from textseq.data.datamodule import TextDataModule
from textseq.data.splits import sample
from textseq.optim import OptimSettings
from textseq.tasks.base import Prepared
from textseq.tasks.translate.build import build_translator
from textseq.tasks.translate.config import TranslateConfig
from textseq.tasks.translate.data import (
    ParallelEncoder,
    SentencePair,
    Seq2SeqCollator,
    load_parallel,
)
from textseq.tasks.translate.metrics import bleu_tokenize
from textseq.tasks.translate.system import TranslationTask

log = logging.getLogger("textseq")


def prepare(cfg: TranslateConfig, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
    """The translation model `cfg` describes, its system and data; a resumed run
    (`resume_dir`) keeps the run's vocabularies."""
    train_pairs, val_pairs = read_parallel_splits(cfg)
    train_pairs = sample(train_pairs, cfg.data.limit_train, cfg.seed)
    val_pairs = sample(val_pairs, cfg.data.limit_val, cfg.seed + 1)
    if resume_dir is not None:
        encoder = ParallelEncoder.load(
            resume_dir, tokenizer=cfg.text.tokenizer, lowercase=cfg.text.lowercase
        )
    else:
        encoder = fit_parallel_encoder(cfg, train_pairs)
    train_set = encoder.dataset(
        train_pairs, max_src_length=cfg.data.max_src_length, max_tgt_length=cfg.data.max_tgt_length
    )
    if train_set.dropped:
        log.warning(
            "training data: dropped %s of %s pairs longer than %s source / %s target tokens "
            "(data.max_src_length, data.max_tgt_length)",
            f"{train_set.dropped:,}",
            f"{train_set.total:,}",
            cfg.data.max_src_length,
            cfg.data.max_tgt_length,
        )
    val_set = encoder.dataset(val_pairs)
    log.info(
        "data: %s training and %s validation pairs, vocabularies of %s (source) and %s (target)%s",
        f"{len(train_set):,}",
        f"{len(val_set):,}",
        f"{len(encoder.src_vocab):,}",
        f"{len(encoder.tgt_vocab):,}",
        ", joint" if cfg.text.joint_vocab else "",
    )
    model = build_translator(cfg, encoder)
    system = build_task(cfg, model, encoder, references(cfg, val_pairs))
    datamodule = TextDataModule.from_config(
        cfg,
        train=train_set,
        val=val_set,
        pad_index=encoder.pad_index,
        collate=Seq2SeqCollator(encoder.pad_index),
    )
    return Prepared(
        system=system,
        model=model,
        datamodule=datamodule,
        save=encoder.save,
        data={
            "train_pairs": len(train_set),
            "dropped_train_pairs": train_set.dropped,
            "val_pairs": len(val_set),
            "src_vocab_size": len(encoder.src_vocab),
            "tgt_vocab_size": len(encoder.tgt_vocab),
            "parameters": sum(p.numel() for p in model.parameters()),
        },
    )


def read_parallel_splits(cfg: TranslateConfig) -> tuple[list[SentencePair], list[SentencePair]]:
    data = cfg.data
    common = dict(direction=data.direction, variant=data.variant)
    train = load_parallel(data.train, src=data.train_src, tgt=data.train_tgt, **common)
    val = load_parallel(data.val, src=data.val_src, tgt=data.val_tgt, **common)
    return train, val


def references(cfg: TranslateConfig, pairs: Sequence[SentencePair]) -> list[str]:
    """The target sentences as BLEU compares them (lower-cased when the model lower-cases)."""
    return [p.tgt.lower() if cfg.text.lowercase else p.tgt for p in pairs]


def fit_parallel_encoder(cfg: TranslateConfig, pairs: Sequence[SentencePair]) -> ParallelEncoder:
    """Tokenizer and vocabularies from the training pairs alone."""
    return ParallelEncoder.fit(
        pairs,
        tokenizer=cfg.text.tokenizer,
        bpe_vocab_size=cfg.text.bpe_vocab_size,
        lowercase=cfg.text.lowercase,
        min_freq=cfg.text.min_freq,
        max_vocab_size=cfg.text.max_vocab_size,
        joint=cfg.text.joint_vocab,
    )


def build_task(
    cfg: TranslateConfig, model: nn.Module, encoder: ParallelEncoder, val_references: list[str]
) -> TranslationTask:
    t, d = cfg.training, cfg.decoding
    return TranslationTask(
        model,
        pad_index=encoder.pad_index,
        sos_index=encoder.sos_index,
        eos_index=encoder.eos_index,
        forbidden=encoder.forbidden,
        to_text=lambda ids: encoder.detokenize(encoder.decode_target(ids)),
        val_references=val_references,
        bleu_tokenize=bleu_tokenize(cfg, named=cfg.data.val is not None),
        label_smoothing=t.label_smoothing,
        teacher_forcing=t.teacher_forcing,
        scheduled_sampling=t.scheduled_sampling,
        scheduled_sampling_k=t.scheduled_sampling_k,
        teacher_forcing_min=t.teacher_forcing_min,
        val_beam_size=d.val_beam_size,
        length_penalty=d.length_penalty,
        max_length_a=d.max_length_a,
        max_length_b=d.max_length_b,
        optim=OptimSettings.from_config(
            cfg.optim, monitor=cfg.trainer.monitor, warmup_steps=cfg.optim.warmup_steps
        ),
    )
