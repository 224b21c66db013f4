"""Labelled texts for classification: a data spec, a file path or `NAME:SPLIT`, into
examples."""

from __future__ import annotations

from pathlib import Path

from textseq.data.readers import TextExample, read_examples
from textseq.errors import DataError
from textseq.tasks.classify.datasets import DATASETS, load_named, parse_named


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
