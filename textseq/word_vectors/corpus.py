"""The texts word vectors are trained on: any data spec textseq reads, as sentences of
tokens made by textseq's own cleaner and tokenizer (so that the vectors fit the models that
will use them).

A corpus spec is one of:

- `NAME:SPLIT` of a named classification dataset (`imdb:train`, `sst2:train`): its texts,
  labels unused; or of a named language-modelling corpus (`ptb:train`,
  `tiny_shakespeare:train`): its lines;
- `NAME` alone: the texts of every split of that dataset or corpus (`imdb`: all 50,000
  reviews);
- a file: CSV, TSV or JSONL (its `text` column), or plain text (one text per line, optionally
  gzip'd).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from textseq.data.readers import detect_format
from textseq.errors import DataError
from textseq.tasks.classify.data import load_examples
from textseq.tasks.classify.datasets import DATASETS
from textseq.tasks.lm.data import read_corpus_lines
from textseq.tasks.lm.datasets import CORPORA
from textseq.text.cleaning import TextCleaner
from textseq.text.tokenizers import Tokenizer

TABLE_FORMATS = ("csv", "tsv", "jsonl")


def corpus_texts(spec: str) -> list[str]:
    """The texts of one corpus spec (see the module docstring)."""
    if spec in DATASETS:
        return [text for split in DATASETS[spec].splits for text in corpus_texts(f"{spec}:{split}")]
    if spec in CORPORA:
        return [
            line for split in CORPORA[spec].splits for line in read_corpus_lines(f"{spec}:{split}")
        ]
    name, sep, _ = spec.partition(":")
    if sep and name in CORPORA:
        return read_corpus_lines(spec)
    if sep and name in DATASETS:
        return [e.text for e in load_examples(spec, label_column=None)]
    path = Path(spec).expanduser()
    if not path.is_file():
        known = ", ".join(sorted({*DATASETS, *CORPORA}))
        raise DataError(
            f"no such corpus: {spec} (a file, or a named dataset or corpus, NAME or NAME:SPLIT, "
            f"of {known})"
        )
    if _format(path) in TABLE_FORMATS:
        return [e.text for e in load_examples(str(path), label_column=None)]
    return read_corpus_lines(str(path))


def _format(path: Path) -> str | None:
    try:
        return detect_format(path)
    except DataError:  # not a table: plain text
        return None


def tokenized_corpus(
    specs: Sequence[str], *, cleaner: TextCleaner, tokenizer: Tokenizer
) -> Iterator[list[str]]:
    """Every text of every spec as its list of tokens, cleaned by `cleaner` and split by
    `tokenizer` as a model's text pipeline does; texts left without a token are skipped."""
    for spec in specs:
        for text in corpus_texts(spec):
            if tokens := tokenizer.tokenize(cleaner(text)):
                yield tokens
