"""Pretrained word vectors (GloVe, word2vec, fastText) read through gensim `KeyedVectors`,
turned into an embedding matrix for a vocabulary.

`model.embedding.vectors` is a file path or a known name:

- `glove.6B.50d`, `glove.6B.100d`, `glove.6B.200d`, `glove.6B.300d`: Stanford GloVe 6B
  (Wikipedia + Gigaword, uncased), downloaded once from gensim-data's release (word2vec text
  format, md5-checked) into the cache. The 50-d vectors are read from the datasets mirror
  (`$TEXTSEQ_DATASETS/glove_6B_50d_subset/`) when there is one, with no network.

File formats (`model.embedding.vectors_format`, `auto` guesses from the name and first line):
`word2vec` (text with a `count dim` header; fastText `.vec` is the same), `word2vec_binary`
(`.bin`), `glove` (text without a header). Any of them may be gzip'd. A directory written by
`textseq vectors train` stands for its `vectors.bin`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textseq.atomic import write_atomically
from textseq.data.catalog import RemoteFile, cache_dir, fetch, mirror_dir
from textseq.errors import ConfigError, DataError
from textseq.text.vocab import Vocabulary

log = logging.getLogger(__name__)

VECTOR_FORMATS = ("auto", "word2vec", "word2vec_binary", "glove", "fasttext")
UNKNOWN_INITS = ("normal", "uniform", "zeros")


@dataclass(frozen=True)
class NamedVectors:
    mirror_path: str | None  # relative to the datasets mirror; None: download only
    remote: RemoteFile
    format: str
    dim: int


_GENSIM_DATA = "https://github.com/RaRe-Technologies/gensim-data/releases/download"
# md5 of each file as published in gensim-data's list.json.
_GLOVE_6B_MD5 = {
    50: "c289bc5d7f2f02c6dc9f2f9b67641813",
    100: "40ec481866001177b8cd4cb0df92924f",
    200: "59652db361b7a87ee73834a6c391dfc1",
    300: "29e9329ac2241937d55b852e8284e89b",
}

NAMED_VECTORS = {
    f"glove.6B.{dim}d": NamedVectors(
        # The offline datasets folder holds the 50-d vectors of every word of its datasets.
        mirror_path="glove_6B_50d_subset/glove.6B.50d.subset.w2v.txt.gz" if dim == 50 else None,
        remote=RemoteFile(
            url=f"{_GENSIM_DATA}/glove-wiki-gigaword-{dim}/glove-wiki-gigaword-{dim}.gz",
            md5=md5,
            where_checksum_is_published="piskvorky/gensim-data list.json",
        ),
        format="word2vec",
        dim=dim,
    )
    for dim, md5 in _GLOVE_6B_MD5.items()
}


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary the vectors cover."""

    types_found: int
    types: int
    tokens_found: int
    tokens: int

    def __str__(self) -> str:
        type_share = self.types_found / max(self.types, 1)
        text = f"{self.types_found:,} of {self.types:,} vocabulary words ({type_share:.1%})"
        if self.tokens:
            text += f", {self.tokens_found / self.tokens:.1%} of training tokens"
        return text


def resolve_vectors(spec: str, vectors_format: str = "auto") -> tuple[Path, str]:
    """(path, format) of the vectors named or pointed to by `spec`."""
    if vectors_format not in VECTOR_FORMATS:
        raise ConfigError(
            f"model.embedding.vectors_format ({vectors_format!r}) must be one of "
            f"{', '.join(VECTOR_FORMATS)}"
        )
    if spec in NAMED_VECTORS:
        named = NAMED_VECTORS[spec]
        mirror = mirror_dir()
        if named.mirror_path and mirror is not None and (mirror / named.mirror_path).is_file():
            return mirror / named.mirror_path, named.format
        try:
            return fetch(named.remote), named.format
        except OSError as error:
            offline = (
                f"set $TEXTSEQ_DATASETS to a directory holding {named.mirror_path}"
                if named.mirror_path
                else "download the file elsewhere and set model.embedding.vectors to its path"
            )
            raise DataError(
                f"word vectors {spec!r} are not available: {error}. Provide them either way: "
                f"(1) with internet access they are downloaded from {named.remote.url}; or "
                f"(2) {offline}"
            ) from None
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "vectors.bin").is_file():  # written by `textseq vectors train`
        path = path / "vectors.bin"
    if not path.is_file():
        known = ", ".join(NAMED_VECTORS)
        raise DataError(f"no such vectors file: {spec} (known vector names: {known})")
    return path, vectors_format if vectors_format != "auto" else _guess_format(path)


def _guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".bin"):
        return "word2vec_binary"
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
        first = stream.readline().split()
    has_header = len(first) == 2 and all(part.isdigit() for part in first)
    return "word2vec" if has_header else "glove"


def load_keyed_vectors(path: Path, vectors_format: str):
    """gensim `KeyedVectors` from a file in one of the supported formats."""
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(
            str(path),
            binary=vectors_format == "word2vec_binary",
            no_header=vectors_format == "glove",
            unicode_errors="replace",
        )
    except (ValueError, TypeError, EOFError, UnicodeDecodeError, OSError) as error:
        raise DataError(
            f"cannot read word vectors as {vectors_format}: {error}", path=path
        ) from None


def cached_keyed_vectors(path: Path, vectors_format: str):
    """`load_keyed_vectors`, parsed once: later calls read the cache (`$TEXTSEQ_CACHE/vectors/`)
    instead of parsing text again, which takes seconds for the 50-d GloVe subset (9 s for
    91,399 words, against 0.1 s cached) and minutes for the 400,000-word files. The cache entry
    is keyed by the file's absolute path, size and modification time, so an edited or replaced
    file is parsed afresh. A cache that cannot be read or written is skipped, never an error.

    The entry is one `.npz` file of two arrays, read with `allow_pickle=False`: the vectors
    and the word list as UTF-8 JSON bytes. Nothing in a (possibly shared) cache is unpickled,
    so a planted file cannot run code."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{vectors_format}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    cached = cache_dir() / "vectors" / f"{path.name}.{digest}.npz"
    if cached.is_file():
        try:
            return _read_cached(cached)
        except Exception as error:  # a damaged or planted entry is re-parsed
            log.warning("ignoring the unreadable vectors cache %s: %s", cached, error)
    keyed_vectors = load_keyed_vectors(path, vectors_format)
    try:
        # One file, so that one rename publishes it whole.
        write_atomically(cached, lambda partial: _write_cached(partial, keyed_vectors))
    except OSError as error:
        log.warning("cannot cache the parsed vectors in %s: %s", cached.parent, error)
    return keyed_vectors


def _write_cached(path: Path, keyed_vectors) -> None:
    words = json.dumps(list(keyed_vectors.index_to_key), ensure_ascii=False).encode("utf-8")
    with open(path, "wb") as file:
        np.savez(file, vectors=keyed_vectors.vectors, words=np.frombuffer(words, np.uint8))


def _read_cached(path: Path):
    from gensim.models import KeyedVectors

    with np.load(path, allow_pickle=False) as arrays:
        vectors = arrays["vectors"]
        words = json.loads(arrays["words"].tobytes().decode("utf-8"))
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"{len(words)} words for vectors of shape {vectors.shape}")
    keyed_vectors = KeyedVectors(vectors.shape[1], dtype=vectors.dtype)
    keyed_vectors.add_vectors(words, vectors)
    return keyed_vectors


def load_configured_vectors(vectors: str, vectors_format: str, dim: int):
    """The word vectors `model.embedding.vectors` names, checked against `model.embedding.dim`."""
    path, vectors_format = resolve_vectors(vectors, vectors_format)
    log.info("loading word vectors from %s", path)
    keyed_vectors = cached_keyed_vectors(path, vectors_format)
    if keyed_vectors.vector_size != dim:
        raise ConfigError(
            f"model.embedding.dim ({dim}) differs from the vectors' dimension "
            f"({keyed_vectors.vector_size}) in {path}; set model.embedding.dim="
            f"{keyed_vectors.vector_size}"
        )
    return keyed_vectors


def vector_words(keyed_vectors, *, lowercase: bool) -> list[str]:
    """The words `keyed_vectors` know, as a vocabulary would hold them (lower-cased when the
    text is), each once, in the vectors' order."""
    key = str.lower if lowercase else str
    return list(dict.fromkeys(key(word) for word in keyed_vectors.index_to_key))


def embedding_matrix(
    vocab: Vocabulary,
    keyed_vectors,
    *,
    unknown_init: str = "normal",
    seed: int = 0,
) -> tuple[torch.Tensor, Coverage]:
    """A (len(vocab), dim) float32 matrix: row i is the vector of token i.

    A token is looked up as written, then lower-cased. Tokens without a vector get
    `unknown_init`: `normal` draws from a normal distribution with the mean and standard
    deviation of the found vectors (so they sit among them), `uniform` from +-that deviation
    times sqrt(3), `zeros` leaves them at 0. The padding row is always zero.
    """
    if unknown_init not in UNKNOWN_INITS:
        raise ConfigError(
            f"model.embedding.unknown_init ({unknown_init!r}) must be one of "
            f"{', '.join(UNKNOWN_INITS)}"
        )
    dim = keyed_vectors.vector_size
    matrix = np.zeros((len(vocab), dim), dtype=np.float32)
    found = np.zeros(len(vocab), dtype=bool)
    key_to_index = keyed_vectors.key_to_index
    for index, token in enumerate(vocab.itos):
        if token in vocab.specials:
            continue
        key = token if token in key_to_index else token.lower()
        if key in key_to_index:
            matrix[index] = keyed_vectors.vectors[key_to_index[key]]
            found[index] = True
    if found.any():
        mean, std = matrix[found].mean(axis=0), matrix[found].std(axis=0)
    else:
        mean, std = np.zeros(dim, np.float32), np.full(dim, 0.1, np.float32)
    rng = np.random.default_rng(seed)
    missing = ~found
    if vocab.pad_index is not None:
        missing[vocab.pad_index] = False
    if unknown_init == "normal":
        matrix[missing] = rng.normal(mean, std, size=(int(missing.sum()), dim))
    elif unknown_init == "uniform":
        bound = float(std.mean()) * 3**0.5
        matrix[missing] = rng.uniform(-bound, bound, size=(int(missing.sum()), dim))
    frequencies = vocab.frequencies
    regular = [i for i, t in enumerate(vocab.itos) if t not in vocab.specials]
    coverage = Coverage(
        types_found=int(found.sum()),
        types=len(regular),
        tokens_found=sum(frequencies.get(vocab.itos[i], 0) for i in regular if found[i]),
        tokens=sum(frequencies.get(vocab.itos[i], 0) for i in regular),
    )
    return torch.from_numpy(matrix), coverage


def configured_vectors(embedding: Any, *, checkpoint: str | None = None):
    """The word vectors a config's `model.embedding` section names (gensim `KeyedVectors`),
    or None when it names none or the run resumes from `checkpoint`: a resumed run takes its
    weights from the checkpoint, so the vectors would only be overwritten."""
    if embedding.vectors is None or checkpoint:
        return None
    return load_configured_vectors(embedding.vectors, embedding.vectors_format, embedding.dim)


def vectors_matrix(
    vocab: Vocabulary, keyed_vectors, *, unknown_init: str, seed: int
) -> tuple[torch.Tensor | None, Coverage | None]:
    """`vocab`'s embedding matrix from `keyed_vectors` and its coverage (logged), or
    (None, None) without vectors."""
    if keyed_vectors is None:
        return None, None
    matrix, coverage = embedding_matrix(vocab, keyed_vectors, unknown_init=unknown_init, seed=seed)
    log.info("word vectors cover %s", coverage)
    return matrix, coverage
