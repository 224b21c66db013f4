"""Text cleaning applied before tokenisation: case, HTML markup, URLs and whitespace."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# IMDB writes line breaks as `<br />`; any tag is replaced by a space so words on either side
# of it do not fuse together.
_HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# Control characters other than ordinary whitespace carry no meaning for these models.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class TextCleaner:
    """Normalises raw text. Each step can be switched off; the result never has leading,
    trailing or repeated whitespace.

    Args:
        lowercase: lower-case everything.
        strip_html: replace HTML tags (`<br />`) by a space and unescape entities (`&amp;`).
        remove_urls: drop `http://...`, `https://...` and `www....` addresses.
    """

    lowercase: bool = True
    strip_html: bool = True
    remove_urls: bool = True

    def __call__(self, text: str) -> str:
        if self.strip_html:
            text = html.unescape(_HTML_TAG.sub(" ", text))
        if self.remove_urls:
            text = _URL.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        text = _CONTROL.sub(" ", text)
        return _WHITESPACE.sub(" ", text).strip()
