"""The catalog engine: where a named dataset's files come from, how they are checked, where they
are kept. Each task lists its own named datasets (the catalog entries and their converters) in
its `datasets.py`; this module knows none of them.

A named dataset is written `NAME:SPLIT` (`sst2:train`, `ptb:valid`). Each of its prepared files
is looked up in order:

1. the mirror directory named by `$TEXTSEQ_DATASETS` (unset: `../shared/datasets` beside a
   source checkout, if it exists), laid out like the project's offline copy
   (`<mirror>/sst2_glue/train.tsv.gz`, ...): no network is used;
2. the cache, `$TEXTSEQ_CACHE/datasets/` (default `~/.cache/textseq/datasets/`), which has the
   same layout;
3. the canonical public source: the files are downloaded once into `$TEXTSEQ_CACHE/downloads/`,
   their checksums verified, converted, checked against the official size of the split and
   written gzip'd into the cache.

A prepared file is gzip'd UTF-8 text (a TSV, a CoNLL file, plain lines), so one reader serves
mirror and cache alike; it is written with gzip mtime 0, so the same download always gives the
same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from textseq.atomic import write_atomically
from textseq.errors import DataError
from textseq.progress import Progress

MIRROR_ENV = "TEXTSEQ_DATASETS"
CACHE_ENV = "TEXTSEQ_CACHE"
log = logging.getLogger("textseq")


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


class CatalogEntry(Protocol):
    """What the engine needs of a named dataset: its name, its folder in the mirror and the
    cache, and its splits."""

    @property
    def name(self) -> str: ...

    @property
    def folder(self) -> str: ...

    @property
    def splits(self) -> tuple[str, ...]: ...


Entry = TypeVar("Entry", bound=CatalogEntry)


@dataclass(frozen=True)
class Converted:
    """A prepared file made from its downloads: its text and its size as the official split
    counts it (examples, sentences or lines)."""

    text: str
    size: int
    # The classification TSVs have always ended with a zlib sync flush (their writer flushed a
    # text wrapper before closing): kept, so that a split converted now is byte for byte the one
    # in caches written before. It changes the compressed bytes only, never the text.
    sync_flush: bool = False


def cache_dir() -> Path:
    """Where downloads and prepared splits are kept."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "textseq")


# A source checkout's offline mirror: `shared/datasets` beside the checkout, as the scripts use.
BESIDE_CHECKOUT = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def mirror_dir() -> Path | None:
    """`$TEXTSEQ_DATASETS`; unset, the `shared/datasets` folder beside a source checkout when
    there is one, so that the README's commands find the mirror the scripts find."""
    value = os.environ.get(MIRROR_ENV)
    if value:
        return Path(value)
    return BESIDE_CHECKOUT if BESIDE_CHECKOUT.is_dir() else None


def fetch(remote: RemoteFile) -> Path:
    """Downloads `remote` into the cache once, verifying its checksum; the bytes received are
    counted on a progress line (stderr, see textseq.progress)."""
    target = cache_dir() / "downloads" / remote.filename
    if target.is_file():
        return target

    def download(partial: Path) -> None:
        sha256, md5 = hashlib.sha256(), hashlib.md5()
        request = urllib.request.Request(remote.url, headers={"User-Agent": "textseq"})
        with urllib.request.urlopen(request, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with Progress(f"download {remote.filename}", total=total, unit="bytes") as shown:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    shown.update(len(chunk))
        checks = (("sha256", remote.sha256, sha256), ("md5", remote.md5, md5))
        for name, expected, digest in checks:
            if expected and digest.hexdigest() != expected:
                raise DataError(
                    f"checksum mismatch for {remote.url}: {name} {digest.hexdigest()}, "
                    f"expected {expected}; the download was damaged or the file changed upstream"
                )

    # A damaged download (wrong checksum, broken connection) leaves nothing in the cache.
    return write_atomically(target, download)


def named_split(spec: str, registry: Mapping[str, Entry], *, kind: str) -> tuple[Entry, str] | None:
    """(entry, split) when `spec` is `NAME:SPLIT` with NAME in `registry`, else None; an
    unknown split of a known name is an error listing the splits there are. `kind` names what
    the registry holds in that error (`dataset`, `corpus`)."""
    name, sep, split = spec.partition(":")
    if not sep or name not in registry:
        return None
    entry = registry[name]
    if split not in entry.splits:
        raise DataError(
            f"{kind} {name!r} has no split {split!r}; its splits are {', '.join(entry.splits)}"
        )
    return entry, split


def prepared_file(
    entry: CatalogEntry,
    split: str,
    filename: str,
    *,
    downloads: Mapping[str, RemoteFile],
    convert: Callable[[dict[str, Path]], Converted],
    official_size: int,
    size_in_words: str,
    download: bool = True,
) -> Path:
    """The path of the file `<entry.folder>/<filename>` of `entry`'s `split`, from the mirror or
    the cache. When neither has it and `download` is on, every file of `downloads` is fetched
    (once, checksum-verified), `convert` turns them (key -> local path) into the file's text and
    its size, the size is checked against `official_size` (0: not checked) and the text is
    written into the cache.

    `size_in_words` says the size in the error for a wrong one, `{}` standing for the number:
    `converted to {} examples`, `has {} lines`."""
    mirror = mirror_dir()
    if mirror is not None and (mirror / entry.folder / filename).is_file():
        return mirror / entry.folder / filename
    cached = cache_dir() / "datasets" / entry.folder / filename
    if cached.is_file():
        return cached
    if not download:
        raise DataError(
            _not_available(entry, split, filename, downloads, "downloads are switched off")
        )
    try:
        files = {key: fetch(remote) for key, remote in downloads.items()}
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DataError(_not_available(entry, split, filename, downloads, str(error))) from None
    log.info("preparing %s:%s (%s) from %s", entry.name, split, filename, _names(files))
    started = time.perf_counter()
    converted = convert(files)
    seconds = time.perf_counter() - started
    if official_size and converted.size != official_size:
        raise DataError(
            f"{entry.name}:{split} {size_in_words.format(converted.size)}, but the official "
            f"split has {official_size}; the download may be damaged: delete {cache_dir()} and "
            "retry"
        )
    write_atomically(cached, lambda temporary: _write_gzip_text(temporary, converted))
    size = size_in_words.format(f"{converted.size:,}")
    log.info("prepared %s:%s (%s) in %.1f s: %s", entry.name, split, size, seconds, cached)
    return cached


def _names(files: Mapping[str, Path]) -> str:
    return ", ".join(path.name for path in files.values())


def _not_available(
    entry: CatalogEntry,
    split: str,
    filename: str,
    downloads: Mapping[str, RemoteFile],
    reason: str,
) -> str:
    """Why `entry`'s `split` is missing and both ways to provide it."""
    urls = ", ".join(remote.url for remote in downloads.values())
    where = f"{entry.folder}/{filename}"
    mirror = os.environ.get(MIRROR_ENV)
    mirror_note = f" (it is set to {mirror}, which has no {where})" if mirror else ""
    return (
        f"dataset {entry.name}:{split} is not available: {reason}. Provide it either way: "
        f"(1) with internet access, textseq downloads it from {urls} into "
        f"{cache_dir() / 'datasets'} (set ${CACHE_ENV} to move the cache); or (2) set "
        f"${MIRROR_ENV} to a directory holding {where} "
        f"(the layout of the project's offline datasets folder){mirror_note}"
    )


def _write_gzip_text(path: Path, converted: Converted) -> None:
    """Writes `converted.text` gzip'd as UTF-8: filename="" keeps the temporary file's name out
    of the gzip header and mtime=0 the clock, so the same text always gives the same bytes."""
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as compressed:
        compressed.write(converted.text.encode("utf-8"))
        if converted.sync_flush:
            compressed.flush()
