"""Seeded subsets and held-out splits of a list of examples (texts, sentences, pairs)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from textseq.errors import DataError

T = TypeVar("T")


def sample(examples: list[T], limit: int | None, seed: int) -> list[T]:
    """A seeded random subset of `limit` examples, in their original order."""
    if limit is None or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def split_off(examples: Sequence[T], fraction: float, *, seed: int) -> tuple[list[T], list[T]]:
    """A seeded random split into (rest, held-out fraction); order within each part is kept."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"data.val_fraction ({fraction}) must be between 0 and 1")
    held_out_count = max(1, round(len(examples) * fraction))
    if held_out_count >= len(examples):
        raise DataError(
            f"cannot hold out {fraction:.0%} of {len(examples)} training examples for "
            "validation and keep any for training"
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held_out = set(order[:held_out_count])
    rest = [e for i, e in enumerate(examples) if i not in held_out]
    return rest, [e for i, e in enumerate(examples) if i in held_out]
