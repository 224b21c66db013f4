"""Lightning DataModule over already-encoded train and validation sets, and the DataLoader
that lets a run resume inside an epoch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from textseq.config.base import TaskConfig
from textseq.data.batching import BucketBatchSampler, Collator, EncodedDataset


class ResumableLoader(DataLoader):
    """A DataLoader that a run resumed from a checkpoint saved inside an epoch continues where
    it was: Lightning saves `state_dict()` with every checkpoint and gives it back to
    `load_state_dict` before the resumed epoch's first batch is read.

    `consumed` (the batches of epoch `epoch` trained on) is set by the run itself (see
    `textseq.checkpointing.MidEpochState`): the loader cannot tell, because Lightning reads a
    batch ahead. The next iteration after `load_state_dict` reads that epoch's batches (its
    sampler and dataset are told the epoch: Lightning tells them only after it has started
    reading) and skips the consumed ones; the batches of an epoch depend only on (seed, epoch),
    so the rest are those of the uninterrupted run.
    """

    consumed = 0
    epoch = 0
    _skip = 0

    def state_dict(self) -> dict[str, Any]:
        return {"consumed": self.consumed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._skip = self.consumed = int(state.get("consumed", 0))
        self.epoch = int(state.get("epoch", 0))
        if self._skip:
            for part in (self.batch_sampler, self.dataset):
                if hasattr(part, "set_epoch"):
                    part.set_epoch(self.epoch)

    def __iter__(self) -> Iterator[Any]:
        skip, self._skip = self._skip, 0
        for index, batch in enumerate(super().__iter__()):
            if index >= skip:
                yield batch


class TextDataModule(pl.LightningDataModule):
    """Length-bucketed, shuffled training batches; length-sorted validation batches.

    Under data-parallel training each process reads its own share of the batches (the
    sampler shards them), so Lightning's own distributed sampler is not used. A process may
    get no validation batch (fewer batches than processes); the metrics gather every
    process's items (`textseq.distributed`), so that is allowed.
    """

    allow_zero_length_dataloader_with_multiple_devices = True

    def __init__(
        self,
        *,
        train: EncodedDataset,
        val: EncodedDataset,
        pad_index: int,
        batch_size: int,
        eval_batch_size: int,
        bucket: bool = True,
        seed: int = 0,
        num_workers: int = 0,
        collate: Callable | None = None,
    ):
        super().__init__()
        self.train_set = train
        self.val_set = val
        # Any dataset with per-item `lengths` fits; `collate` pads its items (default: token
        # ids into a TextBatch).
        self.collate = collate if collate is not None else Collator(pad_index)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.bucket = bucket
        self.seed = seed
        self.num_workers = num_workers

    @classmethod
    def from_config(
        cls,
        cfg: TaskConfig,
        *,
        train: EncodedDataset,
        val: EncodedDataset,
        pad_index: int,
        collate: Callable | None = None,
    ) -> TextDataModule:
        """The batches a task's config asks for: `data.batch_size`, `data.eval_batch_size`,
        `data.bucket` and `data.num_workers`, shuffled from `seed`."""
        return cls(
            train=train,
            val=val,
            pad_index=pad_index,
            batch_size=cfg.data.batch_size,
            eval_batch_size=cfg.data.eval_batch_size,
            bucket=cfg.data.bucket,
            seed=cfg.seed,
            num_workers=cfg.data.num_workers,
            collate=collate,
        )

    def _replicas(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def _loader(self, dataset: EncodedDataset, sampler: BucketBatchSampler) -> DataLoader:
        return ResumableLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Its own generator: starting an iterator draws a worker seed, which would
            # otherwise advance the global generator that dropout uses, so a resumed run
            # (which starts iterators at other moments) would see other dropout masks.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        num_replicas, rank = self._replicas()
        sampler = BucketBatchSampler(
            self.train_set.lengths,
            batch_size=self.batch_size,
            shuffle=True,
            bucket=self.bucket,
            seed=self.seed,
            num_replicas=num_replicas,
            rank=rank,
            even=True,
        )
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader:
        num_replicas, rank = self._replicas()
        sampler = BucketBatchSampler(
            self.val_set.lengths,
            batch_size=self.eval_batch_size,
            shuffle=False,
            num_replicas=num_replicas,
            rank=rank,
            even=False,
        )
        return self._loader(self.val_set, sampler)
