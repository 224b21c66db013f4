"""Augmented copies of texts for distillation (Tang et al. 2019, "Distilling Task-Specific
Knowledge from BERT into Simple Neural Networks", section 3.3): the student sees more of the
teacher's function on texts near the training texts, labelled by the teacher alone.

For each word w_i of a text (words: the text split on whitespace), draw X_i ~ U[0, 1]:

    X_i < p_mask                    -> w_i becomes the mask word (masking)
    p_mask <= X_i < p_mask + p_pos  -> w_i becomes a word of w_i's part of speech, drawn by its
                                       training frequency (POS-guided replacement)
    otherwise                       -> w_i is kept

then, with probability p_ng, keep only an n-gram of the result, n ~ U{1, ..., max_ngram}
(n-gram sampling). Copies equal to the text or to an earlier copy are drawn again, a bounded
number of times, so a text yields at most `copies` distinct new texts.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

ATTEMPTS_PER_COPY = 5  # draws per wanted copy before a short text gives up


@dataclass(frozen=True)
class Augmentation:
    """The probabilities of Tang et al.'s three operations (their values: 0.1, 0.1, 0.25)."""

    mask_prob: float = 0.1
    pos_prob: float = 0.1
    ngram_prob: float = 0.25
    max_ngram: int = 5
    mask: str = "[MASK]"

    def __post_init__(self) -> None:
        for name in ("mask_prob", "pos_prob", "ngram_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} ({getattr(self, name)}) must be in [0, 1]")
        if self.mask_prob + self.pos_prob > 1:
            raise ValueError(
                f"mask_prob + pos_prob ({self.mask_prob} + {self.pos_prob}) must be at most 1"
            )
        if self.max_ngram < 1:
            raise ValueError(f"max_ngram ({self.max_ngram}) must be at least 1")


class PosLexicon:
    """The words of each part of speech with their frequencies, from tagged training texts:
    what POS-guided replacement draws from."""

    def __init__(self, tagged: Sequence[tuple[Sequence[str], Sequence[str]]]):
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for words, tags in tagged:
            if len(words) != len(tags):
                raise ValueError(f"{len(words)} words but {len(tags)} tags")
            for word, tag in zip(words, tags, strict=True):
                counts[tag][word] += 1
        self.words = {tag: list(c) for tag, c in counts.items()}
        self.weights = {tag: list(c.values()) for tag, c in counts.items()}

    def draw(self, tag: str, rng: random.Random) -> str | None:
        """A word of part of speech `tag`, drawn by frequency; None for an unseen tag."""
        if tag not in self.words:
            return None
        return rng.choices(self.words[tag], weights=self.weights[tag])[0]


def augment_words(
    words: Sequence[str],
    tags: Sequence[str] | None,
    *,
    settings: Augmentation,
    lexicon: PosLexicon | None,
    rng: random.Random,
) -> list[str]:
    """One augmented copy of `words` (see the module docstring); `tags` and `lexicon` are
    needed for POS-guided replacement, which is skipped without them."""
    out = []
    for i, word in enumerate(words):
        x = rng.random()
        if x < settings.mask_prob:
            out.append(settings.mask)
        elif x < settings.mask_prob + settings.pos_prob and tags is not None and lexicon:
            out.append(lexicon.draw(tags[i], rng) or word)
        else:
            out.append(word)
    if out and rng.random() < settings.ngram_prob:
        n = min(rng.randint(1, settings.max_ngram), len(out))
        start = rng.randrange(len(out) - n + 1)
        out = out[start : start + n]
    return out


def augment_texts(
    texts: Sequence[str],
    *,
    copies: int,
    settings: Augmentation,
    seed: int,
    tags: Sequence[Sequence[str]] | None = None,
) -> list[str]:
    """Up to `copies` distinct augmented copies of each text (none equal to the text), in text
    order; `tags[i]` are the parts of speech of text i's whitespace words (None: no POS-guided
    replacement). The same seed gives the same copies."""
    if copies < 0:
        raise ValueError(f"copies ({copies}) must be non-negative")
    rng = random.Random(seed)
    split = [text.split() for text in texts]
    lexicon = None
    if tags is not None:
        if len(tags) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(tags)} tag sequences")
        lexicon = PosLexicon(list(zip(split, tags, strict=True)))
    augmented = []
    for i, words in enumerate(split):
        seen = {" ".join(words)}
        made = 0
        for _ in range(copies * ATTEMPTS_PER_COPY):
            if made == copies:
                break
            text_tags = None if tags is None else tags[i]
            copy = " ".join(
                augment_words(words, text_tags, settings=settings, lexicon=lexicon, rng=rng)
            )
            if copy and copy not in seen:
                seen.add(copy)
                augmented.append(copy)
                made += 1
    return augmented
