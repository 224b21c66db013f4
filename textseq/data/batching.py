"""From token ids to padded batches: length-bucketed sampling, padding, lengths and masks.

Shapes: B batch size, T longest sequence in the batch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Sampler


@dataclass
class TextBatch:
    """A padded batch. `lengths` stays on the CPU-friendly int64 dtype packing needs."""

    token_ids: torch.Tensor  # (B, T) int64, padded with the pad id
    lengths: torch.Tensor  # (B,) int64, true lengths, all >= 1
    labels: torch.Tensor | None = None  # (B,) int64
    index: torch.Tensor | None = None  # (B,) positions of the examples in their dataset

    @property
    def mask(self) -> torch.Tensor:
        """(B, T) bool, True at real tokens."""
        positions = torch.arange(self.token_ids.size(1), device=self.token_ids.device)
        return positions[None, :] < self.lengths[:, None]

    def __len__(self) -> int:
        return self.token_ids.size(0)


class EncodedDataset(Dataset):
    """Token-id sequences with optional label ids; item i is (i, ids, label)."""

    def __init__(self, token_ids: Sequence[Sequence[int]], labels: Sequence[int] | None = None):
        if labels is not None and len(labels) != len(token_ids):
            raise ValueError(f"{len(token_ids)} sequences but {len(labels)} labels")
        if any(len(ids) == 0 for ids in token_ids):
            raise ValueError("every sequence needs at least one token")
        self.token_ids = [torch.as_tensor(ids, dtype=torch.long) for ids in token_ids]
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        self.lengths = [len(ids) for ids in token_ids]

    def __len__(self) -> int:
        return len(self.token_ids)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, int | None]:
        label = None if self.labels is None else int(self.labels[index])
        return index, self.token_ids[index], label


class Collator:
    """Pads dataset items into a `TextBatch` (a class, so worker processes can pickle it)."""

    def __init__(self, pad_index: int):
        self.pad_index = pad_index

    def __call__(self, items: list[tuple[int, torch.Tensor, int | None]]) -> TextBatch:
        indices, sequences, labels = zip(*items, strict=True)
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)  # (B,)
        token_ids = torch.nn.utils.rnn.pad_sequence(
            list(sequences), batch_first=True, padding_value=self.pad_index
        )  # (B, T)
        label_tensor = None if labels[0] is None else torch.tensor(labels, dtype=torch.long)
        return TextBatch(token_ids, lengths, label_tensor, torch.tensor(indices, dtype=torch.long))


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths in a shuffled order, so little compute goes to padding.

    Each epoch the indices are shuffled, cut into pools of `batch_size * pool_factor`, each pool
    sorted by length and cut into batches, and the batches shuffled. The order depends only on
    (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.

    For data-parallel training every replica takes every `num_replicas`-th batch. With
    `even=True` (training) all replicas get the same number of batches, as DDP's gradient
    synchronisation requires, and up to `num_replicas - 1` batches are left out each epoch;
    evaluation keeps every batch (`even=False`).
    With `shuffle=False` batches come in length order (the fastest way to evaluate).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        batch_size: int,
        shuffle: bool = True,
        bucket: bool = True,
        pool_factor: int = 50,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        even: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be positive")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank ({rank}) must be in [0, num_replicas ({num_replicas}))")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.bucket = bucket
        self.pool_size = batch_size * pool_factor
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.even = even
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        if self.bucket:
            pool_size = self.pool_size if self.shuffle else max(len(order), 1)
            pools = [order[i : i + pool_size] for i in range(0, len(order), pool_size)]
            order = [i for pool in pools for i in sorted(pool, key=self.lengths.__getitem__)]
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        if self.num_replicas > 1:
            mine = batches[self.rank :: self.num_replicas]
            batches = mine[: len(batches) // self.num_replicas] if self.even else mine
        yield from batches

    def __len__(self) -> int:
        count = math.ceil(len(self.lengths) / self.batch_size)
        if self.num_replicas == 1:
            return count
        if self.even:
            return count // self.num_replicas
        return len(range(self.rank, count, self.num_replicas))
