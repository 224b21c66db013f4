"""Load test of `textseq serve`: throughput and latency at concurrency 1, 8 and 32.

Starts `textseq serve DIR` on loopback (a free port) as a subprocess, waits for GET /health,
then for each concurrency C sends `--requests` POST /predict requests (each with
`--texts-per-request` texts drawn in order from `--data`), keeping C in flight at once with
an aiohttp client whose every request has a timeout, and prints requests/s, texts/s, p50 and p99
latency, the errors (must be 0) and the texts per model call the server's micro-batching
reached. Every level is bounded in requests and in time (`--max-seconds`); the server is
stopped afterwards, also when something fails.

    python benchmarks/serve_load.py runs/sst2
    python benchmarks/serve_load.py runs/sst2 --requests 300 --threads 1 --max-wait-ms 5
    python benchmarks/serve_load.py runs/sst2 --quantize int8
    python benchmarks/serve_load.py runs/sst2 --abuse flood,abandoned,slow,hostile,soak

`--abuse PHASES` measures instead what one bad client does to the others (large-request
flood with small probes, abandoned requests, slow clients, hostile JSON, a 60 s soak at
concurrency 32): see benchmarks/serve_abuse.py. `--server-arg=--queue-texts=512` passes an
option through to `textseq serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import serve_abuse

from textseq.inference import QUANTIZATIONS

HOST = "127.0.0.1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", metavar="DIR", help="classifier or tagger model directory")
    parser.add_argument(
        "--data", default="sst2:dev", help="texts to send: a file or NAME:SPLIT (sst2:dev)"
    )
    parser.add_argument(
        "--concurrency",
        default="1,8,32",
        help="comma-separated numbers of requests in flight (1,8,32)",
    )
    parser.add_argument("--requests", type=int, default=400, help="requests per level (400)")
    parser.add_argument("--texts-per-request", type=int, default=1, help="texts per request (1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    parser.add_argument(
        "--max-seconds", type=float, default=300.0, help="longest a level may run (300)"
    )
    parser.add_argument(
        "--startup-seconds", type=float, default=300.0, help="longest the server may take to load"
    )
    parser.add_argument("--threads", type=int, default=1, help="the server's PyTorch threads (1)")
    parser.add_argument("--max-batch", type=int, default=64, help="server --max-batch (64)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="server --max-wait-ms (5)")
    parser.add_argument(
        "--quantize", choices=QUANTIZATIONS, default=None, help="server --quantize (none: fp32)"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="an option passed on to textseq serve, e.g. --server-arg=--deadline-s=5 (repeatable)",
    )
    abuse = parser.add_argument_group("abuse mode (see benchmarks/serve_abuse.py)")
    abuse.add_argument(
        "--abuse", default=None, help="phases to run: flood,abandoned,slow,hostile,soak"
    )
    abuse.add_argument("--flood-clients", type=int, default=4, help="flooding clients (4)")
    abuse.add_argument("--flood-texts", type=int, default=256, help="texts per flood request")
    abuse.add_argument("--flood-chars", type=int, default=10_000, help="characters per text")
    abuse.add_argument("--flood-seconds", type=float, default=30.0, help="flood length (30)")
    abuse.add_argument("--abandoned", type=int, default=6, help="abandoned requests (6)")
    abuse.add_argument("--slow-clients", type=int, default=300, help="half-sent bodies (300)")
    abuse.add_argument("--slow-seconds", type=float, default=5.0, help="how long held (5)")
    abuse.add_argument("--soak-seconds", type=float, default=60.0, help="soak length (60)")
    abuse.add_argument("--soak-concurrency", type=int, default=32, help="soak clients (32)")
    args = parser.parse_args(argv)
    for name in ("requests", "texts_per_request", "threads", "max_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} ({getattr(args, name)}) must be at least 1")
    return args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def load_texts(spec: str, count: int) -> list[str]:
    from textseq.tasks.classify.data import load_examples

    texts = [e.text for e in load_examples(spec, label_column=None) if e.text.strip()]
    if not texts:
        raise SystemExit(f"{spec} holds no texts")
    return [texts[i % len(texts)] for i in range(count)]


def start_server(args: argparse.Namespace, port: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "textseq",
        "-q",
        "serve",
        args.model,
        "--host",
        HOST,
        "--port",
        str(port),
        "--threads",
        str(args.threads),
        "--max-batch",
        str(args.max_batch),
        "--max-wait-ms",
        str(args.max_wait_ms),
        # The abuse mode runs against the server's own request limits.
        *([] if args.abuse else ["--max-texts", str(max(args.texts_per_request, 1))]),
        *(["--quantize", args.quantize] if args.quantize else []),
        *args.server_arg,
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    log = log_path.open("w")
    # Its own process group, so that stopping it stops anything it started (uvicorn workers).
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)


def wait_until_healthy(
    server: subprocess.Popen, base: str, seconds: float, log_path: Path
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if server.poll() is not None:
            raise SystemExit(
                f"the server exited with status {server.returncode}:\n{log_path.read_text()}"
            )
        if asyncio.run(get_status(f"{base}/health")) == 200:
            return time.perf_counter() - started
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer /health within {seconds:.0f} s")


async def get_status(url: str) -> int | None:
    try:
        timeout = aiohttp.ClientTimeout(total=2.0)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def warm_up(base: str, texts: list[str], timeout: float) -> None:
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(f"{base}/predict", json={"texts": texts}) as response,
    ):
        await response.read()


async def run_level(
    base: str, payloads: list[list[str]], concurrency: int, timeout: float, max_seconds: float
) -> dict[str, float]:
    """Sends every payload with `concurrency` in flight; returns the level's figures."""
    latencies: list[float] = []
    errors = 0
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=client_timeout
    ) as session:

        async def stats() -> dict[str, int]:
            async with session.get("/stats") as response:
                return await response.json()

        before = await stats()
        queue: asyncio.Queue[list[str]] = asyncio.Queue()
        for payload in payloads:
            queue.put_nowait(payload)
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal errors, sent
            while time.perf_counter() < deadline:
                try:
                    texts = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                sent += 1
                t0 = time.perf_counter()
                try:
                    async with session.post("/predict", json={"texts": texts}) as response:
                        body = await response.json()
                        ok = response.status == 200 and len(body["predictions"]) == len(texts)
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        after = await stats()
    errors += len(payloads) - sent  # not sent within --max-seconds
    calls = after["model_calls"] - before["model_calls"]
    texts = after["texts"] - before["texts"]
    ordered = sorted(latencies)
    return {
        "requests": sent,
        "seconds": seconds,
        "requests_per_s": sent / seconds,
        "texts_per_s": texts / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "errors": errors,
        "texts_per_call": texts / max(calls, 1),
    }


def server_limits(base: str) -> dict:
    """The limits the server reports at GET /metadata (the batch budget it measured among
    them)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/metadata", timeout=30) as response:
        return json.loads(response.read())["limits"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    texts = load_texts(args.data, args.requests * args.texts_per_request)
    k = args.texts_per_request
    payloads = [texts[i * k : (i + 1) * k] for i in range(args.requests)]
    port = free_port()
    base = f"http://{HOST}:{port}"
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"textseq-serve-load-{port}.log"
    server = start_server(args, port, log_path)
    try:
        startup = wait_until_healthy(server, base, args.startup_seconds, log_path)
        print(
            f"textseq serve {args.model} on {base}: healthy after {startup:.1f} s; "
            f"{args.requests} requests of {k} text(s) per level, server threads {args.threads}, "
            f"max-batch {args.max_batch}, max-wait-ms {args.max_wait_ms:g}, "
            f"{args.quantize or 'fp32'}"
        )
        print(f"server limits: {server_limits(base)}", flush=True)
        # One request first, so that the first level does not pay for warming up.
        asyncio.run(warm_up(base, payloads[0], args.timeout))
        if args.abuse:
            serve_abuse.run(args, base, HOST, port, server.pid, texts, log_path)
            print(f"the server log is {log_path}")
            return 0
        header = (
            f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'texts/s':>8} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'texts/call':>10}"
        )
        print(header)
        print("-" * len(header))
        failed = 0
        for concurrency in levels:
            row = asyncio.run(
                run_level(base, payloads, concurrency, args.timeout, args.max_seconds)
            )
            failed += row["errors"]
            print(
                f"{concurrency:>11} {row['requests']:>8} {row['requests_per_s']:>8.1f} "
                f"{row['texts_per_s']:>8.1f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                f"{row['errors']:>6} {row['texts_per_call']:>10.2f}",
                flush=True,
            )
    finally:
        stop_server(server)
    if failed:
        print(f"{failed} requests failed; the server log is {log_path}", file=sys.stderr)
        return 1
    log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
