"""A model's word-embedding table as a space: nearest words by cosine similarity, and 2-D
projections (PCA or t-SNE, with scikit-learn) of chosen words.

Every predictor's `word_embeddings()` returns its table as a `WordEmbeddings` (a classifier's
or a language model's token embeddings, a tagger's word embeddings, a translation model's source
embeddings), so these work on a model of any task.

Shapes: V vocabulary size, E embedding size, n chosen words.

    import textseq
    table = textseq.load("runs/sst2").word_embeddings()
    table.neighbors("good", k=5)                          # [("great", 0.81), ...]
    table.project(["good", "bad", "film"], method="pca")  # a Projection
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textseq.errors import DataError, TextseqError, UsageError
from textseq.text.vocab import Vocabulary

METHODS = ("pca", "tsne")


def lookup_word(vocab: Vocabulary, word: str, *, normalise=None) -> str:
    """`word` as the vocabulary spells it: as given, else as `normalise` (e.g. the model's text
    cleaner, which lowercases) turns it. An unknown word or a special token raises DataError
    naming the closest spellings in the vocabulary."""
    candidates = [word]
    if normalise is not None:
        candidates.append(normalise(word).strip())
    for candidate in candidates:
        if candidate in vocab.stoi and candidate not in vocab.specials:
            return candidate
    if word in vocab.specials:
        raise DataError(f"{word!r} is a special token, not a word")
    words = vocab.itos[len(vocab.specials) :]
    close = difflib.get_close_matches(candidates[-1], words, n=5, cutoff=0.75)
    hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ""
    raise DataError(f"{word!r} is not in the model's vocabulary ({len(words):,} words){hint}")


def nearest_neighbors(
    weight: torch.Tensor, vocab: Vocabulary, word: str, *, k: int = 10, normalise=None
) -> list[tuple[str, float]]:
    """The `k` words whose rows of `weight` (V, E) have the highest cosine similarity with
    `word`'s row, most similar first (ties: lower id first), each with its similarity. The word
    itself and the vocabulary's specials are never returned."""
    if k < 1:
        raise ValueError(f"k ({k}) must be at least 1")
    if weight.dim() != 2 or weight.size(0) != len(vocab):
        raise ValueError(
            f"embedding table of shape {tuple(weight.shape)} does not fit a vocabulary of "
            f"{len(vocab)} tokens"
        )
    word = lookup_word(vocab, word, normalise=normalise)
    table = weight.detach().float()  # (V, E)
    unit = table / table.norm(dim=1, keepdim=True).clamp(min=1e-12)  # (V, E)
    similarity = unit @ unit[vocab.stoi[word]]  # (V,)
    excluded = [vocab.stoi[word], *(vocab.stoi[s] for s in vocab.specials)]
    similarity[excluded] = -torch.inf
    k = min(k, len(vocab) - len(set(excluded)))
    # A stable sort keeps equal similarities in id (frequency) order.
    order = torch.sort(similarity, descending=True, stable=True).indices[:k]  # (k,)
    return [(vocab.itos[i], float(similarity[i])) for i in order.tolist()]


@dataclass
class Projection:
    """Chosen words placed in 2-D; `missing` lists the requested words not in the vocabulary;
    `explained_variance` (PCA only) the share of the words' variance along each axis."""

    words: list[str]
    points: np.ndarray  # (n, 2)
    method: str
    missing: list[str]
    explained_variance: tuple[float, float] | None = None

    def axis_labels(self) -> tuple[str, str]:
        """ "PC1 (12.3% of variance)" and "PC2 (...)" for PCA, "t-SNE 1" and "t-SNE 2" else."""
        if self.explained_variance is None:
            name = "t-SNE" if self.method == "tsne" else self.method.upper()
            return f"{name} 1", f"{name} 2"
        first, second = self.explained_variance
        return f"PC1 ({100 * first:.1f}% of variance)", f"PC2 ({100 * second:.1f}% of variance)"


def read_groups(path: str | Path) -> dict[str, str]:
    """A group file: one `word<TAB>group` a line (blank lines and lines starting with # are
    skipped). Returns {word: group} in the file's order; a line without a tab, with an empty
    word or group, or a word given twice with different groups is a DataError naming the
    file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such group file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the group file ({error})") from None
    groups: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        word, tab, group = line.partition("\t")
        word, group = word.strip(), group.strip()
        if not tab or not word or not group:
            raise DataError(f"{path}, line {number}: expected WORD<TAB>GROUP, got {line!r}")
        if groups.get(word, group) != group:
            raise DataError(
                f"{path}, line {number}: {word!r} is in group {groups[word]!r} already, "
                f"not also {group!r}"
            )
        groups[word] = group
    if not groups:
        raise DataError(f"{path}: the group file names no word (lines WORD<TAB>GROUP)")
    return groups


def tsne_perplexity(n: int) -> float:
    """A t-SNE perplexity valid for `n` points: the usual 30, lowered to (n - 1) / 3 for few
    points (scikit-learn requires perplexity < n; a third of the others keeps each point's
    neighbourhood local), and at least 1."""
    return float(min(30.0, max(1.0, (n - 1) / 3)))


def project_words(
    weight: torch.Tensor,
    vocab: Vocabulary,
    words: Sequence[str],
    *,
    method: str = "pca",
    seed: int = 0,
    normalise=None,
) -> Projection:
    """The rows of `weight` (V, E) for `words`, projected to 2-D by PCA or t-SNE
    (scikit-learn). Words not in the vocabulary are skipped and listed in `missing`; fewer than
    two known words is an error."""
    if method not in METHODS:
        raise ValueError(f"method ({method!r}) must be one of {', '.join(METHODS)}")
    try:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
    except ImportError:
        raise TextseqError(
            "embedding plots need scikit-learn: pip install 'textseq[plots]'"
        ) from None
    found, missing = [], []
    for word in words:
        try:
            spelled = lookup_word(vocab, word, normalise=normalise)
        except DataError:
            missing.append(word)
            continue
        if spelled not in found:  # "Good" and "good" are one point
            found.append(spelled)
    if len(found) < 2:
        raise DataError(
            f"need at least 2 words in the vocabulary to plot, found {len(found)} "
            f"({', '.join(found) or 'none'}); not in the vocabulary: {', '.join(missing)}"
        )
    vectors = weight.detach().float()[[vocab.stoi[w] for w in found]].numpy()  # (n, E)
    explained = None
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed)
        points = pca.fit_transform(vectors)  # (n, 2)
        first, second = (float(r) for r in pca.explained_variance_ratio_)
        explained = (first, second)
    else:
        tsne = TSNE(
            n_components=2,
            perplexity=tsne_perplexity(len(found)),
            init="pca" if len(found) > 2 else "random",
            random_state=seed,
        )
        points = tsne.fit_transform(vectors)  # (n, 2)
    return Projection(
        words=found,
        points=np.asarray(points),
        method=method,
        missing=missing,
        explained_variance=explained,
    )


def plot_words(words: str | None, groups: str | None) -> tuple[list[str], dict[str, str] | None]:
    """What a plot verb draws: the words of `--words` (comma-separated), else those of the
    `--groups` file, and the groups ({word: group}, or None without a group file)."""
    grouping = read_groups(groups) if groups is not None else None
    if words is None:
        if grouping is None:
            raise UsageError("give the words to plot: --words a,b,c or --groups FILE")
        return list(grouping), grouping
    return [w.strip() for w in words.split(",") if w.strip()], grouping


@dataclass(frozen=True)
class WordEmbeddings:
    """A model's word-embedding table and the vocabulary whose ids index its rows.

    Attributes:
        weight: (V, E), row i the vector of `vocab.itos[i]`.
        vocab: the model's (source side's) vocabulary.
        normalise: how the model turns a word into its vocabulary's spelling (e.g. its text
            cleaner, which lowercases), or None when words are looked up as written.
    """

    weight: torch.Tensor
    vocab: Vocabulary
    normalise: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        if self.weight.dim() != 2 or self.weight.size(0) != len(self.vocab):
            raise TextseqError(
                f"the model's embedding table of shape {tuple(self.weight.shape)} does not fit "
                f"its vocabulary of {len(self.vocab):,} tokens"
            )

    def lookup(self, word: str) -> str:
        """`word` as the vocabulary spells it (see `lookup_word`)."""
        return lookup_word(self.vocab, word, normalise=self.normalise)

    def neighbors(self, word: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words nearest to `word` by cosine similarity (see `nearest_neighbors`)."""
        return nearest_neighbors(self.weight, self.vocab, word, k=k, normalise=self.normalise)

    def project(self, words: Sequence[str], *, method: str = "pca", seed: int = 0) -> Projection:
        """`words` placed in 2-D by PCA or t-SNE (see `project_words`)."""
        return project_words(
            self.weight, self.vocab, words, method=method, seed=seed, normalise=self.normalise
        )
