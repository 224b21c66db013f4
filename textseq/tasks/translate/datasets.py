"""The named parallel corpora (multi30k): where each side of a split comes from and how it is
kept, on the catalog engine of `textseq.data.catalog`."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textseq.data.catalog import Converted, RemoteFile, named_split, prepared_file
from textseq.errors import DataError


@dataclass(frozen=True)
class NamedParallelCorpus:
    """A public parallel corpus: for each split, one file per language whose line i is the
    translation of line i of the other, in one or more variants (`raw` text; `tok`, the
    official lower-cased tokenised files). Each file is kept as
    `<folder>/<split><infix>.<lang>.gz` in the mirror and the cache (`infix` is `` for raw,
    `.lc.norm.tok` for tok)."""

    name: str
    folder: str
    description: str
    languages: tuple[str, ...]
    split_lines: dict[str, int]  # the official number of sentence pairs in each split
    variants: dict[str, str]  # variant -> file-name infix
    downloads: dict[tuple[str, str, str], RemoteFile]  # (variant, split, lang) -> its original
    convert: Callable[[Path, str], str] = field(repr=False)  # (original, variant) -> text

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_lines)

    def filename(self, split: str, lang: str, variant: str) -> str:
        return f"{split}{self.variants[variant]}.{lang}.gz"


def _multi30k(original: Path, variant: str) -> str:
    """The upstream file as the offline copy keeps it: raw lines stripped of surrounding
    whitespace with tabs made spaces (40 German training lines end in spaces, one holds a
    tab); tokenised files unchanged."""
    if original.suffix == ".gz":
        text = gzip.decompress(original.read_bytes()).decode("utf-8")
    else:
        text = original.read_text(encoding="utf-8")
    if variant == "tok":
        return text
    return "".join(line.strip().replace("\t", " ") + "\n" for line in text.splitlines())


_MULTI30K = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1"
_MULTI30K_UPSTREAM_SPLIT = {"train": "train", "val": "val", "test2016": "test_2016_flickr"}
# sha256 of the tokenised files as published (the offline copy gzips them unchanged, so these
# are also the sha256 of its files once decompressed). The raw files were cleaned in the copy
# (see `_multi30k`), so no checksum of the originals is known here: they are pinned to the
# commit and checked by their line counts.
_MULTI30K_TOK_SHA256 = {
    ("train", "de"): "cb5a23529b65ec2061f1dc446192a9c37382b63cc75f81a0be59d34894b3a505",
    ("train", "en"): "08925f8e0572bcd5a006702fc5fe20e2d77c6917d4eebd576fc20de6693c2119",
    ("val", "de"): "97232bd273eceb7207f689527386a97e4be2616b18ada47576bdaf96c8ae1f00",
    ("val", "en"): "46573ce391ae227f1c72f873392436a20ef18e0a6d518098cfbd70b77c8572ec",
    ("test2016", "de"): "c6a33d39d48f9f510de147651316cd9d918e09ad0219df734a2f16b6baccacc4",
    ("test2016", "en"): "5b7f32627cf99eced828311b955dae9800bb52bc8b91cf8b6526829e605b29d2",
}


def _multi30k_downloads() -> dict[tuple[str, str, str], RemoteFile]:
    downloads = {}
    for split, upstream in _MULTI30K_UPSTREAM_SPLIT.items():
        for lang in ("de", "en"):
            downloads["raw", split, lang] = RemoteFile(url=f"{_MULTI30K}/raw/{upstream}.{lang}.gz")
            downloads["tok", split, lang] = RemoteFile(
                url=f"{_MULTI30K}/tok/{upstream}.lc.norm.tok.{lang}",
                sha256=_MULTI30K_TOK_SHA256[split, lang],
                where_checksum_is_published="computed here from the offline copy",
            )
    return downloads


PARALLEL_CORPORA: dict[str, NamedParallelCorpus] = {
    corpus.name: corpus
    for corpus in (
        NamedParallelCorpus(
            name="multi30k",
            folder="multi30k_de_en",
            description="Multi30k task 1 (Elliott et al. 2016): German-English image captions",
            languages=("de", "en"),
            split_lines={"train": 29000, "val": 1014, "test2016": 1000},
            variants={"raw": "", "tok": ".lc.norm.tok"},
            downloads=_multi30k_downloads(),
            convert=_multi30k,
        ),
    )
}


def parse_named_parallel(spec: str) -> tuple[NamedParallelCorpus, str] | None:
    """(corpus, split) when `spec` is `NAME:SPLIT` for a known parallel corpus, else None."""
    return named_split(spec, PARALLEL_CORPORA, kind="corpus")


def prepared_parallel_file(
    corpus: NamedParallelCorpus, split: str, lang: str, variant: str, *, download: bool = True
) -> Path:
    """The path of one side of a split (`lang`, `variant`) in the mirror or the cache,
    downloading it (once, checksum-verified when a checksum is known) if need be."""
    if lang not in corpus.languages:
        raise DataError(
            f"corpus {corpus.name!r} has no language {lang!r}; it has {', '.join(corpus.languages)}"
        )
    if variant not in corpus.variants:
        raise DataError(
            f"corpus {corpus.name!r} has no variant {variant!r}; it has "
            f"{', '.join(corpus.variants)}"
        )

    def side(files: dict[str, Path]) -> Converted:
        text = corpus.convert(files[variant], variant)
        return Converted(text=text, size=text.count("\n"))

    return prepared_file(
        corpus,
        split,
        corpus.filename(split, lang, variant),
        downloads={variant: corpus.downloads[variant, split, lang]},
        convert=side,
        official_size=corpus.split_lines[split],
        size_in_words=f"({lang}, {variant}) has {{}} lines",
        download=download,
    )
