"""Training a language model (`task: lm`): corpus in, model directory out.

The steps mirror `textseq.training.train`: read the corpus splits; fit the vocabulary on the
training split only; cut each split into contiguous streams; train the model with truncated
BPTT; write the model directory atomically. The helpers that are the same for every task
(output directory, trainer, weights, manifest) come from `textseq.training`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
import torch

from textseq.config import LMConfig, dump_yaml
from textseq.data.corpus import LMDataModule, read_corpus_lines
from textseq.errors import ConfigError, DataError
from textseq.model_dir import partial_dir
from textseq.tasks.language_modelling import LanguageModelTask
from textseq.text.pipeline import TextPipeline, build_cleaner, load_pipeline, save_pipeline
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import EOS, UNK, Vocabulary

log = logging.getLogger("textseq")

LM_SPECIALS = (UNK, EOS)  # no <pad>: contiguous streams are never padded


def is_character_level(cfg: LMConfig) -> bool:
    """Character models report bits per character; word (and subword) models perplexity."""
    return cfg.text.tokenizer == "characters"


def train_language_model(
    cfg: LMConfig,
    *,
    final: Path,
    resume_dir: Path | None = None,
    checkpoint: str | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Trains the language model `cfg` describes and returns its finished model directory."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from textseq.training import (
        _configured_vectors,
        _prepare_work_dir,
        _pretrained_vectors,
        fit_and_publish,
    )

    is_main = rank_zero_only.rank == 0
    work = partial_dir(final)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.threads is not None:
        torch.set_num_threads(cfg.trainer.threads)
    train_lines, val_lines = _read_splits(cfg)
    if resume_dir is not None:
        pipeline = load_pipeline(resume_dir, cfg.text, max_length=None)
    else:
        pipeline = fit_lm_pipeline(cfg, train_lines)
    train_ids = corpus_ids(pipeline, train_lines, limit=cfg.data.limit_train)
    val_ids = corpus_ids(pipeline, val_lines, limit=cfg.data.limit_val)
    log.info(
        "data: %s training and %s validation tokens, vocabulary of %s (%s level)",
        f"{train_ids.numel():,}",
        f"{val_ids.numel():,}",
        f"{len(pipeline.vocab):,}",
        "character" if is_character_level(cfg) else "word",
    )
    # A resumed run takes its weights from the checkpoint: the vectors would only be overwritten.
    keyed_vectors = None if checkpoint else _configured_vectors(cfg)
    pretrained, coverage = _pretrained_vectors(cfg, pipeline.vocab, keyed_vectors)
    model = build_language_model(cfg, vocab=pipeline.vocab, pretrained=pretrained)
    if is_main:
        _prepare_work_dir(work, resume_dir)
        (work / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
        save_pipeline(pipeline, work)
    task = LanguageModelTask(
        model,
        optimizer=cfg.optim.optimizer,
        lr=cfg.optim.lr,
        embedding_lr_scale=cfg.optim.embedding_lr_scale,
        weight_decay=cfg.optim.weight_decay,
        lr_factor=cfg.optim.lr_factor,
        lr_patience=cfg.optim.lr_patience,
        lr_decay_after=cfg.optim.lr_decay_after,
        bptt=cfg.data.bptt,
    )
    datamodule = LMDataModule(
        train=train_ids,
        val=val_ids,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        bptt=cfg.data.bptt,
        variable_bptt=cfg.data.variable_bptt,
        seed=cfg.seed,
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
            "train_tokens": train_ids.numel(),
            "val_tokens": val_ids.numel(),
            "vocab_size": len(pipeline.vocab),
            "level": "character" if is_character_level(cfg) else "word",
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


def _read_splits(cfg: LMConfig) -> tuple[list[str], list[str]]:
    train_lines = read_corpus_lines(cfg.data.train)
    if cfg.data.val is not None:
        return train_lines, read_corpus_lines(cfg.data.val)
    # A running text is held out at its end, not sampled: random lines would leak context.
    held_out = max(1, round(len(train_lines) * cfg.data.val_fraction))
    if held_out >= len(train_lines):
        raise DataError(
            f"cannot hold out {cfg.data.val_fraction:.0%} of {len(train_lines)} training lines "
            "for validation and keep any for training"
        )
    log.info(
        "validation: the last %s of %s training lines (data.val_fraction=%s)",
        f"{held_out:,}",
        f"{len(train_lines):,}",
        cfg.data.val_fraction,
    )
    return train_lines[:-held_out], train_lines[-held_out:]


def fit_lm_pipeline(cfg: LMConfig, train_lines: Sequence[str]) -> TextPipeline:
    """Cleaner, tokenizer and vocabulary (`<unk>`, `<eos>`, then the training tokens), all
    learnt from the training split alone."""
    cleaner = build_cleaner(
        lowercase=cfg.text.lowercase,
        strip_html=cfg.text.strip_html,
        remove_urls=cfg.text.remove_urls,
    )
    tokenizer = create_tokenizer(cfg.text.tokenizer, bpe_vocab_size=cfg.text.bpe_vocab_size)
    if hasattr(tokenizer, "fit"):
        log.info("fitting the %s tokenizer on the training text", cfg.text.tokenizer)
        tokenizer.fit(cleaner(line) for line in train_lines)
    unfitted = TextPipeline(cleaner, tokenizer, Vocabulary([], specials=LM_SPECIALS))
    vocab = Vocabulary.build(
        [unfitted.stream_tokens(train_lines)],
        min_freq=cfg.text.min_freq,
        max_size=cfg.text.max_vocab_size,
        specials=LM_SPECIALS,
    )
    return TextPipeline(cleaner, tokenizer, vocab)


def corpus_ids(
    pipeline: TextPipeline, lines: Sequence[str], *, limit: int | None = None
) -> torch.Tensor:
    """The corpus as one (L,) stream of token ids, cut to its first `limit` tokens."""
    ids = torch.tensor(pipeline.vocab.encode(pipeline.stream_tokens(lines)), dtype=torch.long)
    return ids if limit is None else ids[:limit]


def build_language_model(cfg: LMConfig, *, vocab: Vocabulary, pretrained=None):
    """The language model `cfg.model` describes, over `vocab`."""
    m = cfg.model
    if m.type == "rnn":
        from textseq.models.language_model import build_rnn_language_model

        return build_rnn_language_model(
            vocab_size=len(vocab),
            embedding_dim=m.embedding.dim,
            pretrained=pretrained,
            freeze_embeddings=m.embedding.freeze,
            embedding_dropout=m.embedding.dropout,
            word_dropout=m.embedding.word_dropout,
            unk_index=vocab.unk_index,
            cell=m.rnn.cell,
            hidden_size=m.rnn.hidden_size,
            num_layers=m.rnn.num_layers,
            dropout=m.rnn.dropout,
            tie_weights=m.tie_weights,
        )
    from textseq.models.transformer_lm import build_transformer_language_model

    t = m.transformer
    return build_transformer_language_model(
        vocab_size=len(vocab),
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        embedding_dropout=m.embedding.dropout,
        num_layers=t.num_layers,
        num_heads=t.num_heads,
        ff_dim=t.ff_dim,
        dropout=t.dropout,
        norm_first=t.norm_first,
        activation=t.activation,
        positional=t.positional,
        max_length=t.max_length,
        tie_weights=m.tie_weights,
    )


def nll_of(model, ids: torch.Tensor, *, batch_size: int, bptt: int) -> tuple[float, int]:
    """(total negative log-likelihood in nats, number of tokens scored) of the (L,) stream
    `ids`, read as `batch_size` contiguous streams in windows of `bptt`, state carried."""
    from textseq.data.corpus import BPTTWindows, batchify

    windows = BPTTWindows(batchify(ids, batch_size), bptt=bptt)
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.inference_mode():
        for inputs, targets in windows:
            logits, state = model(inputs, state)  # (B, T, V)
            total += float(
                torch.nn.functional.cross_entropy(
                    logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"
                )
            )
            count += targets.numel()
    return total, count


def summarize_nll(total: float, count: int, *, character_level: bool) -> dict:
    """loss (nats per token) and perplexity, or bits per character, for `count` tokens."""
    if count == 0:
        raise ConfigError("no tokens to score")
    loss = total / count
    result = {"loss": round(loss, 6), "tokens": count}
    if character_level:
        result["bits_per_character"] = round(loss / math.log(2), 6)
    else:
        result["perplexity"] = round(math.exp(loss), 4)
    return result
