"""A word-level text pipeline (cleaning, `basic_english` or `whitespace`, vocabulary) as a
Hugging Face `tokenizer.json`, so that any program with the `tokenizers` library (Python, Rust,
JavaScript) turns text into the ids textseq gives, without textseq.

The rules, each as `tokenizers` writes it:

- normalizer (in `TextCleaner`'s order): HTML tags -> " " and entities unescaped (strip_html),
  URLs -> " " (remove_urls), lower case, control characters -> " ", runs of whitespace -> " ",
  stripped; for `basic_english`, typographic apostrophes -> "'";
- pre-tokenizer: `basic_english`'s regex, its matches kept (`Split(..., "isolated")`) and the
  whitespace between them dropped (`WhitespaceSplit`); `whitespace`: `WhitespaceSplit`;
- model: `WordLevel` over the vocabulary, `<unk>` for unknown words; truncation to
  `data.max_length` and padding with `<pad>` are part of the file.

What cannot be expressed, and how it is handled:

- `html.unescape` knows 2,231 named entities and every numeric reference; a normalizer has no
  rule for "any number", so the file replaces HTML 4's 252 named entities and the decimal
  references of Latin-1, Latin Extended-A and common punctuation (`_NUMERIC`, &#8217; ...);
  others stay as written (rare: IMDB's 50,000 reviews hold one, &#61514;).
- A text with no tokens left is one `<unk>` in textseq and no ids in the file: a consumer that
  gets an empty encoding uses `[unk_id]` (`unk_id` is the WordLevel model's).
- Python's `re` and the Oniguruma regexes of `tokenizers` differ on rare Unicode: `\\w` matches
  combining marks in Oniguruma and not in Python. The parity counts on real data are in
  docs/benchmarks.md.
"""

from __future__ import annotations

import html
import html.entities
from pathlib import Path
from typing import Any

from textseq.text.cleaning import TextCleaner
from textseq.text.vocab import PAD, UNK, Vocabulary

WORD_LEVEL = ("basic_english", "whitespace")
FILENAME = "tokenizer.json"
# Python patterns of textseq.text (cleaning, tokenizers) in Oniguruma's syntax.
_HTML_TAG = r"<\s*/?\s*[a-zA-Z][^<>]*>"
_URL = r"(?i)(?:https?://|www\.)[^\s<>\"']+"
_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_APOSTROPHES = "[\u2019\u02bc\u2032`]"
_BASIC_ENGLISH = (
    r"(?i)\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\d+(?:[.,]\d+)+|\w+(?:-\w+)*|[^\w\s]"
)
# Numeric character references of characters past Latin-1 that English text uses.
_NUMERIC = (8211, 8212, 8216, 8217, 8220, 8221, 8226, 8230, 8364, 8482)


def _entity_replacements() -> list[tuple[str, str]]:
    """(entity, text) for the entities the normalizer unescapes, each as `html.unescape` reads
    it: HTML 4's 252 named entities and the decimal references of Latin-1, Latin Extended-A
    and `_NUMERIC`; `&amp;` last, so that `&amp;lt;` becomes `&lt;` as in one pass."""
    names = [f"&{name};" for name in html.entities.entitydefs if name != "amp"]
    numbers = [f"&#{code};" for code in (*range(32, 384), *_NUMERIC)]
    return [(entity, html.unescape(entity)) for entity in (*names, *numbers, "&amp;")]


def _normalizers(cleaner: TextCleaner | None, *, lowercase: bool, tokenizer: str) -> list[Any]:
    from tokenizers import Regex, normalizers

    steps: list[Any] = []
    if cleaner is not None and cleaner.strip_html:
        steps.append(normalizers.Replace(Regex(_HTML_TAG), " "))
        steps += [normalizers.Replace(a, b) for a, b in _entity_replacements()]
    if cleaner is not None and cleaner.remove_urls:
        steps.append(normalizers.Replace(Regex(_URL), " "))
    if (cleaner is not None and cleaner.lowercase) or lowercase:
        steps.append(normalizers.Lowercase())
    if cleaner is not None:
        steps += [
            normalizers.Replace(Regex(_CONTROL), " "),
            normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Strip(),
        ]
    if tokenizer == "basic_english":
        steps.append(normalizers.Replace(Regex(_APOSTROPHES), "'"))
    return steps


def cleaning_normalizers(cleaner: TextCleaner) -> list[Any]:
    """`cleaner`'s rules as `tokenizers` normalizers, in its order (the same rules, and the same
    limits, as the word-level file's): what a subword tokenizer's own normalizer is preceded
    by in a file that gives the ids textseq gives (`textseq export --format hf`)."""
    return _normalizers(cleaner, lowercase=False, tokenizer="")


def word_level_tokenizer(
    *,
    tokenizer: str,
    vocab: Vocabulary,
    cleaner: TextCleaner | None = None,
    lowercase: bool = False,
    max_length: int | None = None,
) -> Any | None:
    """The `tokenizers.Tokenizer` that gives the ids of `cleaner` (None: text as given, lower
    cased with `lowercase`), the `tokenizer` named and `vocab`; None for tokenizers that are
    not word-level (characters, bpe, a pretrained model's own)."""
    if tokenizer not in WORD_LEVEL:
        return None
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    if UNK not in vocab.stoi:
        raise ValueError(f"a word-level tokenizer needs {UNK} in the vocabulary")
    hf = Tokenizer(models.WordLevel(vocab=dict(vocab.stoi), unk_token=UNK))
    steps = _normalizers(cleaner, lowercase=lowercase, tokenizer=tokenizer)
    if steps:
        hf.normalizer = normalizers.Sequence(steps)
    if tokenizer == "basic_english":
        split = pre_tokenizers.Split(Regex(_BASIC_ENGLISH), behavior="isolated")
        hf.pre_tokenizer = pre_tokenizers.Sequence([split, pre_tokenizers.WhitespaceSplit()])
    else:
        hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if max_length is not None:
        hf.enable_truncation(max_length)
    if PAD in vocab.stoi:
        hf.enable_padding(pad_id=vocab.stoi[PAD], pad_token=PAD)
    return hf


def save_word_level_tokenizer(directory: Path, filename: str = FILENAME, **pipeline: Any) -> bool:
    """Writes `word_level_tokenizer(**pipeline)` to `directory/filename`; False (nothing
    written) when the pipeline is not word-level."""
    hf = word_level_tokenizer(**pipeline)
    if hf is None:
        return False
    hf.save(str(Path(directory) / filename))
    return True
