"""Vocabulary: a two-way mapping between tokens (or labels) and integer ids, saved as JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PAD = "<pad>"
UNK = "<unk>"
SOS = "<sos>"
EOS = "<eos>"

_FORMAT = "textseq.vocabulary"
_FORMAT_VERSION = 1


class Vocabulary:
    """Tokens in a fixed order; a token's id is its position.

    Specials come first, in the order given, so `<pad>` is id 0 whenever it is a special.
    Tokens not in the vocabulary map to `<unk>` when it is a special, and raise `KeyError`
    otherwise (label vocabularies have no `<unk>`: an unknown label is an error).
    """

    def __init__(self, tokens: Sequence[str], *, specials: Sequence[str] = (PAD, UNK)):
        self.specials = tuple(specials)
        self.itos: list[str] = list(self.specials)
        seen = set(self.itos)
        if len(seen) != len(self.itos):
            raise ValueError(f"specials contain duplicates: {list(self.specials)}")
        for token in tokens:
            if token not in seen:
                seen.add(token)
                self.itos.append(token)
        self.stoi: dict[str, int] = {token: index for index, token in enumerate(self.itos)}
        self.unk_index: int | None = self.stoi.get(UNK)
        self.pad_index: int | None = self.stoi.get(PAD)

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocabulary:
        """Counts tokens and keeps those seen at least `min_freq` times, most frequent first
        (ties broken alphabetically, so the result does not depend on input order), at most
        `max_size` of them besides the specials."""
        if min_freq < 1:
            raise ValueError(f"min_freq ({min_freq}) must be at least 1")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size ({max_size}) must be positive or None")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for special in specials:
            counts.pop(special, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[:max_size]
        vocab = cls(kept, specials=specials)
        vocab.frequencies = {token: counts[token] for token in kept}
        return vocab

    def extended(self, tokens: Iterable[str]) -> Vocabulary:
        """This vocabulary with `tokens` it lacks appended in the order given (ids of the
        tokens it has stay the same); training frequencies carry over."""
        extended = Vocabulary(
            self.itos[len(self.specials) :] + [t for t in tokens if t not in self.stoi],
            specials=self.specials,
        )
        extended.frequencies = self.frequencies
        return extended

    frequencies: dict[str, int] = {}  # noqa: RUF012 - filled by `build`; empty when loaded

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.itos == other.itos
            and (self.specials == other.specials)
        )

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, specials={list(self.specials)})"

    def index(self, token: str) -> int:
        """The id of `token`, or of `<unk>` when it is unknown and `<unk>` is a special."""
        index = self.stoi.get(token, self.unk_index)
        if index is None:
            raise KeyError(token)
        return index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        stoi, unk = self.stoi, self.unk_index
        if unk is None:
            return [self.index(token) for token in tokens]
        return [stoi.get(token, unk) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "specials": list(self.specials),
            "tokens": self.itos[len(self.specials) :],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        if data.get("format") != _FORMAT:
            raise ValueError(f"not a textseq vocabulary (format {data.get('format')!r})")
        if int(data.get("version", 0)) > _FORMAT_VERSION:
            raise ValueError(
                f"vocabulary format version {data['version']} is newer than this textseq "
                f"reads ({_FORMAT_VERSION}); upgrade textseq"
            )
        return cls(data["tokens"], specials=data["specials"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
