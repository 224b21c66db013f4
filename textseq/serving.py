"""An HTTP server for a trained model (`textseq serve DIR`): one client cannot stall the others.

    POST /predict     {"texts": [...]} -> {"predictions": [...]}: classifiers, taggers, one
                      dict per text as `textseq predict` prints it
    POST /translate   {"texts": [...], "beam_size": k} -> {"translations": [...]}
    POST /generate    {"texts": [prompts], "max_tokens": n} -> {"generations": [...]}
    GET  /health      liveness: {"status": "ok"} while the process serves HTTP
    GET  /ready       readiness: 200 when the model answered a canary input with finite
                      outputs at start-up and within the last --ready-within-s seconds, else 503
    GET  /metrics     Prometheus text format (textseq.serve_metrics)
    GET  /stats       {"model_calls", "texts", "queue_texts", "queue_chars"}
    GET  /metadata    task, what the model reports of itself, its config, the textseq version,
                      how it runs (quantize, precision) and the server's limits

A model is served at the path of its task's main verb (`Task.endpoint`) when `serve` is among
its task's verbs; what it answers and reports comes from its predictor's `Servable` methods,
so this module knows no task. The answer's key is the task's `answers` (predictions,
translations, generations); `warnings` lists texts truncated to the caps.

Admission control (textseq.admission): the texts of every request join one bounded queue
(--queue-texts, --queue-chars; full, or a request that cannot make its deadline at the
model's measured speed: 503 with Retry-After, at once), are answered within
--deadline-s of arrival or get 504, and are dropped before the model when their client
disconnects; batches of at most --max-batch texts and --batch-chars characters (lowered at
start-up to what the model runs in --batch-seconds, textseq.serve_budget) are formed fairly,
so a new request waits for at most one batch however large the others are. Per
request, decoding options are capped: a translation's beam_size by --max-beam, a language
model's max_tokens by --max-new-tokens.

Client input never reaches the model unchecked and never answers 5xx: a content type other
than JSON answers 415; a body that is not UTF-8 JSON, is nested too deep, repeats a key, holds
NaN or a huge number, 400 (textseq.strict_json); a body not sent whole within the deadline
408; JSON of the wrong shape or types, an empty text, a lone surrogate or a control character
such as NUL 422; more than --max-texts texts, a text over --max-chars characters or over the
model's token cap (with --over-limit refuse; truncate cuts it, or lets the model read its
first tokens, and warns; by default a text over the token cap is read to it, warned) or a
body over its largest valid size 413 (textseq.limits). Client
errors and disconnects log at most one line, never a traceback. Should a shared batch fail,
each request in it is run on its own, so one request's failure is never another's; a model
whose outputs are not finite answers 503 and is not ready.
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from textseq import __version__
from textseq.admission import FairBatcher, QueueFull, Refused
from textseq.errors import TextseqError
from textseq.limits import BadCharacter, InputTooLarge, apply_limits, limits_for, model_limits
from textseq.serve_budget import measure_budget
from textseq.serve_metrics import Readiness, ServeMetrics, finite
from textseq.serve_settings import ServeSettings
from textseq.strict_json import BadBody, parse_body
from textseq.tasks import check_verb, load_predictor, task_of
from textseq.tasks.base import Servable

log = logging.getLogger("textseq")

# `textseq serve --workers N` starts N processes, each importing this module anew; they find
# the model directory and settings in this environment variable.
SETTINGS_ENV = "TEXTSEQ_SERVE_SETTINGS"
CANARY = "hello world"  # the input /ready's canary runs through the model

PredictFn = Callable[[list[str]], list[dict[str, Any]]]


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
    `textseq.load`); a model whose task is not served is refused in one line."""
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


# --- the application -------------------------------------------------------------------------


def create_app(model, *, settings: ServeSettings | None = None, predict: PredictFn | None = None):
    """The FastAPI application serving `model` (the predictor of a served task; others are
    refused with a TextseqError) as `settings` say (default: ServeSettings' defaults).

    `predict(texts, **options)` (default: `model.serve_texts` in batches of `max_batch`) is
    what the batcher calls; tests pass a wrapper that counts calls or fails.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from pydantic import ConfigDict, StrictInt, StrictStr, ValidationError, create_model
    from starlette.requests import ClientDisconnect

    model = check_servable(model)
    s = settings or ServeSettings(model_dir=str(model.directory or ""))
    task = task_of(model)
    endpoint, answer_key = task.endpoint, task.answers
    options = model.serve_options()  # name -> (default, the cap's setting)
    caps = {name: getattr(s, cap) for name, (_, cap) in options.items()}
    if predict is None:

        def predict(texts: list[str], **chosen: int) -> list[dict[str, Any]]:
            return model.serve_texts(texts, batch_size=s.max_batch, **chosen)

    readiness = Readiness(s.ready_within_s)
    metrics: ServeMetrics
    batcher = FairBatcher(
        lambda texts, key: predict(texts, **dict(key)),
        max_batch=s.max_batch,
        max_wait_ms=s.max_wait_ms,
        batch_chars=s.batch_chars,
        queue_texts=s.queue_texts,
        queue_chars=s.queue_chars,
        deadline_s=s.deadline_s,
        on_batch=lambda size: metrics.batch_texts.observe(size),
    )
    metrics = ServeMetrics(
        max_batch=s.max_batch,
        queue_texts=lambda: batcher.waiting_texts,
        queue_chars=lambda: batcher.waiting_chars,
        ready=lambda: float(readiness.ready),
    )
    limits, count_tokens = model_limits(
        model, limits_for(s.over_limit, max_chars=s.max_chars, max_texts=s.max_texts)
    )
    metadata = describe(model)
    metadata["endpoint"] = f"/{endpoint}"
    metadata["limits"] = {
        name: getattr(s, name)
        for name in (
            "max_texts",
            "max_chars",
            "over_limit",
            "max_batch",
            "batch_chars",
            "max_wait_ms",
            "batch_seconds",
            "queue_texts",
            "queue_chars",
            "deadline_s",
        )
    } | {f"{name}_max": cap for name, cap in caps.items()}
    metadata["limits"]["max_tokens"] = limits.max_tokens  # the model's own cap, or None

    fields: dict[str, Any] = {"texts": (list[StrictStr], ...)}
    fields |= {name: (StrictInt | None, None) for name in options}
    Body = create_model("ServeRequest", __config__=ConfigDict(extra="forbid"), **fields)

    async def canary() -> None:
        """Runs the canary through the batcher (so it never races the model thread)."""
        key = tuple((name, 1) for name in sorted(options))
        try:
            results = await batcher.submit([CANARY], key)
        except Exception as error:  # the model is broken: say so at /ready, keep serving
            readiness.failed(f"the canary failed: {type(error).__name__}: {error}")
            log.warning("canary failed: %s: %s", type(error).__name__, error)
            return
        if finite(results):
            readiness.passed()
        else:
            readiness.failed("the canary's outputs are not finite")
            log.warning("canary: the model's outputs are not finite")

    async def keep_checking() -> None:
        while True:
            await asyncio.sleep(s.ready_within_s / 2)
            await canary()

    async def measure() -> None:
        """Bounds batches by the work the model does in --batch-seconds (serve_budget)."""
        key = {name: min(default, caps[name]) for name, (default, _) in options.items()}
        try:
            budget = await batcher.run_on_model_thread(
                lambda: measure_budget(
                    lambda texts: predict(texts, **key),
                    target_s=s.batch_seconds,
                    max_chars=s.max_chars,
                    max_batch=s.max_batch,
                    batch_chars=s.batch_chars,
                )
            )
        except Exception as error:  # the canary says so at /ready; keep --batch-chars
            log.warning("measuring the model failed: %s: %s", type(error).__name__, error)
            return
        batcher.set_budget(batch_chars=budget.chars, seconds_per_char=budget.seconds_per_char)
        app.state.budget = budget
        metadata["limits"]["batch_budget_chars"] = budget.chars
        log.info("batch budget: %s", budget.describe())
        if budget.longest_text_seconds > 2 * s.batch_seconds:
            log.warning(
                "one text of --max-chars (%d) takes about %.2f s here, over --batch-seconds "
                "(%g): it runs alone; a lower --max-chars bounds batches more tightly",
                s.max_chars,
                budget.longest_text_seconds,
                s.batch_seconds,
            )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        await canary()
        if s.batch_seconds > 0 and readiness.ready:
            await measure()
        checker = asyncio.create_task(keep_checking())
        try:
            yield
        finally:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
            await batcher.stop(drain_s=s.drain_s)

    app = FastAPI(
        title="textseq",
        version=__version__,
        description=f"textseq {metadata['task']} model {metadata['model_dir'] or ''}",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.model = model
    app.state.readiness = readiness
    app.state.budget = None  # the batch budget measured at start-up (textseq.serve_budget)

    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message, **extra})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A fault of the server, never of the client's input (that is answered 4xx).
        log.exception("serving %s failed", request.url.path)
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        age = None if readiness.last_ok is None else time.monotonic() - readiness.last_ok
        body = {"ready": readiness.ready, "canary_age_s": age, "problem": readiness.problem}
        if age is not None and not readiness.ready:
            body["problem"] = f"the canary last passed {age:.0f} s ago"
        return JSONResponse(status_code=200 if readiness.ready else 503, content=body)

    @app.get("/metrics")
    async def get_metrics() -> Response:
        text, content_type = metrics.render()
        return Response(text, media_type=content_type)

    @app.get("/stats")
    async def stats() -> dict[str, int]:
        return {
            "model_calls": batcher.calls,
            "texts": batcher.texts,
            "queue_texts": batcher.waiting_texts,
            "queue_chars": batcher.waiting_chars,
        }

    @app.get("/metadata")
    async def get_metadata() -> dict[str, Any]:
        return metadata

    # The largest body a valid request can have: every character escaped as \uXXXX, plus
    # quotes and commas; a longer one is refused before it is read whole.
    max_body = s.max_texts * (6 * s.max_chars + 4) + 1024
    schema = Body.model_json_schema()

    async def read_body(request: Request) -> bytes:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body:
                raise BadBody(413, f"the request body exceeds {max_body} bytes")
        return bytes(raw)

    async def until_gone(request: Request) -> None:
        """Returns when the client disconnects (the body has been read by then)."""
        while (await request.receive())["type"] != "http.disconnect":
            pass

    async def handle(request: Request, arrived: float) -> tuple[int, dict[str, Any], dict]:
        """(status, JSON answer, headers) of one request to the model's endpoint."""
        try:
            content_type = request.headers.get("content-type")
            if content_type is not None:
                parse_body(b"{}", content_type)  # 415 before reading the body
            length = request.headers.get("content-length", "")
            if length.isdigit():  # refused before the body is read, when it cannot fit
                if int(length) > max_body:
                    raise BadBody(413, f"the request body exceeds {max_body} bytes")
                # A body of n bytes holds at least n / 6 characters (each escaped \uXXXX).
                fewest = max(int(length) // 6 - 64, 0)
                batcher.check_room(1, fewest)
                batcher.check_time(fewest, s.deadline_s)
            raw = await asyncio.wait_for(read_body(request), s.deadline_s)
            data = parse_body(raw, content_type)
        except TimeoutError:
            metrics.rejected("bad_body")
            return 408, {"error": f"the body did not arrive within {s.deadline_s:g} s"}, {}
        except BadBody as bad:
            metrics.rejected("too_large" if bad.status == 413 else "bad_body")
            return bad.status, {"error": str(bad)}, {}
        except QueueFull as full:
            metrics.rejected(full.reason)
            return 503, {"error": str(full)}, {"Retry-After": str(full.retry_after)}
        try:
            body = Body.model_validate(data)
        except ValidationError as invalid:
            metrics.rejected("bad_body")
            details = [
                {
                    "where": ".".join(str(part) for part in problem["loc"]) or "body",
                    "problem": problem["msg"],
                }
                for problem in invalid.errors()
            ]
            shape = ", ".join(['"texts": [string, ...]', *(f'"{o}": int' for o in options)])
            return 422, {"error": f"the body must be {{{shape}}}", "details": details}, {}
        chosen = {}
        for name, (default, _) in options.items():
            value = getattr(body, name)
            value = min(default, caps[name]) if value is None else value
            if not 1 <= value <= caps[name]:
                metrics.rejected("too_large")
                return 422, {"error": f"{name} ({value}) must be between 1 and {caps[name]}"}, {}
            chosen[name] = value
        try:
            if limits.max_tokens is None:
                checked = apply_limits(body.texts, limits)
            else:  # tokenising is the model's work: off the event loop
                checked = await asyncio.to_thread(
                    apply_limits, body.texts, limits, count_tokens=count_tokens
                )
        except InputTooLarge as too_large:
            metrics.rejected("too_large")
            return 413, {"error": str(too_large)}, {}
        except BadCharacter as bad:
            metrics.rejected("bad_body")
            return 422, {"error": str(bad)}, {}
        problem = check_texts(model, checked.texts)
        if problem is not None:
            metrics.rejected("bad_body")
            return 422, {"error": problem}, {}
        extra = {"warnings": checked.warnings} if checked.warnings else {}
        if not checked.texts:
            return 200, {answer_key: [], **extra}, {}
        submitted = asyncio.create_task(
            batcher.submit(
                checked.texts,
                tuple(sorted(chosen.items())),
                deadline_s=s.deadline_s - (time.monotonic() - arrived),
            )
        )
        gone = asyncio.create_task(until_gone(request))
        await asyncio.wait({submitted, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not submitted.done():  # the client left: drop its texts before the model
            submitted.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await submitted
            metrics.rejected("gone")
            log.info("%s: the client left before its answer", endpoint)
            return 499, {"error": "the client left"}, {}
        try:
            results = submitted.result()
        except QueueFull as full:
            metrics.rejected(full.reason)
            return 503, {"error": str(full)}, {"Retry-After": str(full.retry_after)}
        except Refused as refused:
            metrics.rejected(refused.reason)
            return refused.status, {"error": str(refused)}, {}
        except TextseqError as failure:  # the model refused a text
            return 422, {"error": str(failure)}, {}
        if not finite(results):
            readiness.failed("the model answered non-finite outputs")
            log.warning("%s: the model's outputs are not finite", endpoint)
            return 503, {"error": "the model's outputs are not finite; it is not ready"}, {}
        return 200, {answer_key: results, **extra}, {}

    @app.post(
        f"/{endpoint}",
        response_model=None,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        },
    )
    async def post(request: Request) -> JSONResponse:
        # The body is parsed here rather than by FastAPI, so that a body that is not JSON is
        # told apart (400) from JSON of the wrong shape (422), and hostile JSON never reaches
        # a recursive parser.
        arrived = time.monotonic()
        try:
            status, content, headers = await handle(request, arrived)
        except ClientDisconnect:  # left while sending its body: one line, no traceback
            metrics.rejected("gone")
            log.info("%s: the client left while sending its body", endpoint)
            status, content, headers = 499, {"error": "the client left"}, {}
        metrics.answered(endpoint, status, time.monotonic() - arrived)
        return JSONResponse(status_code=status, content=content, headers=headers)

    return app


# oneDNN (PyTorch's CPU kernels) caches a compiled primitive per input shape, 1024 by default;
# a server sees a new (batch, length) shape in almost every batch, and the cache grew the RSS
# by 200 MB (+49%) in a 5-minute soak. 64 bounds it (+5%). Read at the first primitive, so it
# is set before the model first runs; the environment's own value wins.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")


def create_app_from_settings(settings: ServeSettings):
    """Loads the model `settings` names and builds its application."""
    os.environ.setdefault(*ONEDNN_CACHE)
    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)
    model = load_servable(
        settings.model_dir, quantize=settings.quantize, precision=settings.precision
    )
    return create_app(model, settings=settings)


def app_from_environment():
    """The application factory `uvicorn --factory` calls in each worker process."""
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    return create_app_from_settings(settings)


def serve(settings: ServeSettings) -> None:
    """Runs the server until interrupted (uvicorn; `settings.workers` processes). On SIGTERM
    or SIGINT it stops accepting connections and lets admitted requests finish for up to
    `settings.drain_s` seconds; those still waiting then are answered 503."""
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
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=settings.drain_s,
        )
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
        timeout_graceful_shutdown=settings.drain_s,
    )
