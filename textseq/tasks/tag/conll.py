"""CoNLL-style tagged files.

A CoNLL file has one token per line with its columns separated by tabs or spaces (a file with
tabs is split on tabs only, so tokens may hold spaces), a blank line between sentences, and
`-DOCSTART-` lines between documents, which are skipped. Which column is the token and which
the tag is configurable (CoNLL-2003's `eng.train` is `token POS chunk NER`). Files may be
gzip-compressed (`.gz`).

Every line that sets a token must have as many columns as the file's first one; a line with a
token and no tag is an error naming the file and line. The whole file is read before anything
is returned.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from textseq.errors import DataError

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class TaggedSentence:
    """Tokens with one tag each (tags None for untagged input) and where they came from."""

    tokens: list[str]
    tags: list[str] | None = None
    source: str = "<memory>"
    line: int | None = None  # the line of the first token

    def __len__(self) -> int:
        return len(self.tokens)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_conll(
    path: str | Path, *, token_column: int = 0, tag_column: int | None = -1
) -> list[TaggedSentence]:
    """The sentences of a CoNLL file. `tag_column` None reads tokens only (one column or more);
    negative column indices count from the end (-1: the last column)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    width: int | None = None

    def close() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append(
                TaggedSentence(tokens, None if tag_column is None else tags, str(path), first_line)
            )
        tokens, tags = [], []

    try:
        with _open_text(path) as stream:
            for number, raw in enumerate(stream, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    close()
                    continue
                columns = line.split("\t") if "\t" in line else line.split()
                if columns[0] == DOCSTART:
                    close()
                    continue
                if width is None:
                    width = len(columns)
                    needed = max(_position(token_column), _position(tag_column)) + 1
                    if tag_column is not None and width < 2:
                        raise DataError(
                            f"a token with no tag: {line!r} has 1 column; a tagged file needs "
                            "a token and a tag on every line",
                            path=path,
                            line=number,
                        )
                    if width < needed:
                        raise DataError(
                            f"{width} columns, but token_column={token_column} and "
                            f"tag_column={tag_column} need at least {needed}",
                            path=path,
                            line=number,
                        )
                if len(columns) != width:
                    what = "a token with no tag: " if len(columns) == 1 and width > 1 else ""
                    raise DataError(
                        f"{what}{len(columns)} columns, but the file's first token line has "
                        f"{width}: {line!r}",
                        path=path,
                        line=number,
                    )
                if any(not column for column in columns):
                    raise DataError(f"an empty column in {line!r}", path=path, line=number)
                if not tokens:
                    first_line = number
                tokens.append(columns[token_column])
                if tag_column is not None:
                    tags.append(columns[tag_column])
    except UnicodeDecodeError as error:
        raise DataError(f"not valid UTF-8: {error}", path=path) from None
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read the file: {error}", path=path) from None
    close()
    if not sentences:
        raise DataError("no sentences in the file", path=path)
    return sentences


def _position(column: int | None) -> int:
    """The smallest number of columns in which `column` exists (0 for None)."""
    if column is None:
        return 0
    return column if column >= 0 else -column - 1
