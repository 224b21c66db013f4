"""Language-modelling corpora: a text becomes one long stream of token ids, cut into
`batch_size` contiguous streams and read in windows for truncated back-propagation through
time (Mikolov et al. 2010; Zaremba et al. 2014, section 4).

Stream b holds tokens [b*N, (b+1)*N) of the corpus, so row b of consecutive windows continues
where row b of the previous window stopped, and a recurrent state carried from one window to
the next stays meaningful.

Shapes: B streams (batch size), N tokens per stream, T window length (bptt).
"""

from __future__ import annotations

import gzip
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import IterableDataset

from textseq.errors import DataError
from textseq.tasks.lm.datasets import CORPORA, parse_named_corpus, prepared_corpus_split
from textseq.text.pipeline import TextPipeline


def read_corpus_lines(spec: str) -> list[str]:
    """The lines of a corpus split (`ptb:train`) or a plain-text file (optionally .gz), without
    their line breaks; a final line break does not make an extra empty line."""
    named = parse_named_corpus(spec)
    if named is not None:
        path = prepared_corpus_split(*named)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            known = ", ".join(f"{name}:{'|'.join(c.splits)}" for name, c in CORPORA.items())
            raise DataError(f"no such file: {spec} (named corpora: {known})")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read: {error}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError("not valid UTF-8", path=path, line=line) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataError("the corpus is empty", path=path)
    return lines


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """ids: (L,) -> (B, N) with N = L // B; the last L mod B tokens are dropped."""
    if ids.dim() != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {tuple(ids.shape)}")
    n = ids.numel() // batch_size
    if n < 2:
        raise DataError(
            f"{ids.numel()} tokens cannot fill {batch_size} streams of at least 2 tokens; "
            "use more data or a smaller batch size"
        )
    return ids[: n * batch_size].view(batch_size, n)  # (B, N)


def window_lengths(
    total: int, bptt: int, *, variable: bool = False, rng: random.Random | None = None
) -> list[int]:
    """Lengths of the windows that cover `total - 1` prediction positions of a stream.

    Fixed: `bptt` each (the last one shorter). Variable (Merity et al. 2018, section 4.1): a
    base of `bptt` with probability 0.95, else `bptt / 2`, plus N(0, 5) noise, at least 5.
    """
    lengths, position = [], 0
    rng = rng or random.Random(0)
    while position < total - 1:
        length = bptt
        if variable:
            base = bptt if rng.random() < 0.95 else bptt / 2
            length = max(5, round(rng.gauss(base, 5)))
        length = min(length, total - 1 - position)
        lengths.append(length)
        position += length
    return lengths


class BPTTWindows(IterableDataset):
    """Consecutive (inputs, targets) windows over contiguous streams; targets are the inputs
    shifted by one token. An epoch reads every stream once, from start to end, in order."""

    def __init__(self, streams: torch.Tensor, *, bptt: int, variable: bool = False, seed: int = 0):
        super().__init__()
        if bptt < 1:
            raise ValueError(f"bptt ({bptt}) must be positive")
        self.streams = streams  # (B, N)
        self.bptt = bptt
        self.variable = variable
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Variable window lengths are drawn afresh, but reproducibly, for each epoch."""
        self.epoch = epoch

    def lengths(self) -> list[int]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        return window_lengths(self.streams.size(1), self.bptt, variable=self.variable, rng=rng)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start = 0
        for length in self.lengths():
            inputs = self.streams[:, start : start + length]  # (B, T)
            targets = self.streams[:, start + 1 : start + 1 + length]  # (B, T)
            yield inputs, targets
            start += length

    def __len__(self) -> int:
        if self.variable:  # an estimate for progress bars; the draw decides the real count
            return math.ceil((self.streams.size(1) - 1) / (0.975 * self.bptt))
        return math.ceil((self.streams.size(1) - 1) / self.bptt)


def corpus_ids(
    pipeline: TextPipeline, lines: Sequence[str], *, limit: int | None = None
) -> torch.Tensor:
    """The corpus as one (L,) stream of token ids, cut to its first `limit` tokens."""
    ids = torch.tensor(pipeline.vocab.encode(pipeline.stream_tokens(lines)), dtype=torch.long)
    return ids if limit is None else ids[:limit]
