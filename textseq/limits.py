"""Input caps: the one home of how much text a model is given, used by `textseq serve`, the CLI
(`predict`, `translate`) and the Python API (`predict`, `translate` of a loaded model).

    max_chars   characters per text (the server's --max-chars; 100,000 elsewhere), so that one
                50 MB line cannot make a model allocate gigabytes
    max_tokens  tokens per text (the model's data.max_length when it has one); counted by the
                caller's tokenizer
    max_texts   texts per request (the server's --max-texts; no cap elsewhere)

Over a cap, `over` decides:

    refuse      (default) an `InputTooLarge` (a DataError: exit 3 on the CLI, 413 from the
                server) naming the text and the cap
    truncate    the text is cut to the cap (characters; tokens are cut by the model itself)
                and a warning says so: a line on stderr from the CLI, a "warnings" list in the
                server's answer, `Checked.warnings` here

Too many texts are always refused: dropping a client's texts silently is never right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from textseq.errors import DataError

OVER_LIMIT = ("refuse", "truncate")


class InputTooLarge(DataError):
    """A text or a request over a cap, refused."""


@dataclass(frozen=True)
class InputLimits:
    max_chars: int | None = 100_000
    max_tokens: int | None = None
    max_texts: int | None = None
    over: Literal["refuse", "truncate"] = "refuse"

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_tokens", "max_texts"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} ({value}) must be a positive integer or None")
        if self.over not in OVER_LIMIT:
            raise ValueError(f"over ({self.over!r}) must be one of {', '.join(OVER_LIMIT)}")


# What the Python API (a loaded model's predict, translate) and the CLI hold every text to.
DEFAULT_LIMITS = InputLimits()


@dataclass
class Checked:
    """The texts to give the model (truncated where `over` is truncate) and what was cut."""

    texts: list[str]
    warnings: list[str] = field(default_factory=list)


def apply_limits(
    texts: Sequence[str],
    limits: InputLimits,
    *,
    count_tokens: Callable[[str], int] | None = None,
    noun: str = "text",
) -> Checked:
    """`texts` within `limits` (see the module docstring); `count_tokens(text)` counts a
    text's tokens when `limits.max_tokens` is set."""
    if limits.max_texts is not None and len(texts) > limits.max_texts:
        raise InputTooLarge(f"{len(texts)} {noun}s in one request; the limit is {limits.max_texts}")
    checked = Checked(texts=[])
    for position, text in enumerate(texts, start=1):
        if limits.max_chars is not None and len(text) > limits.max_chars:
            message = (
                f"{noun} {position} has {len(text)} characters; the limit is {limits.max_chars}"
            )
            if limits.over == "refuse":
                raise InputTooLarge(message)
            checked.warnings.append(f"{message}: truncated to {limits.max_chars}")
            text = text[: limits.max_chars]
        if limits.max_tokens is not None and count_tokens is not None:
            tokens = count_tokens(text)
            if tokens > limits.max_tokens:
                message = f"{noun} {position} has {tokens} tokens; the limit is {limits.max_tokens}"
                if limits.over == "refuse":
                    raise InputTooLarge(message)
                checked.warnings.append(f"{message}: the model reads the first {limits.max_tokens}")
        checked.texts.append(text)
    return checked
