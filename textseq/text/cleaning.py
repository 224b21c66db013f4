"""Text cleaning applied before tokenisation: case, HTML markup, URLs, hashtags, emoji,
punctuation, digits and whitespace."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

# IMDB writes line breaks as `<br />`; any tag is replaced by a space so words on either side
# of it do not fuse together.
_HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# Control characters other than ordinary whitespace carry no meaning for these models.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
# Emoji: the pictographic planes, dingbats and miscellaneous symbols, regional-indicator flags,
# skin-tone modifiers, and the variation selector and zero-width joiner that build sequences.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]+"
)
_DIGITS = re.compile(r"\d+")
# An apostrophe between letters (don't, it's) is part of a word, not punctuation.
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")
EMOJI = ("keep", "drop")
HASHTAGS = ("keep", "drop", "word")


def _drop_punctuation(text: str) -> str:
    """Every Unicode punctuation character (category P*) replaced by a space, except an
    apostrophe inside a word."""
    kept = _INNER_APOSTROPHE.sub("\x00", text)
    spaced = "".join(" " if unicodedata.category(c).startswith("P") else c for c in kept)
    return spaced.replace("\x00", "'")


@dataclass(frozen=True)
class TextCleaner:
    """Normalises raw text. Each step can be switched off; the result never has leading,
    trailing or repeated whitespace.

    Args:
        lowercase: lower-case everything.
        strip_html: replace HTML tags (`<br />`) by a space and unescape entities (`&amp;`).
        remove_urls: drop `http://...`, `https://...` and `www....` addresses.
        hashtags: keep `#word` as written, drop it whole, or keep its `word` only.
        emoji: keep or drop emoji (pictographs, flags, and their modifiers and joiners).
        remove_punctuation: replace punctuation marks by spaces (an apostrophe inside a word,
            as in don't, stays).
        remove_digits: drop runs of digits.
    """

    lowercase: bool = True
    strip_html: bool = True
    remove_urls: bool = True
    hashtags: str = "keep"
    emoji: str = "keep"
    remove_punctuation: bool = False
    remove_digits: bool = False

    def __post_init__(self) -> None:
        if self.hashtags not in HASHTAGS:
            raise ValueError(f"hashtags ({self.hashtags!r}) must be one of {', '.join(HASHTAGS)}")
        if self.emoji not in EMOJI:
            raise ValueError(f"emoji ({self.emoji!r}) must be one of {', '.join(EMOJI)}")

    def __call__(self, text: str) -> str:
        if self.strip_html:
            text = html.unescape(_HTML_TAG.sub(" ", text))
        if self.remove_urls:
            text = _URL.sub(" ", text)
        if self.hashtags != "keep":
            text = _HASHTAG.sub(" " if self.hashtags == "drop" else r" \1", text)
        if self.emoji == "drop":
            text = _EMOJI.sub(" ", text)
        if self.remove_punctuation:
            text = _drop_punctuation(text)
        if self.remove_digits:
            text = _DIGITS.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        text = _CONTROL.sub(" ", text)
        return _WHITESPACE.sub(" ", text).strip()
