"""Turns a data spec, a file path or `NAME:SPLIT`, into examples."""

from __future__ import annotations

import random
from pathlib import Path

from textseq.data.datasets import DATASETS, load_named, parse_named
from textseq.data.readers import TextExample, read_examples
from textseq.errors import DataError


def load_examples(
    spec: str,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
) -> list[TextExample]:
    """Examples from a named dataset split (`sst2:dev`) or a file (`reviews.csv.gz`).

    Column names apply to files only; named datasets know their own columns.
    """
    named = parse_named(spec)
    if named is not None:
        dataset, split = named
        return load_named(dataset, split)
    path = Path(spec).expanduser()
    if not path.exists():
        name = spec.partition(":")[0]
        hint = (
            f"; {name!r} is not a named dataset either (known: {', '.join(sorted(DATASETS))})"
            if ":" in spec
            else f"; named datasets are written NAME:SPLIT ({', '.join(sorted(DATASETS))})"
        )
        raise DataError(f"no such file: {spec}{hint}")
    return read_examples(path, text_column=text_column, label_column=label_column)


def split_off(
    examples: list[TextExample], fraction: float, *, seed: int
) -> tuple[list[TextExample], list[TextExample]]:
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
