"""Labelled texts for classification: a data spec (a file path, `NAME:SPLIT`, `hf:...`,
`hf-disk:...`) or rows in memory, into examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textseq.data.readers import TextExample, read_examples
from textseq.data.sources import is_source_spec, read_source
from textseq.errors import DataError
from textseq.tasks.classify.datasets import DATASETS, load_named, parse_named


def load_examples(
    spec: str | Any,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
) -> list[TextExample]:
    """Examples from a named dataset split (`sst2:dev`), a file (`reviews.csv.gz`,
    `reviews.parquet`), a Hugging Face dataset (`hf:stanfordnlp/sst2:validation`,
    `hf-disk:data/sst2:train`) or rows in memory (see `textseq.data.sources`).

    Column names apply to all but named datasets, which know their own columns.
    """
    if is_source_spec(spec):
        return read_source(spec, text_column=text_column, label_column=label_column)
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
