"""An HTTP server for a trained model (`textseq serve DIR`), with micro-batching.

    POST /predict   {"texts": ["a fine film", ...]} -> {"predictions": [...]}, one dict per
                    text, the same dicts `textseq predict` prints (and `model.predict` returns)
    GET  /health    {"status": "ok"}
    GET  /stats     {"model_calls", "texts"}: how many model calls served how many texts so far
    GET  /metadata  task, what the model reports of itself (labels: a classifier's labels or a
                    tagger's tags), the model's config, the textseq version that serves it, how
                    it runs (quantize, precision) and the server's limits

Models are served when their task has `serve` among its verbs (`textseq.tasks.TASKS`: today
classifiers and taggers); any other is refused at startup in one line. What a model answers
and reports comes from its predictor's `serve_texts`, `serve_problem` and `serve_metadata`
(`textseq.tasks.base.Servable`); this module knows no task.

Micro-batching: every request's texts go into one asyncio queue; a single batching task takes
the first waiting request, then keeps taking requests until the batch holds `max_batch` texts
or `max_wait_ms` have passed since the first one arrived, and runs the model once over all of
them in a worker thread (so the event loop keeps accepting requests meanwhile). Concurrent
clients therefore share model calls, which on a CPU costs little more than one of them alone:
a bounded wait buys throughput under load and adds at most `max_wait_ms` to a lone request.

Bad input never reaches the model: a body that is not JSON answers 400, a JSON body of the
wrong shape or types (or an empty text) 422, more than `max_texts` texts or a text longer
than `max_chars` characters 413; every error is a JSON object `{"error": message}` and the
server keeps serving. Should a shared batch still fail, each request in it is run on its own,
so one request's failure is never another's.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint's annotations at
# run time, and the request model is local to `create_app`.
import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from textseq import __version__
from textseq.errors import TextseqError
from textseq.tasks import check_verb, load_predictor, task_of
from textseq.tasks.base import Servable

log = logging.getLogger("textseq")

# `textseq serve --workers N` starts N processes, each importing this module anew; they find
# the model directory and settings in this environment variable.
SETTINGS_ENV = "TEXTSEQ_SERVE_SETTINGS"

PredictFn = Callable[[list[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ServeSettings:
    """What `textseq serve` is told on the command line (see `build_parser` in cli.py)."""

    model_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # server processes, each with its own copy of the model
    max_batch: int = 64  # most texts in one model call
    max_wait_ms: float = 5.0  # longest a request waits for others to share its model call
    max_texts: int = 256  # most texts in one request (more: 413)
    max_chars: int = 10_000  # most characters in one text (more: 413)
    threads: int | None = None  # torch intra-op threads per worker; None keeps the default
    quantize: str | None = None  # "int8": dynamically quantised LSTM/GRU/Linear layers
    precision: str = "fp32"  # "bf16": run under bf16 autocast

    def __post_init__(self) -> None:
        for name in ("port", "workers", "max_batch", "max_texts", "max_chars"):
            value = getattr(self, name)
            low = 0 if name == "port" else 1
            if not isinstance(value, int) or value < low:
                raise TextseqError(f"--{name.replace('_', '-')} ({value}) must be at least {low}")
        if self.max_wait_ms < 0:
            raise TextseqError(f"--max-wait-ms ({self.max_wait_ms}) must be at least 0")
        if self.threads is not None and self.threads < 1:
            raise TextseqError(f"--threads ({self.threads}) must be at least 1")


# --- the model behind the server -------------------------------------------------------------


def check_servable(model: Any) -> Servable:
    """`model` (a loaded predictor) when its task is served; else a one-line TextseqError
    naming the task and the verbs it has."""
    directory = model.directory if model.directory is not None else "this model"
    check_verb(task_of(model), "serve", directory)
    return model


def load_servable(
    directory: str | Path, *, quantize: str | None = None, precision: str = "fp32"
) -> Servable:
    """The predictor of the model directory, run as `quantize` and `precision` say (see
    `textseq.load`); a model whose task is not served (a language model continues prompts
    rather than labelling texts) is refused in one line."""
    try:
        model = load_predictor(directory, quantize=quantize, precision=precision)
    except ValueError as error:  # an unknown quantisation or precision
        raise TextseqError(str(error)) from None
    return check_servable(model)


def describe(model: Servable) -> dict[str, Any]:
    """What GET /metadata reports about a predictor (without the server's limits)."""
    config = model.config.to_dict()
    return {
        "task": config["task"],
        **model.serve_metadata(),
        "model": config["model"],
        "config": config,
        "textseq_version": __version__,
        "model_dir": None if model.directory is None else str(model.directory),
        "quantize": model.quantize,
        "precision": model.precision,
    }


def check_texts(model: Servable, texts: Sequence[str]) -> str | None:
    """Why `model` cannot take one of `texts` (a message naming it), or None when it can."""
    for position, text in enumerate(texts):
        if not text.strip():
            return f"text {position + 1} is empty; every text needs some content"
        problem = model.serve_problem(text)
        if problem is not None:
            return f"text {position + 1} {problem}"
    return None


# --- micro-batching --------------------------------------------------------------------------


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future


class MicroBatcher:
    """Runs `predict` over the texts of concurrent requests together.

    `submit(texts)` waits for the predictions of `texts`. One batching task collects waiting
    requests into batches of at most `max_batch` texts (a request larger than that runs alone),
    waiting at most `max_wait_ms` after the first for more to arrive, and calls `predict` once
    per batch in a single worker thread. `calls` counts those model calls, `texts` their texts.
    """

    def __init__(self, predict: PredictFn, *, max_batch: int, max_wait_ms: float):
        if max_batch < 1:
            raise ValueError(f"max_batch ({max_batch}) must be at least 1")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms ({max_wait_ms}) must be at least 0")
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.calls = 0
        self.texts = 0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task | None = None
        self._held: _Pending | None = None  # taken from the queue, but did not fit the batch
        # One thread: the model runs one batch at a time, and PyTorch's own intra-op threads
        # parallelise inside it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textseq-model")

    async def start(self) -> None:
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(), name="textseq-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, texts: list[str]) -> list[dict[str, Any]]:
        await self.start()
        assert self._queue is not None
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(list(texts), future))
        return await future

    def _take_waiting(self) -> _Pending | None:
        """A request that is already waiting (the held one first), without waiting."""
        if self._held is not None:
            pending, self._held = self._held, None
            return pending
        assert self._queue is not None
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            first = self._take_waiting() or await self._queue.get()
            batch, size = [first], len(first.texts)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                # Requests that queued up while the previous batch ran join at once; then
                # new ones are waited for until the deadline.
                pending = self._take_waiting()
                if pending is None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        pending = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                if size + len(pending.texts) > self.max_batch:
                    self._held = pending  # it opens the next batch
                    break
                batch.append(pending)
                size += len(pending.texts)
            batch = [p for p in batch if not p.future.cancelled()]  # clients that went away
            if batch:
                await self._serve(batch)

    async def _serve(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        texts = [text for pending in batch for text in pending.texts]
        try:
            self.calls += 1
            self.texts += len(texts)
            results = await loop.run_in_executor(self._executor, self.predict, texts)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0].future, error=error)
                return
            # Find whose texts failed: each request alone, so the others still get answers.
            for pending in batch:
                await self._serve([pending])
            return
        start = 0
        for pending in batch:
            end = start + len(pending.texts)
            _settle(pending.future, result=results[start:end])
            start = end


def _settle(future: asyncio.Future, *, result: Any = None, error: Exception | None = None) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


# --- the application -------------------------------------------------------------------------


def create_app(
    model,
    *,
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_texts: int = 256,
    max_chars: int = 10_000,
    predict: PredictFn | None = None,
):
    """The FastAPI application serving `model` (the predictor of a served task; others are
    refused with a TextseqError).

    `predict` (default: `model.serve_texts` in batches of `max_batch`) is what the batcher
    calls with a list of texts; tests pass a wrapper that counts calls.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

    model = check_servable(model)
    if predict is None:

        def predict(texts: list[str]) -> list[dict[str, Any]]:
            return model.serve_texts(texts, batch_size=max_batch)

    batcher = MicroBatcher(predict, max_batch=max_batch, max_wait_ms=max_wait_ms)
    metadata = describe(model)
    metadata["limits"] = {
        "max_texts": max_texts,
        "max_chars": max_chars,
        "max_batch": max_batch,
        "max_wait_ms": max_wait_ms,
    }

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[StrictStr]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="textseq",
        version=__version__,
        description=f"textseq {metadata['task']} model {metadata['model_dir'] or ''}",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.model = model

    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message, **extra})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("serving %s failed", request.url.path)
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    async def stats() -> dict[str, int]:
        return {"model_calls": batcher.calls, "texts": batcher.texts}

    @app.get("/metadata")
    async def get_metadata() -> dict[str, Any]:
        return metadata

    # The largest body a valid request can have: every character escaped as \\uXXXX, plus
    # quotes and commas; a longer one is refused before it is read whole.
    max_body = max_texts * (6 * max_chars + 4) + 1024
    schema = PredictRequest.model_json_schema()

    @app.post(
        "/predict",
        response_model=None,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        },
    )
    async def post_predict(request: Request) -> dict[str, Any] | JSONResponse:
        # The body is parsed here rather than by FastAPI, so that JSON sent under any
        # content type is read, and a body that is not JSON is told apart (400) from JSON of
        # the wrong shape (422).
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body:
                return error(413, f"the request body exceeds {max_body} bytes")
        if not raw.strip():
            return error(400, 'the request needs a JSON body: {"texts": ["...", ...]}')
        try:
            data = json.loads(bytes(raw))
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            return error(400, "the request body is not valid JSON")
        try:
            body = PredictRequest.model_validate(data)
        except ValidationError as invalid:
            details = [
                {
                    "where": ".".join(str(part) for part in problem["loc"]) or "body",
                    "problem": problem["msg"],
                }
                for problem in invalid.errors()
            ]
            return error(422, 'the body must be {"texts": [string, ...]}', details=details)
        texts = body.texts
        if len(texts) > max_texts:
            return error(413, f"{len(texts)} texts in one request; the limit is {max_texts}")
        for position, text in enumerate(texts):
            if len(text) > max_chars:
                return error(
                    413,
                    f"text {position + 1} has {len(text)} characters; the limit is {max_chars}",
                )
        problem = check_texts(model, texts)
        if problem is not None:
            return error(422, problem)
        if not texts:
            return {"predictions": []}
        try:
            predictions = await batcher.submit(texts)
        except TextseqError as failure:
            return error(422, str(failure))
        return {"predictions": predictions}

    return app


def create_app_from_settings(settings: ServeSettings):
    """Loads the model `settings` names and builds its application."""
    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)
    model = load_servable(
        settings.model_dir, quantize=settings.quantize, precision=settings.precision
    )
    return create_app(
        model,
        max_batch=settings.max_batch,
        max_wait_ms=settings.max_wait_ms,
        max_texts=settings.max_texts,
        max_chars=settings.max_chars,
    )


def app_from_environment():
    """The application factory `uvicorn --factory` calls in each worker process."""
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    return create_app_from_settings(settings)


def serve(settings: ServeSettings) -> None:
    """Runs the server until interrupted (uvicorn; `settings.workers` processes)."""
    import uvicorn

    if settings.workers == 1:
        started = time.perf_counter()
        app = create_app_from_settings(settings)  # load errors surface here, before binding
        log.info(
            "serving %s on http://%s:%d (model loaded in %.1fs)",
            settings.model_dir,
            settings.host,
            settings.port,
            time.perf_counter() - started,
        )
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    load_servable(settings.model_dir)  # fail here, once, rather than in every worker
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    log.info(
        "serving %s on http://%s:%d with %d workers",
        settings.model_dir,
        settings.host,
        settings.port,
        settings.workers,
    )
    uvicorn.run(
        "textseq.serving:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )
