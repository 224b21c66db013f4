"""What `textseq serve` reports of itself: GET /metrics in the Prometheus text format
(prometheus-client), and the readiness GET /ready answers.

    textseq_requests_total{endpoint, status}    requests answered, by path and HTTP status
    textseq_request_seconds{endpoint}           time from a request's arrival to its answer
    textseq_rejections_total{reason}            requests refused: queue_full, too_slow,
                                                deadline, shutting_down, too_large,
                                                bad_body, gone
                                                (the client left before its answer)
    textseq_queue_texts, textseq_queue_chars    texts and characters waiting for the model
    textseq_batch_texts                         texts per model call
    textseq_ready                               1 while the canary answers finite outputs

Each application has a registry of its own (tests build several). With `--workers N` every
worker process answers /metrics with its own figures: scrape each, or run one worker per port.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServeMetrics:
    def __init__(
        self,
        *,
        max_batch: int,
        queue_texts: Callable[[], float],
        queue_chars: Callable[[], float],
        ready: Callable[[], float],
    ) -> None:
        # Imported here, as FastAPI is in serving: the CLI imports this module for every verb.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "textseq_requests", "Requests answered.", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "textseq_request_seconds",
            "Seconds from a request's arrival to its answer.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rejections = Counter(
            "textseq_rejections", "Requests refused, by reason.", ["reason"], registry=r
        )
        sizes = sorted({1, *(2**i for i in range(max_batch.bit_length() + 1) if 2**i <= max_batch)})
        self.batch_texts = Histogram(
            "textseq_batch_texts", "Texts per model call.", buckets=sizes, registry=r
        )
        Gauge("textseq_queue_texts", "Texts waiting.", registry=r).set_function(queue_texts)
        Gauge("textseq_queue_chars", "Characters waiting.", registry=r).set_function(queue_chars)
        Gauge("textseq_ready", "1 when the canary answers finitely.", registry=r).set_function(
            ready
        )

    def answered(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint=endpoint, status=str(status)).inc()
        self.latency.labels(endpoint=endpoint).observe(seconds)

    def rejected(self, reason: str) -> None:
        self.rejections.labels(reason=reason).inc()

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and that format's content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def finite(value: Any) -> bool:
    """Whether every number in the JSON-able `value` is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(finite(v) for v in value)
    return True


class Readiness:
    """When the canary last answered finitely; ready while that is within `within_s`."""

    def __init__(self, within_s: float) -> None:
        self.within_s = within_s
        self.last_ok: float | None = None
        self.problem = "the canary has not run yet"

    def passed(self) -> None:
        self.last_ok, self.problem = time.monotonic(), ""

    def failed(self, problem: str) -> None:
        self.last_ok, self.problem = None, problem

    @property
    def ready(self) -> bool:
        return self.last_ok is not None and time.monotonic() - self.last_ok <= self.within_s
