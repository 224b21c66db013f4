"""Tokenizers: text in, a list of string tokens out.

Six kinds, chosen by name in the config (`text.tokenizer`):

- `basic_english`: words, numbers and single punctuation marks, with English clitics split off
  the way the Penn Treebank does it (`it's` -> `it 's`, `don't` -> `do n't`, `can't` -> `ca n't`).
- `whitespace`: split on runs of whitespace (for text that is already tokenised).
- `characters`: one token per character, spaces included (character-level models).
- `bpe`, `wordpiece`, `unigram`: subwords learnt on the training split with Hugging Face
  `tokenizers` (`SubwordTokenizer`).

The first three need no training; the subword ones must be `fit` on the training texts only
and are saved to `tokenizer.json` in the model directory.
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


class SubwordTokenizer:
    """Subwords learnt on the training text with Hugging Face `tokenizers`; one of:

    - `bpe`: byte-pair encoding (Sennrich et al. 2016): merge the most frequent adjacent
      pair, again and again;
    - `wordpiece`: WordPiece (Schuster and Nakajima 2012, as in BERT): merge the pair whose
      merge most raises the training text's likelihood;
    - `unigram`: the unigram language model (Kudo 2018, as in SentencePiece): start from many
      candidate pieces and drop those whose loss least lowers the likelihood.

    Text is first split into words and punctuation; words are then split into the learnt
    pieces. bpe and wordpiece mark continuation pieces with `##` (`unwatchable` ->
    `un ##watch ##able`); unigram marks the piece that starts a word with `▁`
    (`▁un watch able`), as SentencePiece does.
    """

    filename = "tokenizer.json"
    KINDS = ("bpe", "wordpiece", "unigram")

    def __init__(self, kind: str = "bpe", *, vocab_size: int = 8000, min_frequency: int = 2):
        if kind not in self.KINDS:
            raise ConfigError(
                f"subword tokenizer ({kind!r}) must be one of {', '.join(self.KINDS)}"
            )
        if vocab_size < 50:
            raise ConfigError(f"text.bpe_vocab_size ({vocab_size}) must be at least 50")
        self.name = kind
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self._tokenizer = None

    def fit(self, texts: Iterable[str]) -> None:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import models, pre_tokenizers, trainers

        special = dict(special_tokens=["<unk>"], show_progress=False, vocab_size=self.vocab_size)
        if self.name == "unigram":
            tokenizer = HFTokenizer(models.Unigram())
            tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Whitespace(), pre_tokenizers.Metaspace()]
            )
            trainer = trainers.UnigramTrainer(unk_token="<unk>", **special)
        else:
            model, make_trainer = {
                "bpe": (models.BPE, trainers.BpeTrainer),
                "wordpiece": (models.WordPiece, trainers.WordPieceTrainer),
            }[self.name]
            tokenizer = HFTokenizer(model(unk_token="<unk>", continuing_subword_prefix="##"))
            tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
            trainer = make_trainer(
                min_frequency=self.min_frequency, continuing_subword_prefix="##", **special
            )
        tokenizer.train_from_iterator(texts, trainer=trainer)
        self._tokenizer = tokenizer

    def tokenize(self, text: str) -> list[str]:
        if self._tokenizer is None:
            raise RuntimeError(f"the {self.name} tokenizer must be fit before tokenize")
        return self._tokenizer.encode(text).tokens

    def save(self, directory: Path) -> None:
        if self._tokenizer is None:
            raise RuntimeError(f"the {self.name} tokenizer must be fit before save")
        self._tokenizer.save(str(Path(directory) / self.filename))

    @classmethod
    def load(cls, directory: Path, kind: str = "bpe") -> SubwordTokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(directory) / cls.filename
        if not path.is_file():
            raise ModelDirError(f"{directory}: the model uses {kind} but {cls.filename} is missing")
        subword = cls.__new__(cls)
        subword.name = kind
        subword._tokenizer = HFTokenizer.from_file(str(path))
        subword.vocab_size = subword._tokenizer.get_vocab_size()
        subword.min_frequency = 0
        return subword


class BPETokenizer(SubwordTokenizer):
    """The byte-pair-encoding `SubwordTokenizer`."""

    def __init__(self, *, vocab_size: int = 8000, min_frequency: int = 2):
        super().__init__("bpe", vocab_size=vocab_size, min_frequency=min_frequency)


TOKENIZERS = ("basic_english", "whitespace", "characters", *SubwordTokenizer.KINDS)


def create_tokenizer(name: str, *, bpe_vocab_size: int = 8000) -> Tokenizer:
    """A new tokenizer by name; the subword ones (bpe, wordpiece, unigram) still need `fit`;
    `bpe_vocab_size` is the size of any subword vocabulary."""
    if name == "basic_english":
        return BasicEnglishTokenizer()
    if name == "whitespace":
        return WhitespaceTokenizer()
    if name == "characters":
        return CharacterTokenizer()
    if name == "bpe":
        return BPETokenizer(vocab_size=bpe_vocab_size)
    if name in SubwordTokenizer.KINDS:
        return SubwordTokenizer(name, vocab_size=bpe_vocab_size)
    raise ConfigError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}")


def load_tokenizer(name: str, directory: Path) -> Tokenizer:
    """The tokenizer a model directory was trained with."""
    if name in SubwordTokenizer.KINDS:
        return (BPETokenizer if name == "bpe" else SubwordTokenizer).load(directory, name)
    return create_tokenizer(name)
