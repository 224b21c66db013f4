"""Tokenizers: text in, a list of string tokens out.

Four kinds, chosen by name in the config (`text.tokenizer`):

- `basic_english`: words, numbers and single punctuation marks, with English clitics split off
  the way the Penn Treebank does it (`it's` -> `it 's`, `don't` -> `do n't`, `can't` -> `ca n't`).
- `whitespace`: split on runs of whitespace (for text that is already tokenised).
- `characters`: one token per character, spaces included (character-level models).
- `bpe`: byte-pair-encoding subwords learnt on the training split with Hugging Face
  `tokenizers`; continuation pieces are prefixed with `##`.

The first three need no training; `bpe` must be `fit` on the training texts only and is saved
to `tokenizer.json` in the model directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from textseq.errors import ConfigError, ModelDirError

_APOSTROPHES = re.compile(r"[\u2019\u02bc\u2032`]")  # typographic apostrophes written as '
_BASIC_ENGLISH = re.compile(
    r"""
      \w+(?=n't\b)                      # "do" of "don't", "ca" of "can't"
    | n't\b                             # the negation clitic itself
    | '(?:s|re|ve|ll|d|m)\b             # 's 're 've 'll 'd 'm
    | \d+(?:[.,]\d+)+                   # 3.14, 10,000
    | \w+(?:-\w+)*                      # words, with inner hyphens kept (well-made)
    | [^\w\s]                           # any other single non-space character
    """,
    re.VERBOSE | re.IGNORECASE,
)


class Tokenizer(Protocol):
    """What every tokenizer offers."""

    name: str

    def tokenize(self, text: str) -> list[str]: ...


class BasicEnglishTokenizer:
    """Regex word tokenizer for English that splits punctuation and clitics (see module doc)."""

    name = "basic_english"

    def tokenize(self, text: str) -> list[str]:
        return _BASIC_ENGLISH.findall(_APOSTROPHES.sub("'", text))


class WhitespaceTokenizer:
    """Splits on runs of whitespace; for corpora that are already tokenised (SST, PTB)."""

    name = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return text.split()


class CharacterTokenizer:
    """One token per Unicode code point, spaces included."""

    name = "characters"

    def tokenize(self, text: str) -> list[str]:
        return list(text)


class BPETokenizer:
    """Byte-pair-encoding subwords (Sennrich et al. 2016) trained with Hugging Face `tokenizers`.

    Text is first split into words and punctuation; words are then split into the learnt
    subwords, continuation pieces marked with `##` (`unwatchable` -> `un ##watch ##able`).
    """

    name = "bpe"
    filename = "tokenizer.json"

    def __init__(self, *, vocab_size: int = 8000, min_frequency: int = 2):
        if vocab_size < 50:
            raise ConfigError(f"text.bpe_vocab_size ({vocab_size}) must be at least 50")
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self._tokenizer = None

    def fit(self, texts: Iterable[str]) -> None:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import models, pre_tokenizers, trainers

        tokenizer = HFTokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            min_frequency=self.min_frequency,
            special_tokens=["<unk>"],
            continuing_subword_prefix="##",
            show_progress=False,
        )
        tokenizer.train_from_iterator(texts, trainer=trainer)
        self._tokenizer = tokenizer

    def tokenize(self, text: str) -> list[str]:
        if self._tokenizer is None:
            raise RuntimeError("BPETokenizer.fit must be called before tokenize")
        return self._tokenizer.encode(text).tokens

    def save(self, directory: Path) -> None:
        if self._tokenizer is None:
            raise RuntimeError("BPETokenizer.fit must be called before save")
        self._tokenizer.save(str(Path(directory) / self.filename))

    @classmethod
    def load(cls, directory: Path) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(directory) / cls.filename
        if not path.is_file():
            raise ModelDirError(f"{directory}: the model uses BPE but {cls.filename} is missing")
        bpe = cls.__new__(cls)
        bpe._tokenizer = HFTokenizer.from_file(str(path))
        bpe.vocab_size = bpe._tokenizer.get_vocab_size()
        bpe.min_frequency = 0
        return bpe


TOKENIZERS = ("basic_english", "whitespace", "characters", "bpe")


def create_tokenizer(name: str, *, bpe_vocab_size: int = 8000) -> Tokenizer:
    """A new tokenizer by name; `bpe` still needs `fit`."""
    if name == "basic_english":
        return BasicEnglishTokenizer()
    if name == "whitespace":
        return WhitespaceTokenizer()
    if name == "characters":
        return CharacterTokenizer()
    if name == "bpe":
        return BPETokenizer(vocab_size=bpe_vocab_size)
    raise ConfigError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}")


def load_tokenizer(name: str, directory: Path) -> Tokenizer:
    """The tokenizer a model directory was trained with."""
    if name == "bpe":
        return BPETokenizer.load(directory)
    return create_tokenizer(name)
