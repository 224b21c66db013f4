"""What `textseq serve` is told on the command line, checked before a model is loaded."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass

from textseq.errors import TextseqError
from textseq.limits import OVER_LIMIT


@dataclass(frozen=True)
class ServeSettings:
    """What `textseq serve` is told on the command line (see `build_parser` in cli.py)."""

    model_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # server processes, each with its own copy of the model
    max_batch: int = 64  # most texts in one model call
    batch_chars: int = 50_000  # most characters in one model call (a longer text runs alone)
    # what one batch may cost: its characters are bounded from a measurement at start-up
    # (textseq.serve_budget); 0 turns the measurement off and keeps batch_chars
    batch_seconds: float = 0.25
    max_wait_ms: float = 5.0  # longest a request waits for others to share its model call
    max_texts: int = 256  # most texts in one request (more: 413)
    max_chars: int = 10_000  # most characters in one text (more: 413, or truncated)
    # a text over a cap: refuse (413) or truncate (warned); None: refuse over max_chars, read
    # the first tokens over the model's token cap (textseq.limits)
    over_limit: str | None = None
    queue_texts: int = 1024  # most texts waiting for the model (more: 503)
    queue_chars: int = 4_000_000  # most characters waiting for the model (more: 503)
    deadline_s: float = 5.0  # a request not answered this long after arriving: 504
    max_beam: int = 8  # largest beam_size a /translate request may ask for
    max_new_tokens: int = 256  # largest max_tokens a /generate request may ask for
    ready_within_s: float = 60.0  # /ready needs a finite canary answer this recent
    drain_s: float = 10.0  # on shutdown, how long admitted requests may still finish
    threads: int | None = None  # torch intra-op threads per worker; None keeps the default
    quantize: str | None = None  # "int8": dynamically quantised LSTM/GRU/Linear layers
    precision: str = "fp32"  # "bf16": run under bf16 autocast

    def __post_init__(self) -> None:
        for name in (
            "workers",
            "max_batch",
            "batch_chars",
            "max_texts",
            "max_chars",
            "queue_texts",
            "queue_chars",
            "max_beam",
            "max_new_tokens",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise TextseqError(f"--{name.replace('_', '-')} ({value}) must be at least 1")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise TextseqError(f"--port ({self.port}) must be between 1 and 65535")
        check_host(self.host)
        if self.max_wait_ms < 0:
            raise TextseqError(f"--max-wait-ms ({self.max_wait_ms}) must be at least 0")
        for name in ("deadline_s", "ready_within_s"):
            if not getattr(self, name) > 0:
                raise TextseqError(
                    f"--{name.replace('_', '-')} ({getattr(self, name)}) must be positive"
                )
        if not self.batch_seconds >= 0:
            raise TextseqError(f"--batch-seconds ({self.batch_seconds}) must be at least 0")
        if self.drain_s < 0:
            raise TextseqError(f"--drain-s ({self.drain_s}) must be at least 0")
        if self.over_limit is not None and self.over_limit not in OVER_LIMIT:
            raise TextseqError(
                f"--over-limit ({self.over_limit}) must be one of {', '.join(OVER_LIMIT)}"
            )
        if self.queue_texts < self.max_texts:
            raise TextseqError(
                f"--queue-texts ({self.queue_texts}) must be at least --max-texts "
                f"({self.max_texts})"
            )
        if self.threads is not None and self.threads < 1:
            raise TextseqError(f"--threads ({self.threads}) must be at least 1")


def check_host(host: str) -> None:
    """A one-line TextseqError unless `host` is an IP address or a name that resolves."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        raise TextseqError(
            f"--host ({host!r}) is neither an IP address nor a name that resolves"
        ) from None
