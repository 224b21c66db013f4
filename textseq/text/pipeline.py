"""Raw text to token ids: clean, tokenise, truncate, look up. One object so training and
prediction can never process text differently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textseq.errors import ModelDirError
from textseq.text.cleaning import TextCleaner
from textseq.text.portable import save_word_level_tokenizer
from textseq.text.tokenizers import Tokenizer, load_tokenizer
from textseq.text.vocab import EOS, UNK, Vocabulary


@dataclass
class EncodingReport:
    """What happened to a batch of texts on the way to ids."""

    texts: int = 0
    truncated: int = 0
    empty: int = 0  # texts with no tokens left after cleaning, read as a single <unk>

    def describe(self, max_length: int | None) -> list[str]:
        notes = []
        if self.truncated:
            notes.append(
                f"truncated {self.truncated:,} of {self.texts:,} texts "
                f"({self.truncated / self.texts:.1%}) to {max_length} tokens"
            )
        if self.empty:
            notes.append(
                f"{self.empty:,} of {self.texts:,} texts had no tokens after cleaning and are "
                f"read as a single {UNK}"
            )
        return notes


@dataclass
class TextPipeline:
    cleaner: TextCleaner
    tokenizer: Tokenizer
    vocab: Vocabulary
    max_length: int | None = None

    def tokens(self, text: str) -> list[str]:
        """The tokens of `text`, truncated to `max_length`; never empty."""
        tokens = self.tokenizer.tokenize(self.cleaner(text)) or [UNK]
        return tokens if self.max_length is None else tokens[: self.max_length]

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.tokens(text))

    def spelling(self, word: str) -> str:
        """`word` as the model reads it: its token when it makes one token (cleaned, and
        lower-cased by a cleaner or an uncased subword tokenizer), else the cleaned word."""
        cleaned = self.cleaner(word).strip()
        frame = set(self.tokenizer.tokenize(""))  # added around every text, e.g. [CLS] [SEP]
        tokens = [token for token in self.tokenizer.tokenize(cleaned) if token not in frame]
        return tokens[0] if len(tokens) == 1 else cleaned

    def stream_tokens(self, lines: Sequence[str]) -> list[str]:
        """The tokens of a running text (language modelling): each line cleaned and tokenised,
        then `<eos>`, so an empty line is a lone `<eos>` and the line breaks of a character
        corpus are kept. Nothing is truncated."""
        clean, tokenize = self.cleaner, self.tokenizer.tokenize
        tokens: list[str] = []
        for line in lines:
            tokens.extend(tokenize(clean(line)))
            tokens.append(EOS)
        return tokens

    def tokenize_all(self, texts: Sequence[str]) -> tuple[list[list[str]], EncodingReport]:
        """Tokens of every text (truncated, never empty) and a report of what was changed."""
        report = EncodingReport(texts=len(texts))
        all_tokens = []
        for text in texts:
            tokens = self.tokenizer.tokenize(self.cleaner(text))
            if not tokens:
                report.empty += 1
                tokens = [UNK]
            if self.max_length is not None and len(tokens) > self.max_length:
                report.truncated += 1
                tokens = tokens[: self.max_length]
            all_tokens.append(tokens)
        return all_tokens, report


def build_cleaner(
    *,
    lowercase: bool,
    strip_html: bool,
    remove_urls: bool,
    hashtags: str = "keep",
    emoji: str = "keep",
    remove_punctuation: bool = False,
    remove_digits: bool = False,
) -> TextCleaner:
    return TextCleaner(
        lowercase=lowercase,
        strip_html=strip_html,
        remove_urls=remove_urls,
        hashtags=hashtags,
        emoji=emoji,
        remove_punctuation=remove_punctuation,
        remove_digits=remove_digits,
    )


def cleaner_of(text_config) -> TextCleaner:
    """The cleaner a `text` config section describes (a saved config from before the newer
    cleaning keys keeps their defaults)."""
    return build_cleaner(
        lowercase=text_config.lowercase,
        strip_html=text_config.strip_html,
        remove_urls=text_config.remove_urls,
        hashtags=getattr(text_config, "hashtags", "keep"),
        emoji=getattr(text_config, "emoji", "keep"),
        remove_punctuation=getattr(text_config, "remove_punctuation", False),
        remove_digits=getattr(text_config, "remove_digits", False),
    )


def save_pipeline(pipeline: TextPipeline, directory: Path) -> None:
    """Writes vocab.json and tokenizer.json into `directory`: a trained tokenizer's own, or
    for word-level pipelines the whole pipeline as a portable Hugging Face tokenizer
    (`textseq.text.portable`)."""
    pipeline.vocab.save(directory / "vocab.json")
    save = getattr(pipeline.tokenizer, "save", None)
    if save is not None:
        save(directory)
        return
    save_word_level_tokenizer(
        directory,
        tokenizer=getattr(pipeline.tokenizer, "name", ""),
        vocab=pipeline.vocab,
        cleaner=pipeline.cleaner,
        max_length=pipeline.max_length,
    )


def load_pipeline(directory: Path, text_config, *, max_length: int | None) -> TextPipeline:
    """The text pipeline of a model or run directory, as configured by `text_config`."""
    try:
        vocab = Vocabulary.load(directory / "vocab.json")
    except (OSError, ValueError, KeyError) as error:
        raise ModelDirError(f"{directory / 'vocab.json'} cannot be read: {error}") from None
    cleaner = cleaner_of(text_config)
    tokenizer = load_tokenizer(text_config.tokenizer, directory)
    return TextPipeline(cleaner, tokenizer, vocab, max_length)
