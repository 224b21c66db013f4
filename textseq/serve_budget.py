"""How much text one batch of `textseq serve` may hold: a work budget measured at start-up.

A batch bounded only by its texts and characters can still take seconds when its texts are
long, and a small request waits for the batch running when it arrives. So the server measures
the model once at start-up and bounds each batch by what it can do in `--batch-seconds`
(0.25 s):

    measure   the model runs batches of a dense text ("a a a ...", the most tokens per
              character a word tokenizer sees), growing 4x at a time (first the text up to
              --max-chars, then the number of texts up to --max-batch) until one takes at
              least half of `target_s` or reaches --batch-chars; seconds per character is
              the last one's time over its characters (the fixed cost of a call included,
              so it errs on the slow side)
    budget    target_s / seconds per character, at most --batch-chars and at least 1

The batcher (textseq.admission) then forms batches of at most that many characters, and
starts its deadline estimate (`TooSlow`) from the measurement instead of from the first large
batch. Bound: a batch costs about `target_s` or less, except a single text longer than the
budget, which runs alone and costs about `seconds_per_char` x its characters (at most
--max-chars): the server logs that figure, and a lower --max-chars tightens it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# The text the model is timed on: one-letter words, so a word tokenizer meets the most tokens
# a text of its length can hold.
DENSE_WORD = "a "
FIRST_CHARS = 256  # the first measured batch: one text this long (or --max-chars)


@dataclass(frozen=True)
class Budget:
    """The measurement and the characters per batch it allows."""

    chars: int  # the budget: most characters in one batch
    seconds_per_char: float
    measured_chars: int  # characters of the batch the speed comes from
    measured_seconds: float
    longest_text_seconds: float  # one text of max_chars, which runs alone when over budget

    def describe(self) -> str:
        return (
            f"{self.chars} characters per batch ({self.seconds_per_char * 1e6:.2f} µs per "
            f"character, measured on {self.measured_chars} in {self.measured_seconds:.3f} s); "
            f"one text of the longest allowed runs about {self.longest_text_seconds:.3f} s"
        )


def dense_text(chars: int) -> str:
    """A text of `chars` characters made of one-letter words (the last may have two)."""
    return (DENSE_WORD * (chars // len(DENSE_WORD) + 1))[: chars - 1] + "a"


def measure_budget(
    run: Callable[[list[str]], object],
    *,
    target_s: float,
    max_chars: int,
    max_batch: int,
    batch_chars: int,
    timer: Callable[[], float] = time.perf_counter,
) -> Budget:
    """Times `run(texts)` (the model on one batch) on growing batches of dense text and
    returns the characters one batch may hold to take about `target_s` (see the module
    docstring). `timer` is the clock (tests pass a fake model's own)."""
    if target_s <= 0:
        raise ValueError(f"target_s ({target_s}) must be positive")
    run([dense_text(min(FIRST_CHARS, max_chars))])  # warm-up: first calls pay lazy set-up
    length, count = min(FIRST_CHARS, max_chars), 1
    while True:
        texts = [dense_text(length)] * count
        chars = sum(len(text) for text in texts)
        started = timer()
        run(texts)
        elapsed = max(timer() - started, 1e-9)
        bigger = chars < batch_chars and (length < max_chars or count < max_batch)
        if elapsed >= target_s / 2 or not bigger:
            break
        if length < max_chars:
            length = min(4 * length, max_chars)
        else:
            count = min(4 * count, max_batch)
        if length * count > batch_chars:  # the last step stops at --batch-chars
            count = max(1, batch_chars // length)
            if count * length <= chars:
                break
    per_char = elapsed / chars
    return Budget(
        chars=max(1, min(batch_chars, int(target_s / per_char))),
        seconds_per_char=per_char,
        measured_chars=chars,
        measured_seconds=elapsed,
        longest_text_seconds=per_char * max_chars,
    )
