"""Any word vectors as one searchable space: a vectors file (word2vec text or binary, GloVe,
fastText `.vec`, fastText `.bin` with its subword n-grams), a known name (`glove.6B.50d`), a
directory written by `textseq vectors train`, or a model directory of any task (its word
embedding table, as `textseq.embedding_space` reads it).

Shapes: V words, E vector size, n chosen words.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textseq.embedding_space import Projection, project_words
from textseq.errors import DataError, TextseqError
from textseq.tasks import load_predictor, task_in
from textseq.text.vocab import Vocabulary
from textseq.vectors import load_keyed_vectors, resolve_vectors

log = logging.getLogger(__name__)

# The first four bytes of a fastText binary model (its FASTTEXT_FILEFORMAT_MAGIC_INT32).
FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")


@dataclass(frozen=True)
class VectorSpace:
    """Word vectors (gensim `KeyedVectors`, `FastTextKeyedVectors` when subwords are known)
    and how a word is spelled in them.

    Attributes:
        vectors: the vectors; `vectors.index_to_key` are the words.
        source: where they were read from.
        normalise: how a model turns a word into its vocabulary's spelling (e.g. lower-casing),
            or None when words are looked up as written.
    """

    vectors: object
    source: str
    normalise: Callable[[str], str] | None = None

    @property
    def subwords(self) -> bool:
        """Whether any word, seen or not, has a vector (fastText's character n-grams)."""
        return hasattr(self.vectors, "buckets_word") and getattr(self.vectors, "bucket", 0) > 0

    def lookup(self, word: str) -> str:
        """`word` as the vectors spell it: as given, else normalised, else lower-cased; a word
        with no vector raises DataError naming the closest spellings."""
        candidates = [word]
        if self.normalise is not None:
            candidates.append(self.normalise(word).strip())
        candidates.append(word.lower())
        for candidate in candidates:
            if candidate in self.vectors.key_to_index:
                return candidate
        if self.subwords:
            return candidates[-1] if self.normalise is None else candidates[1]
        words = self.vectors.index_to_key
        close = difflib.get_close_matches(candidates[-1], words[:50_000], n=5, cutoff=0.75)
        hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ""
        raise DataError(f"{word!r} has no vector in {self.source} ({len(words):,} words){hint}")

    def neighbors(self, word: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words of highest cosine similarity to `word`, most similar first."""
        if k < 1:
            raise TextseqError(f"-k ({k}) must be at least 1")
        return [(w, float(c)) for w, c in self.vectors.most_similar(self.lookup(word), topn=k)]

    def analogy(self, a: str, b: str, c: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words nearest to a - b + c (king - man + woman: queen), by 3CosAdd
        (Mikolov et al. 2013c): cosine with the sum of the unit vectors, a, b and c excluded."""
        if k < 1:
            raise TextseqError(f"-k ({k}) must be at least 1")
        a, b, c = self.lookup(a), self.lookup(b), self.lookup(c)
        found = self.vectors.most_similar(positive=[a, c], negative=[b], topn=k)
        return [(w, float(s)) for w, s in found]

    def project(self, words: Sequence[str], *, method: str = "pca", seed: int = 0) -> Projection:
        """`words` placed in 2-D by PCA or t-SNE (see `textseq.embedding_space.project_words`);
        words with no vector are listed in `missing`."""
        found, missing = [], []
        for word in words:
            try:
                spelled = self.lookup(word)
            except DataError:
                missing.append(word)
                continue
            if spelled not in found:
                found.append(spelled)
        table = np.stack([self.vectors[w] for w in found]) if found else np.zeros((0, 1))
        vocab = Vocabulary(found, specials=())
        projection = project_words(
            torch.from_numpy(np.asarray(table, dtype=np.float32)), vocab, found, method=method,
            seed=seed,
        )  # fmt: skip
        return Projection(
            words=projection.words,
            points=projection.points,
            method=projection.method,
            missing=[*missing, *projection.missing],
            explained_variance=projection.explained_variance,
        )


def open_space(spec: str) -> VectorSpace:
    """The vectors `spec` names (see the module docstring)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "textseq.json").is_file():
            return _model_space(path)
        for name in ("fasttext.bin", "vectors.bin", "vectors.txt"):
            if (path / name).is_file():
                return open_space(str(path / name))
        raise DataError(
            f"{spec} is neither a model directory nor a directory of `textseq vectors train`"
        )
    if path.is_file() and is_fasttext_bin(path):
        return VectorSpace(load_fasttext_bin(path), str(path))
    file, vectors_format = resolve_vectors(spec)
    log.info("loading word vectors from %s", file)
    return VectorSpace(load_keyed_vectors(file, vectors_format), str(file))


def is_fasttext_bin(path: Path) -> bool:
    """Whether `path` is a fastText binary model (which holds subword vectors too)."""
    with path.open("rb") as stream:
        return stream.read(4) == FASTTEXT_MAGIC


def load_fasttext_bin(path: Path):
    """A fastText `.bin` model's vectors with their subword n-grams, so that words it never
    saw get vectors too (`gensim.models.fasttext.load_facebook_vectors`)."""
    from gensim.models.fasttext import load_facebook_vectors

    try:
        return load_facebook_vectors(str(path))
    except (ValueError, EOFError, OSError, UnicodeDecodeError, AssertionError) as error:
        raise DataError(f"cannot read the fastText model: {error}", path=path) from None


def _model_space(directory: Path) -> VectorSpace:
    """A model directory's word embedding table, its specials left out."""
    from gensim.models import KeyedVectors

    task_in(directory)  # a ModelDirError naming what is wrong with an incomplete one
    table = load_predictor(directory).word_embeddings()
    vocab = table.vocab
    start = len(vocab.specials)
    weight = table.weight.detach().float().numpy()[start:]  # (V', E), specials dropped
    vectors = KeyedVectors(vector_size=weight.shape[1])
    vectors.add_vectors(vocab.itos[start:], weight)
    return VectorSpace(vectors, str(directory), table.normalise)
