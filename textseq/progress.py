"""Progress of long work on stderr: item counts and rate, one line redrawn in place.

Shown when stderr is a terminal, or everywhere after `show(True)` (the CLI's `--progress`);
never after `show(False)` (`-q`). Results never go through here: stdout stays for them.

Progress lines nest: while one is open, those opened inside it stay silent, so a predictor that
counts its batches (evaluate) says nothing when the CLI already counts the texts it feeds it a
batch at a time (predict, translate).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_SHOWN: bool | None = None  # None: when stderr is a terminal
_OPEN = 0  # progress lines open now; only the outermost is written


def show(shown: bool | None) -> None:
    """Progress on (True), off (False), or on when stderr is a terminal (None)."""
    global _SHOWN
    _SHOWN = shown


@contextlib.contextmanager
def showing(shown: bool | None) -> Iterator[None]:
    """`show(shown)` for the work done inside, then the setting from before (the CLI's
    commands: `--progress` and `-q` last as long as the command)."""
    before = _SHOWN
    show(shown)
    try:
        yield
    finally:
        show(before)


def shown() -> bool:
    """Whether progress lines are written now."""
    return sys.stderr.isatty() if _SHOWN is None else _SHOWN


class Progress:
    """Counts items of `what` done, out of `total` if known, e.g. `translate: 640/1,000
    sentences (52.3/s)`. On a terminal the line is redrawn at most 10 times a second;
    elsewhere (`--progress` into a file) a line is written at most once a second."""

    def __init__(self, what: str | None, *, total: int | None = None, unit: str = "texts"):
        """`what` None: a counter that writes nothing and does not silence those inside it
        (for code that shows progress only when its caller names it)."""
        self.what, self.total, self.unit = what, total, unit
        global _OPEN
        self.done = 0
        self.enabled = what is not None and shown() and _OPEN == 0
        self._tty = sys.stderr.isatty()
        self._start = self._last = time.perf_counter()
        self._closed = what is None  # nothing to close
        self._written = -1  # the count of the last line written
        _OPEN += 0 if what is None else 1

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self.enabled and now - self._last >= (0.1 if self._tty else 1.0):
            self._last = now
            self._write(end="\r" if self._tty else "\n")

    def close(self) -> None:
        global _OPEN
        if self._closed:
            return
        self._closed = True
        _OPEN -= 1
        if self.enabled and self._written != self.done:
            self._write(end="\n")
        elif self.enabled and self._tty:
            sys.stderr.write("\n")

    def line(self) -> str:
        seconds = max(time.perf_counter() - self._start, 1e-9)
        count = f"{self.done:,}" + ("" if self.total is None else f"/{self.total:,}")
        return f"{self.what}: {count} {self.unit} ({self.done / seconds:,.1f}/s)"

    def _write(self, *, end: str) -> None:
        self._written = self.done
        sys.stderr.write(self.line() + end)
        sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def track(
    items: Iterable[T], what: str, *, total: int | None = None, unit: str = "texts"
) -> Iterator[T]:
    """`items`, one by one, counted on a progress line."""
    with Progress(what, total=total, unit=unit) as progress:
        for item in items:
            yield item
            progress.update()
