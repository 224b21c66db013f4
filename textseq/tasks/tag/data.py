"""From tagged sentences to padded tagger batches: the vocabularies of a tagger (words, looked
up lower-cased when configured; characters, as written; tags in the modelled scheme) and the
dataset and collator the `TextDataModule` batches with.

With contextual features (`model.features` lists transformer) each item also carries either
its precomputed features (a frozen encoder's, (T_i, F)) or its words, which the collator
turns into the encoder's subwords (`textseq.models.word_features.align_words`).

Shapes: B batch, T longest sentence, C longest word in the batch, F contextual features,
P subwords.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from textseq.errors import DataError, ModelDirError
from textseq.models.tagger import casing_of
from textseq.models.word_features import align_words
from textseq.tasks.tag.conll import TaggedSentence
from textseq.text.tags import convert, scheme_tags, spans_of
from textseq.text.vocab import PAD, UNK, Vocabulary


@dataclass
class TagBatch:
    word_ids: torch.Tensor  # (B, T) int64, padded with 0
    char_ids: torch.Tensor  # (B, T, C) int64, padded with 0
    casing_ids: torch.Tensor  # (B, T) int64, padded with 0
    lengths: torch.Tensor  # (B,) int64
    tags: torch.Tensor | None = None  # (B, T) int64, padded with 0
    index: torch.Tensor | None = None  # (B,) positions in the dataset
    context: torch.Tensor | None = None  # (B, T, F) precomputed contextual features, 0-padded
    # The contextual encoder's input: subword ids, mask and word index (-1 off words), (B, P).
    subwords: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def mask(self) -> torch.Tensor:
        """(B, T) bool, True at real tokens."""
        positions = torch.arange(self.word_ids.size(1), device=self.word_ids.device)
        return positions[None, :] < self.lengths[:, None]

    def __len__(self) -> int:
        return self.word_ids.size(0)


class TagEncoder:
    """Turns tokens into word, character and casing ids, and tags into tag ids (and back).

    `scheme` is how entity tags are modelled (`iobes` or `bio`); the data are read as BIO and
    converted; `plain` tags (POS) are taken as they are.
    """

    def __init__(
        self,
        *,
        words: Vocabulary,
        chars: Vocabulary,
        tags: Vocabulary,
        lowercase: bool,
        scheme: str,
    ):
        self.words = words
        self.chars = chars
        self.tags = tags
        self.lowercase = lowercase
        self.scheme = scheme

    @classmethod
    def fit(
        cls,
        sentences: Sequence[TaggedSentence],
        *,
        lowercase: bool,
        scheme: str,
        min_freq: int = 1,
        max_vocab_size: int | None = None,
        char_min_freq: int = 1,
        extra_words: Iterable[str] = (),
        more_tags: Sequence[TaggedSentence] = (),
    ) -> TagEncoder:
        """Word and character vocabularies from the training sentences alone (plus
        `extra_words`, the words of pretrained vectors, when given); tags from the training
        sentences and `more_tags` (the validation sentences, so that a rare tag missing from a
        small training sample is not an error)."""
        key = str.lower if lowercase else str
        words = Vocabulary.build(
            [[key(t) for t in s.tokens] for s in sentences],
            min_freq=min_freq,
            max_size=max_vocab_size,
        )
        words = words.extended(extra_words)
        char_counts = Counter(ch for s in sentences for t in s.tokens for ch in t)
        chars = Vocabulary(
            sorted((c for c, n in char_counts.items() if n >= char_min_freq), key=lambda c: c)
        )
        tagged = [*sentences, *more_tags]
        if scheme == "plain":
            tag_names = sorted({tag for s in tagged for tag in s.tags})
        else:
            types = {span.type for s in tagged for span in spans_of(s.tags, "bio")}
            tag_names = scheme_tags(sorted(types), scheme)
        return cls(
            words=words,
            chars=chars,
            tags=Vocabulary(tag_names, specials=()),
            lowercase=lowercase,
            scheme=scheme,
        )

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.words.encode(t.lower() if self.lowercase else t for t in tokens)

    def char_ids(self, tokens: Sequence[str]) -> list[list[int]]:
        return [self.chars.encode(token) for token in tokens]

    def tag_ids(self, sentence: TaggedSentence) -> list[int]:
        """The sentence's BIO (or plain) tags in the modelled scheme, as ids; an unknown tag is
        a DataError naming the sentence's file and line."""
        tags = sentence.tags
        if self.scheme != "plain":
            try:
                tags = convert(tags, source="bio", target=self.scheme)
            except ValueError as error:
                raise DataError(str(error), path=sentence.source, line=sentence.line) from None
        ids = []
        for offset, tag in enumerate(tags):
            if tag not in self.tags.stoi:
                raise DataError(
                    f"tag {tag!r} does not occur in the training data (known tags: "
                    f"{', '.join(self.tags.itos)})",
                    path=sentence.source,
                    line=None if sentence.line is None else sentence.line + offset,
                )
            ids.append(self.tags.stoi[tag])
        return ids

    def dataset(
        self,
        sentences: Sequence[TaggedSentence],
        *,
        with_tags: bool = True,
        contexts: Sequence[torch.Tensor] | None = None,
        with_words: bool = False,
    ):
        """The sentences as ids; each item also carries its precomputed contextual features
        (`contexts`, one (T_i, F) tensor a sentence) or, `with_words`, its words."""
        if contexts is not None and len(contexts) != len(sentences):
            raise ValueError(f"{len(contexts)} contexts for {len(sentences)} sentences")
        return TaggedDataset(
            [
                (
                    self.word_ids(s.tokens),
                    self.char_ids(s.tokens),
                    [casing_of(t) for t in s.tokens],
                    self.tag_ids(s) if with_tags else None,
                    contexts[i] if contexts is not None else list(s.tokens) if with_words else None,
                )
                for i, s in enumerate(sentences)
            ]
        )

    def save(self, directory: Path) -> None:
        """vocab.json (words), chars.json and tags.json."""
        self.words.save(directory / "vocab.json")
        self.chars.save(directory / "chars.json")
        self.tags.save(directory / "tags.json")

    @classmethod
    def load(cls, directory: Path, *, lowercase: bool, scheme: str) -> TagEncoder:
        try:
            return cls(
                words=Vocabulary.load(directory / "vocab.json"),
                chars=Vocabulary.load(directory / "chars.json"),
                tags=Vocabulary.load(directory / "tags.json"),
                lowercase=lowercase,
                scheme=scheme,
            )
        except (OSError, ValueError, KeyError) as error:
            raise ModelDirError(
                f"{directory}: cannot read the tagger's vocabularies: {error}"
            ) from None


Context = torch.Tensor | list[str] | None  # an item's features (T_i, F), its words, or nothing


class TaggedDataset(Dataset):
    """Item i is (i, word ids, char ids per word, casing ids, tag ids or None, context)."""

    def __init__(
        self, items: list[tuple[list[int], list[list[int]], list[int], list[int] | None, Context]]
    ):
        if any(len(words) == 0 for words, *_ in items):
            raise ValueError("every sentence needs at least one token")
        self.items = items
        self.lengths = [len(words) for words, *_ in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return (index, *self.items[index])


class TagCollator:
    """Pads dataset items into a `TagBatch` (a class, so worker processes can pickle it).
    Items that carry their words are split into subwords by `subword_tokenizer` (a fast
    Hugging Face tokenizer)."""

    def __init__(self, subword_tokenizer: Any = None):
        self.subword_tokenizer = subword_tokenizer

    def __call__(self, items) -> TagBatch:
        indices, words, chars, casings, tags, contexts = zip(*items, strict=True)
        batch, length = len(items), max(len(w) for w in words)
        longest_word = max(max((len(c) for c in word_chars), default=1) for word_chars in chars)
        word_ids = torch.zeros(batch, length, dtype=torch.long)  # (B, T)
        casing_ids = torch.zeros(batch, length, dtype=torch.long)  # (B, T)
        char_ids = torch.zeros(batch, length, max(longest_word, 1), dtype=torch.long)  # (B, T, C)
        tag_ids = None if tags[0] is None else torch.zeros(batch, length, dtype=torch.long)
        for b in range(batch):
            n = len(words[b])
            word_ids[b, :n] = torch.tensor(words[b])
            casing_ids[b, :n] = torch.tensor(casings[b])
            for t, word_chars in enumerate(chars[b]):
                char_ids[b, t, : len(word_chars)] = torch.tensor(word_chars, dtype=torch.long)
            if tag_ids is not None:
                tag_ids[b, :n] = torch.tensor(tags[b])
        lengths = torch.tensor([len(w) for w in words], dtype=torch.long)  # (B,)
        context, subwords = None, None
        if isinstance(contexts[0], torch.Tensor):
            context = torch.zeros(batch, length, contexts[0].size(-1))  # (B, T, F)
            for b, features in enumerate(contexts):
                context[b, : len(features)] = features.float()
        elif contexts[0] is not None:
            if self.subword_tokenizer is None:
                raise ValueError("items carry words but the collator has no subword tokenizer")
            subwords = align_words(self.subword_tokenizer, contexts)
        return TagBatch(
            word_ids,
            char_ids,
            casing_ids,
            lengths,
            tag_ids,
            torch.tensor(indices, dtype=torch.long),
            context,
            subwords,
        )


__all__ = ["PAD", "UNK", "TagBatch", "TagCollator", "TagEncoder", "TaggedDataset"]
