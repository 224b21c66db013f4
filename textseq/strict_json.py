"""Reading a request body that a hostile client wrote: strict JSON, refused before any model.

`parse_body(raw, content_type)` returns the parsed value or raises `BadBody` with the HTTP
status to answer:

    415  a content type other than JSON (application/json, application/*+json, or none)
    400  bytes that are not UTF-8, not JSON, nested deeper than `max_depth`, with an object
         key given twice, or with NaN/Infinity, or a number of more than `max_digits` digits
         (Python would otherwise spend quadratic time converting it)
    422  a string holding a lone surrogate (`"\\ud800"`): valid JSON, but not text, and it
         cannot be encoded to answer

Nesting is measured by a scan of the bytes before the parser runs, which stops once the depth
passes the limit, so a body nested 100,000 deep costs a few brackets' worth of work instead of
a RecursionError inside `json.loads`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from textseq.errors import TextseqError

JSON_TYPES = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SURROGATE = re.compile("[\ud800-\udfff]")
# Strict UTF-8 cannot encode a surrogate, so one in a body comes from a \uD800-\uDFFF escape:
# a body without one skips the walk over its strings (0.15 s for 2.5 MB of text).
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class BadBody(TextseqError):
    """A body refused before it reaches the model; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_content_type(content_type: str | None) -> None:
    """Raises BadBody(415) unless `content_type` (the header's value) is JSON or absent."""
    if not content_type:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if not JSON_TYPES.match(media):
        raise BadBody(415, f"the body must be application/json, not {media}")


def nesting_depth(raw: bytes, *, stop: int | None = None) -> int:
    """How deep arrays and objects nest in `raw` (brackets inside strings do not count);
    the scan ends as soon as the depth passes `stop`."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if stop is not None and deepest > stop:
                break
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_body(
    raw: bytes, content_type: str | None = None, *, max_depth: int = 16, max_digits: int = 64
) -> Any:
    """The JSON value of a request body, read strictly (see the module docstring)."""
    check_content_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(400, "the request body is not UTF-8") from None
    if not text.strip():
        raise BadBody(400, "the request needs a JSON body")
    brackets = raw.count(b"[") + raw.count(b"{")  # cheap: most bodies hold a handful
    if brackets > max_depth and nesting_depth(raw, stop=max_depth) > max_depth:
        raise BadBody(400, f"the JSON nests deeper than {max_depth}; at most {max_depth} is read")

    def number(literal: str) -> float | int:
        if len(literal) > max_digits:
            raise BadBody(400, f"a number of {len(literal)} characters; at most {max_digits}")
        value = float(literal) if any(c in literal for c in ".eE") else int(literal)
        if isinstance(value, float) and not math.isfinite(value):
            raise BadBody(400, f"the number {literal[:20]} is out of range")
        return value

    def constant(name: str) -> Any:
        raise BadBody(400, f"{name} is not JSON")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise BadBody(400, f"the key {key!r} is given twice")
            found[key] = value
        return found

    try:
        value = json.loads(
            text,
            object_pairs_hook=unique,
            parse_int=number,
            parse_float=number,
            parse_constant=constant,
        )
    except (ValueError, RecursionError):  # BadBody from the hooks is neither: it passes
        raise BadBody(400, "the request body is not valid JSON") from None
    if _ESCAPED_SURROGATE.search(raw):
        check_strings(value)
    return value


def check_strings(value: Any, where: str = "body") -> None:
    """Raises BadBody(422) naming where a string of `value` holds a lone surrogate."""
    if isinstance(value, str):
        if (found := _SURROGATE.search(value)) is not None:
            raise BadBody(
                422, f"{where} holds a lone surrogate (U+{ord(found.group()):04X}), not text"
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_strings(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, where)
            check_strings(item, f"{where}.{key}")
