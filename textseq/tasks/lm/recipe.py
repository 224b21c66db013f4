"""Setting up the training of a language model (`task: lm`).

The steps: read the corpus splits; fit the vocabulary on the training split only; cut each
split into contiguous streams read in windows for truncated BPTT; build the model and its
Lightning system. `textseq.training` runs the rest.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from textseq.data.datamodule import ResumableLoader
from textseq.errors import ConfigError, DataError
from textseq.optim import OptimSettings
from textseq.tasks.base import Prepared
from textseq.tasks.lm.build import LM_SPECIALS, build_language_model, is_character_level
from textseq.tasks.lm.config import LMConfig
from textseq.tasks.lm.data import BPTTWindows, batchify, corpus_ids, read_corpus_lines
from textseq.tasks.lm.system import LanguageModelTask
from textseq.text.pipeline import TextPipeline, cleaner_of, load_pipeline, save_pipeline
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import Vocabulary
from textseq.vectors import configured_vectors, vectors_matrix

log = logging.getLogger("textseq")


def prepare(cfg: LMConfig, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
    """The language model `cfg` describes, its system and its windows of the corpus; a
    resumed run (`resume_dir`) keeps the run's vocabulary."""
    # The windows are an IterableDataset read in one process; its length only sizes the
    # progress bar, which Lightning warns about for no reason here.
    warnings.filterwarnings("ignore", message=".*`IterableDataset` has `__len__` defined.*")
    train_lines, val_lines = read_splits(cfg)
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
    keyed_vectors = configured_vectors(cfg.model.embedding, checkpoint=checkpoint)
    pretrained, coverage = vectors_matrix(
        pipeline.vocab,
        keyed_vectors,
        unknown_init=cfg.model.embedding.unknown_init,
        seed=cfg.seed,
    )
    model = build_language_model(cfg, vocab=pipeline.vocab, pretrained=pretrained)
    system = LanguageModelTask(
        model,
        optim=OptimSettings.from_config(cfg.optim, monitor=cfg.trainer.monitor),
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
    return Prepared(
        system=system,
        model=model,
        datamodule=datamodule,
        save=lambda directory: save_pipeline(pipeline, directory),
        data={
            "train_tokens": train_ids.numel(),
            "val_tokens": val_ids.numel(),
            "vocab_size": len(pipeline.vocab),
            "level": "character" if is_character_level(cfg) else "word",
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


class LMDataModule(pl.LightningDataModule):
    """Contiguous training and validation windows. Windows must be read in order, so there is
    no shuffling and no worker processes.

    Under data-parallel training (W processes) the training stream is cut into W*B contiguous
    streams and process r reads streams [r*B, (r+1)*B): its own contiguous part of the corpus,
    with as many windows as every other process. The validation stream is cut into B'
    (`eval_batch_size`) streams exactly as in one process, and each process reads a contiguous
    block of them; `val_nll` sums every process's tokens, so the validation perplexity is that
    of the whole stream whatever W is (up to the order of floating-point sums).
    """

    def __init__(
        self,
        *,
        train: torch.Tensor,
        val: torch.Tensor,
        batch_size: int,
        eval_batch_size: int,
        bptt: int,
        variable_bptt: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.train_ids, self.val_ids = train, val
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.bptt, self.variable_bptt, self.seed = bptt, variable_bptt, seed
        batchify(train, batch_size)  # too short a corpus is refused before training starts
        batchify(val, eval_batch_size)

    def _replicas(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_dataloader(self) -> DataLoader:
        world, rank = self._replicas()
        streams = batchify(self.train_ids, self.batch_size * world)  # (W*B, N)
        mine = streams[rank * self.batch_size : (rank + 1) * self.batch_size]  # (B, N)
        windows = BPTTWindows(mine, bptt=self.bptt, variable=self.variable_bptt, seed=self.seed)
        return ResumableLoader(windows, batch_size=None, generator=_own_generator())

    def val_dataloader(self) -> DataLoader:
        world, rank = self._replicas()
        if self.eval_batch_size < world:
            raise ConfigError(
                f"data.eval_batch_size ({self.eval_batch_size}) must be at least the number of "
                f"processes ({world}): each process reads its own validation streams"
            )
        streams = batchify(self.val_ids, self.eval_batch_size)  # (B', N')
        mine = torch.tensor_split(streams, world)[rank]  # (about B'/W, N')
        windows = BPTTWindows(mine, bptt=self.bptt)
        return DataLoader(windows, batch_size=None, generator=_own_generator())


def _own_generator() -> torch.Generator:
    """A DataLoader's own generator: starting an iterator draws a seed from it, which would
    otherwise advance the global generator that dropout uses, so a resumed run (which starts
    iterators at other moments) would see other dropout masks."""
    return torch.Generator().manual_seed(0)


def read_splits(cfg: LMConfig) -> tuple[list[str], list[str]]:
    """The training and validation lines as training reads them (baselines use the same)."""
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
    cleaner = cleaner_of(cfg.text)
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
