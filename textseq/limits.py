"""Input caps: the one home of how much text a model is given, used by `textseq serve`, the CLI
(`predict`, `translate`) and the Python API (`predict`, `translate` of a loaded model).

    max_chars   characters per text (the server's --max-chars; 100,000 elsewhere), so that one
                50 MB line cannot make a model allocate gigabytes
    max_tokens  tokens per text (the model's data.max_length when it has one); counted by the
                caller's tokenizer
    max_texts   texts per request (the server's --max-texts; no cap elsewhere)

Over a cap, `over` (characters) and `over_tokens` (tokens) decide:

    refuse      an `InputTooLarge` (a DataError: exit 3 on the CLI, 413 from the server)
                naming the text and the cap
    truncate    the text is cut to the cap (characters; tokens are cut by the model itself)
                and a warning says so: a line on stderr from the CLI, a "warnings" list in the
                server's answer, `Checked.warnings` here

By default a text over the character cap is refused (it guards memory), and a text over the
model's token cap is read to the cap with a warning: the cap is the training data's
`data.max_length`, and training read longer texts the same way. `--over-limit` (CLI and
server) chooses one behaviour for both caps (`limits_for`).

Too many texts are always refused: dropping a client's texts silently is never right.

A model with a token cap (a classifier whose `data.max_length` is set) has `max_tokens` and
`count_tokens(text)`; `model_limits` adds them to a caller's limits. A loaded model holds its
texts to its `limits` attribute (`DEFAULT_LIMITS` until the caller sets another, as the CLI
and the server do with theirs).

Control characters. A text holding a C0 control character that is not whitespace (U+0000 to
U+0008, U+000E to U+001B) or DEL (U+007F) is refused whatever `over` says (`BadCharacter`, a
DataError: exit 3 on the CLI, 422 from the server), naming the text, the character and its
position: no text holds one on purpose (NUL ends a C string; the others drive terminals), and
stripping it silently would change what the model reads. Tab, newline, carriage return, form
feed, vertical tab and U+001C to U+001F (whitespace to `str.split`) and the C1 range (often
mis-decoded Windows-1252 punctuation) are read as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from textseq.errors import DataError

OVER_LIMIT = ("refuse", "truncate")


# Control characters a text may not hold (see the module docstring), as a pattern and as the
# UTF-8 bytes they encode to (each one byte, never part of a longer character's encoding).
CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F])


class InputTooLarge(DataError):
    """A text or a request over a cap, refused."""


class BadCharacter(DataError):
    """A text holding a control character it may not hold, refused."""


def control_character(text: str) -> tuple[int, str] | None:
    """(position from 1, character) of the first control character `text` may not hold, or
    None. Costs one pass in C over the text's UTF-8 bytes when it holds none."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _CONTROL_BYTES)) == len(raw):
        return None
    found = CONTROL.search(text)
    assert found is not None
    return found.start() + 1, found.group()


@dataclass(frozen=True)
class InputLimits:
    max_chars: int | None = 100_000
    max_tokens: int | None = None
    max_texts: int | None = None
    over: Literal["refuse", "truncate"] = "refuse"
    over_tokens: Literal["refuse", "truncate"] = "truncate"

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_tokens", "max_texts"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} ({value}) must be a positive integer or None")
        for name in ("over", "over_tokens"):
            if getattr(self, name) not in OVER_LIMIT:
                choices = ", ".join(OVER_LIMIT)
                raise ValueError(f"{name} ({getattr(self, name)!r}) must be one of {choices}")


def limits_for(over: str | None, **caps: int | None) -> InputLimits:
    """The limits of `caps` with `over` (an --over-limit choice) for both the character and
    the token cap; None keeps the defaults (refuse over characters, read the first tokens)."""
    if over is None:
        return InputLimits(**caps)
    return InputLimits(**caps, over=over, over_tokens=over)  # type: ignore[arg-type]


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
        if (control := control_character(text)) is not None:
            at, character = control
            raise BadCharacter(
                f"{noun} {position} holds the control character U+{ord(character):04X} at "
                f"character {at}; remove it (tab, newline and other whitespace are read)"
            )
        if limits.max_tokens is not None and count_tokens is not None:
            tokens = count_tokens(text)
            if tokens > limits.max_tokens:
                message = f"{noun} {position} has {tokens} tokens; the limit is {limits.max_tokens}"
                if limits.over_tokens == "refuse":
                    raise InputTooLarge(message)
                checked.warnings.append(f"{message}: the model reads the first {limits.max_tokens}")
        checked.texts.append(text)
    return checked


def model_limits(model: Any, limits: InputLimits) -> tuple[InputLimits, Callable[[str], int]]:
    """`limits` with the token cap of `model` added (its `max_tokens`, when it has one and
    `limits` sets none), and the function counting a text's tokens for it."""
    cap = getattr(model, "max_tokens", None)
    count = getattr(model, "count_tokens", None)
    if cap is None or count is None or limits.max_tokens is not None:
        return limits, count
    return replace(limits, max_tokens=cap), count
