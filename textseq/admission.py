"""Admission control and fair micro-batching for `textseq serve`: one client cannot stall the rest.

A request's texts are admitted into a bounded queue or refused at once:

    admitted   while the texts and characters waiting (admitted, not yet handed to the model)
               stay within `queue_texts` and `queue_chars`; otherwise `QueueFull` (the server
               answers 503 with Retry-After), without waiting
    deadline   a request not answered within `deadline_s` of its arrival raises
               `DeadlineExceeded` (504); its texts not yet handed to the model are dropped.
               A request that the model's measured speed (seconds per character of large
               batches) says cannot make its deadline, even sharing the model round-robin
               as it would, is refused at once (`TooSlow`, 503) instead
    gone       a request cancelled by its caller (a client that disconnected) is dropped the
               same way: its remaining texts never reach the model

Fair batches. Waiting requests stand in a ring, oldest first. A batch is formed by taking one
text from each request in turn, round and round, until it holds `max_batch` texts or
`batch_chars` characters (a single text longer than that runs alone), or the waiting texts run
out; new requests (none of whose texts has run yet) take their turn first, and the requests
served move to the back of the ring. Hence:

    Bound. A new request waits for at most one full batch before its first text runs, the
    one running when it arrived (plus up to `max_wait_ms`), however many texts the other
    requests hold, as long as fewer than `max_batch` other new requests (and fewer than
    `batch_chars` characters of their first texts) arrived before it. A batch holds at most
    `max_batch` texts and `batch_chars` characters, which bounds what "one batch" costs;
    the server sets `batch_chars` from a speed measurement at start-up so that a batch takes
    about --batch-seconds (textseq.serve_budget; `set_budget`).
    Every waiting request shares every batch it fits in, so no request is starved by
    larger ones.

A large request is thus cut into batches and shares every batch
with the small ones, instead of holding the model for all of its texts (the head-of-line
blocking of one FIFO queue). Requests sharing a model call must be asked the same thing: the
ring's front request's `key` (e.g. a beam size) picks which requests join a batch.

The model runs in one worker thread, one batch at a time; the event loop keeps admitting,
refusing and timing out requests meanwhile. Should a shared batch fail, each request's texts
in it are run alone, so one request's failure is never another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from textseq.errors import TextseqError

ESTIMATE_LIFE = 60.0  # seconds a measured speed is trusted to refuse requests (TooSlow)
# predict(texts, key) -> one result per text, in order
PredictFn = Callable[[list[str], Hashable], list[Any]]


class Refused(TextseqError):
    """A request the server did not take or did not finish; `status` is its HTTP status,
    `reason` its label in the server's metrics."""

    status = 503
    reason = "refused"


class QueueFull(Refused):
    """The queue holds as many texts or characters as it may: try again after `retry_after`."""

    reason = "queue_full"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooSlow(QueueFull):
    """The request could not be answered within its deadline at the model's measured speed:
    refused at once rather than computed and thrown away."""

    reason = "too_slow"


class ShuttingDown(Refused):
    """The server is draining its queue before it stops."""

    reason = "shutting_down"


class DeadlineExceeded(Refused):
    """The request was not answered within its deadline."""

    status = 504
    reason = "deadline"


@dataclass(eq=False)  # compared by identity: two requests may hold equal texts
class _Pending:
    texts: list[str]
    key: Hashable
    future: asyncio.Future
    deadline: float  # loop time
    taken: int = 0  # texts handed to the model so far
    results: list[Any] = field(default_factory=list)

    @property
    def waiting(self) -> list[str]:
        return self.texts[self.taken :]


@dataclass
class _Piece:
    pending: _Pending
    index: int  # of the text in its request


class FairBatcher:
    """Admits requests into a bounded queue and runs `predict` over fair batches of them.

    `submit(texts, key)` waits for the results of `texts`, or raises a `Refused`.
    `calls` counts model calls, `texts` their texts; `waiting_texts` and `waiting_chars` are
    the queue's depth; `on_batch(size)` (optional) is called with every batch's size.
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch: int,
        max_wait_ms: float,
        batch_chars: int,
        queue_texts: int,
        queue_chars: int,
        deadline_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        for name, value in (
            ("max_batch", max_batch),
            ("batch_chars", batch_chars),
            ("queue_texts", queue_texts),
            ("queue_chars", queue_chars),
        ):
            if value < 1:
                raise ValueError(f"{name} ({value}) must be at least 1")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms ({max_wait_ms}) must be at least 0")
        if deadline_s <= 0:
            raise ValueError(f"deadline_s ({deadline_s}) must be positive")
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.batch_chars = batch_chars
        self.queue_texts = queue_texts
        self.queue_chars = queue_chars
        self.deadline_s = deadline_s
        self.on_batch = on_batch
        self.calls = 0
        self.texts = 0
        self.waiting_texts = 0
        self.waiting_chars = 0
        self.draining = False
        self._ring: deque[_Pending] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._seconds_per_text = 0.001  # running estimate, for Retry-After
        # Seconds per character of large batches (at least half of batch_chars), where the
        # cost is the characters' rather than the call's; None until one has run, and again
        # ESTIMATE_LIFE seconds after the last (an estimate from a slow moment must not
        # refuse large requests for ever, as refusing them stops it being measured anew).
        self.seconds_per_char: float | None = None
        self._measured_at = 0.0
        # One thread: the model runs one batch at a time, and PyTorch's own intra-op threads
        # parallelise inside it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textseq-model")

    # --- the caller's side -------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._arrived = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="textseq-batcher")

    async def submit(
        self, texts: list[str], key: Hashable = None, *, deadline_s: float | None = None
    ) -> list[Any]:
        """The results of `texts` (one per text), computed in batches with other requests of
        the same `key`, within `deadline_s` (default: the batcher's). Raises QueueFull,
        ShuttingDown or DeadlineExceeded; cancelling the call drops the texts not yet handed
        to the model."""
        deadline_s = self.deadline_s if deadline_s is None else deadline_s
        await self.start()
        if self.draining:
            raise ShuttingDown("the server is shutting down")
        chars = sum(len(text) for text in texts)
        self.check_room(len(texts), chars)
        self.check_time(chars, deadline_s)
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        pending = _Pending(
            list(texts), key, loop.create_future(), deadline=loop.time() + deadline_s
        )
        self.waiting_texts += len(texts)
        self.waiting_chars += chars
        self._ring.append(pending)
        assert self._arrived is not None
        self._arrived.set()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), max(deadline_s, 0))
        except TimeoutError:
            raise DeadlineExceeded(f"no answer within the deadline of {deadline_s:.3g} s") from None
        finally:
            self._drop(pending)  # answered, timed out or cancelled: nothing more to run

    def check_room(self, texts: int, chars: int) -> None:
        """Raises QueueFull unless the queue has room for `texts` texts of `chars` characters
        (the server asks this before reading a body, with the fewest characters it holds)."""
        if (
            self.waiting_texts + texts > self.queue_texts
            or self.waiting_chars + chars > self.queue_chars
        ):
            raise QueueFull(
                f"the queue is full ({self.waiting_texts} texts, {self.waiting_chars} "
                f"characters waiting; limits {self.queue_texts} and {self.queue_chars})",
                retry_after=self.retry_after(),
            )

    def check_time(self, chars: int, deadline_s: float) -> None:
        """Raises TooSlow when a request of `chars` characters cannot be answered within
        `deadline_s` even by the estimate most in its favour: the model's seconds per
        character of large batches times its own characters plus, for each request waiting,
        as many of that one's characters as its own (round-robin shares the model so)."""
        if self.seconds_per_char is None:
            return
        if asyncio.get_running_loop().time() - self._measured_at > ESTIMATE_LIFE:
            self.seconds_per_char = None
            return
        ahead = sum(min(chars, sum(len(t) for t in p.waiting)) for p in self._ring)
        seconds = self.seconds_per_char * (chars + ahead)
        if seconds > deadline_s:
            raise TooSlow(
                f"{chars} characters would take about {seconds:.0f} s here, over the deadline "
                f"of {deadline_s:.3g} s: send fewer or shorter texts",
                retry_after=self.retry_after(),
            )

    def set_budget(self, *, batch_chars: int, seconds_per_char: float) -> None:
        """Bounds batches to `batch_chars` characters and starts the deadline estimate from
        `seconds_per_char`, both measured at start-up (textseq.serve_budget)."""
        if batch_chars < 1 or not seconds_per_char > 0:
            raise ValueError(
                f"batch_chars ({batch_chars}) must be at least 1 and seconds_per_char "
                f"({seconds_per_char}) positive"
            )
        self.batch_chars = batch_chars
        self.seconds_per_char = seconds_per_char
        self._measured_at = asyncio.get_running_loop().time()

    async def run_on_model_thread(self, fn: Callable[[], Any]) -> Any:
        """`fn()` run on the model's thread, so it never overlaps a batch."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def retry_after(self) -> int:
        """Whole seconds in which the waiting texts should be through the model."""
        return max(1, math.ceil(self.waiting_texts * self._seconds_per_text))

    async def stop(self, *, drain_s: float = 0.0) -> None:
        """Refuses new requests, lets the admitted ones finish for up to `drain_s` seconds,
        then refuses those still waiting (ShuttingDown), lets the batch running finish and
        stops the model thread."""
        self.draining = True
        loop = asyncio.get_running_loop()
        end = loop.time() + drain_s
        while self._ring and loop.time() < end:
            await asyncio.sleep(0.01)
        for pending in list(self._ring):
            _settle(pending.future, error=ShuttingDown("the server shut down before answering"))
            self._drop(pending)
        if self._task is not None:
            assert self._arrived is not None
            self._arrived.set()  # the batching task ends after the batch it is running
            await self._task
            self._task = None
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    # --- the batching task -------------------------------------------------------------------

    def _drop(self, pending: _Pending) -> None:
        """Takes `pending` out of the ring and its waiting texts out of the queue's depth."""
        with contextlib.suppress(ValueError):
            self._ring.remove(pending)
        waiting = pending.waiting
        self.waiting_texts -= len(waiting)
        self.waiting_chars -= sum(len(text) for text in waiting)
        pending.taken = len(pending.texts)

    def _expire(self, now: float) -> None:
        for pending in list(self._ring):
            if pending.future.done():
                self._drop(pending)
            elif now >= pending.deadline:
                _settle(pending.future, error=DeadlineExceeded("the deadline passed in the queue"))
                self._drop(pending)

    def form_batch(self) -> list[_Piece]:
        """The next batch (see the module docstring): of the requests waiting with the
        front request's key, new ones first, then the rest in ring order, one text from
        each in turn, until `max_batch` texts or `batch_chars` characters; the requests
        served go to the back of the ring."""
        if not self._ring:
            return []
        key = self._ring[0].key
        members = [p for p in self._ring if p.key == key]
        members.sort(key=lambda p: p.taken > 0)  # stable: new requests first, by age
        pieces: list[_Piece] = []
        served: list[_Pending] = []
        chars = 0
        while len(pieces) < self.max_batch:
            taken = len(pieces)
            for pending in members:
                if len(pieces) == self.max_batch:
                    break
                if not pending.waiting:
                    continue
                text = pending.texts[pending.taken]
                if pieces and chars + len(text) > self.batch_chars:
                    continue  # a shorter text of another request may still fit
                pieces.append(_Piece(pending, pending.taken))
                chars += len(text)
                pending.taken += 1
                self.waiting_texts -= 1
                self.waiting_chars -= len(text)
                if pending not in served:
                    served.append(pending)
            if len(pieces) == taken:  # nothing more fits
                break
        for pending in served:  # to the back of the ring, in their order
            self._ring.remove(pending)
            if pending.waiting:
                self._ring.append(pending)
        return pieces

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._arrived is not None
        while True:
            self._expire(loop.time())
            if self.draining and not self._ring:
                return
            if not self._ring:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # Wait up to max_wait for others to share the model call, unless it is full.
            end = loop.time() + self.max_wait
            while self.waiting_texts < self.max_batch and (remaining := end - loop.time()) > 0:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            self._expire(loop.time())
            pieces = self.form_batch()
            if pieces:
                await self._serve(pieces)

    async def _serve(self, pieces: list[_Piece]) -> None:
        loop = asyncio.get_running_loop()
        texts = [piece.pending.texts[piece.index] for piece in pieces]
        key = pieces[0].pending.key
        started = loop.time()
        try:
            self.calls += 1
            self.texts += len(texts)
            if self.on_batch is not None:
                self.on_batch(len(texts))
            results = await loop.run_in_executor(self._executor, self.predict, texts, key)
        except Exception as error:
            owners = list(dict.fromkeys(piece.pending for piece in pieces))
            if len(owners) == 1:
                _settle(owners[0].future, error=error)
                self._drop(owners[0])
                return
            # Find whose texts failed: each request's pieces alone, so the others still
            # get answers.
            for owner in owners:
                await self._serve([piece for piece in pieces if piece.pending is owner])
            return
        elapsed = loop.time() - started
        self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * elapsed / len(texts)
        chars = sum(len(text) for text in texts)
        if chars >= self.batch_chars / 2:
            per_char = elapsed / chars
            previous = self.seconds_per_char
            self.seconds_per_char = (
                per_char if previous is None else 0.5 * previous + 0.5 * per_char
            )
            self._measured_at = loop.time()
        for piece, result in zip(pieces, results, strict=True):
            pending = piece.pending
            pending.results.append((piece.index, result))
            if len(pending.results) == len(pending.texts):
                ordered = [r for _, r in sorted(pending.results, key=lambda item: item[0])]
                _settle(pending.future, result=ordered)


def _settle(future: asyncio.Future, *, result: Any = None, error: Exception | None = None) -> None:
    if future.done():  # the client went away, or its deadline passed
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
