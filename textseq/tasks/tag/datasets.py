"""The named tagging datasets (conll2003): where they come from and how their splits are
prepared, on the catalog engine of `textseq.data.catalog`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textseq.data.catalog import Converted, RemoteFile, named_split, prepared_file
from textseq.errors import DataError
from textseq.tasks.tag.conll import TaggedSentence, read_conll
from textseq.text.tags import normalise_bio


@dataclass(frozen=True)
class NamedTaggedDataset:
    """A public CoNLL-style tagging dataset with one or more tag sets per token. Each split and
    tag set is kept as `<folder>/<split>.<suffix>.tsv.gz` (`token<TAB>tag`, a blank line
    between sentences) in the mirror and the cache."""

    name: str
    folder: str
    description: str
    tag_sets: dict[str, str]  # tag set (ner, pos) -> file suffix (bio, pos)
    split_sizes: dict[str, int]  # the official number of sentences in each split
    downloads: dict[str, RemoteFile]  # split -> its original file
    convert: Callable[[Path, str], list[list[tuple[str, str]]]] = field(repr=False)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_sizes)


def _conll2003(original: Path, tag_set: str) -> list[list[tuple[str, str]]]:
    """Sentences of (token, tag) from an original `eng.*` file (`token POS chunk NER-IOB1`):
    NER tags rewritten from IOB1 to BIO (entity spans unchanged), or the POS column."""
    column = {"ner": 3, "pos": 1}[tag_set]
    sentences = read_conll(original, token_column=0, tag_column=column)
    rows = []
    for sentence in sentences:
        tags = normalise_bio(sentence.tags) if tag_set == "ner" else sentence.tags
        rows.append(list(zip(sentence.tokens, tags, strict=True)))
    return rows


_HSCRF = "https://raw.githubusercontent.com/ZhixiuYe/HSCRF-pytorch/86bb64890317b74517c5ad44b47c66635df327d8/data"

TAGGED_DATASETS: dict[str, NamedTaggedDataset] = {
    dataset.name: dataset
    for dataset in (
        NamedTaggedDataset(
            name="conll2003",
            folder="conll2003",
            description="CoNLL-2003 English NER (Tjong Kim Sang and De Meulder 2003), with POS",
            tag_sets={"ner": "bio", "pos": "pos"},
            split_sizes={"train": 14041, "dev": 3250, "test": 3453},
            # No checksum is published for the original files; they are pinned to a commit
            # and checked by their sentence counts (the official ones) instead.
            downloads={
                "train": RemoteFile(url=f"{_HSCRF}/eng.train"),
                "dev": RemoteFile(url=f"{_HSCRF}/eng.testa"),
                "test": RemoteFile(url=f"{_HSCRF}/eng.testb"),
            },
            convert=_conll2003,
        ),
    )
}


def parse_named_tagged(spec: str) -> tuple[NamedTaggedDataset, str] | None:
    """(dataset, split) when `spec` is `NAME:SPLIT` for a known tagging dataset, else None."""
    return named_split(spec, TAGGED_DATASETS, kind="dataset")


def prepared_tagged_split(
    dataset: NamedTaggedDataset, split: str, tag_set: str, *, download: bool = True
) -> Path:
    """The path of a split's `token<TAB>tag` file for `tag_set` in the mirror or the cache,
    downloading and converting the original file (once) if need be."""
    if tag_set not in dataset.tag_sets:
        raise DataError(
            f"dataset {dataset.name!r} has no tag set {tag_set!r}; it has "
            f"{', '.join(dataset.tag_sets)}"
        )

    def to_conll(files: dict[str, Path]) -> Converted:
        sentences = dataset.convert(files[split], tag_set)
        text = "\n".join("".join(f"{t}\t{g}\n" for t, g in rows) for rows in sentences)
        return Converted(text=text, size=len(sentences))

    return prepared_file(
        dataset,
        split,
        f"{split}.{dataset.tag_sets[tag_set]}.tsv.gz",
        downloads={split: dataset.downloads[split]},
        convert=to_conll,
        official_size=dataset.split_sizes[split],
        size_in_words="converted to {} sentences",
        download=download,
    )


def load_tagged(
    spec: str, *, tag_set: str = "ner", token_column: int = 0, tag_column: int | None = -1
) -> list[TaggedSentence]:
    """Sentences from a CoNLL file or a named dataset `NAME:SPLIT` (`conll2003:train`), whose
    tags are those of `tag_set` (`ner`: BIO entity tags, `pos`: part-of-speech tags)."""
    named = parse_named_tagged(spec)
    if named is not None:
        dataset, split = named
        path = prepared_tagged_split(dataset, split, tag_set)
        return read_conll(path, token_column=0, tag_column=None if tag_column is None else 1)
    if ":" in spec and not Path(spec).exists():
        raise DataError(
            f"{spec!r} is neither a file nor a known tagging dataset NAME:SPLIT (known: "
            f"{', '.join(TAGGED_DATASETS)})"
        )
    return read_conll(spec, token_column=token_column, tag_column=tag_column)
