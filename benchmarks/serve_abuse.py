"""The abuse mode of `benchmarks/serve_load.py --abuse`: what one bad client does to the others.

Every phase runs on loopback, with a bounded number of requests and a bounded time, against a
server that `serve_load.py` started (and stops afterwards):

    flood      `--flood-clients` clients each send the largest request the server allows
               (`--flood-texts` texts of `--flood-chars` characters), again and again, for
               `--flood-seconds`; meanwhile a probe sends a 1-text request every 0.25 s. The
               probes' p50/p99 and status counts are the figures (target: p99 < 1 s, or 503
               at once).
    abandoned  `--abandoned` large requests whose clients give up after 1 s, then one probe:
               how long it waits for work nobody will read.
    slow       `--slow-clients` connections send their headers and half of a body, then hold
               it for `--slow-seconds` while probes run; the probes' latencies are reported.
    hostile    bodies a client should never send (lone surrogates, deep nesting, duplicate
               keys, huge numbers, wrong content types, ...): the status of each (no 5xx).
    soak       `--soak-seconds` (60) at concurrency `--soak-concurrency` (32) of 1-text
               requests: requests/s, p50/p99, 5xx, rejected (503), the server's RSS at the
               start and the end.

Finally the server log's size and the number of tracebacks in it are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

PROBE_EVERY = 0.25  # seconds between probes
PROBE_TIMEOUT = 120.0  # a probe gives up after this (counted as "timeout")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def large_text(chars: int) -> str:
    """A text of `chars` characters, about chars / 5 words."""
    return ("word " * (chars // 5 + 1))[:chars].strip() + "."


def rss_mb(pid: int) -> float:
    """The resident set size of process `pid` and its children, in MB (Linux /proc)."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    found = [int(c) for c in listed]
    return found + [g for c in found for g in children(c)]


async def timed_post(
    session: aiohttp.ClientSession, path: str, texts: list[str] | bytes, timeout: float
) -> tuple[float, str]:
    """(seconds, outcome) of one POST of `texts` (or a body encoded already): the status
    as a string, "timeout" or "dropped"."""
    body = texts if isinstance(texts, bytes) else json.dumps({"texts": texts}).encode()
    started = time.perf_counter()
    try:
        async with session.post(
            path,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            await response.read()
            outcome = str(response.status)
    except TimeoutError:
        outcome = "timeout"
    except aiohttp.ClientError:
        outcome = "dropped"
    return time.perf_counter() - started, outcome


def summarise(results: list[tuple[float, str]]) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    for _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    seconds = [s for s, _ in results]
    return {
        "n": len(results),
        "p50_ms": 1000 * (statistics.median(seconds) if seconds else float("nan")),
        "p99_ms": 1000 * percentile(seconds, 0.99),
        "max_ms": 1000 * (max(seconds) if seconds else float("nan")),
        "outcomes": dict(sorted(outcomes.items())),
    }


async def probe_while(
    session: aiohttp.ClientSession, text: str, stop: asyncio.Event
) -> list[tuple[float, str]]:
    """1-text probes every PROBE_EVERY seconds (each in its own task) until `stop` is set."""
    probes: list[asyncio.Task] = []
    while not stop.is_set():
        probes.append(asyncio.create_task(timed_post(session, "/predict", [text], PROBE_TIMEOUT)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY)
    return list(await asyncio.gather(*probes))


async def flood(base: str, args: Any, probe_text: str) -> dict[str, Any]:
    # Encoded once: the client's own work should not delay its probes.
    big = json.dumps({"texts": [large_text(args.flood_chars)] * args.flood_texts}).encode()
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=args.flood_clients + 64)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:
        flood_results: list[tuple[float, str]] = []
        deadline = time.perf_counter() + args.flood_seconds

        async def flooder() -> None:
            while time.perf_counter() < deadline:
                flood_results.append(await timed_post(session, "/predict", big, PROBE_TIMEOUT))
                if flood_results[-1][1] == "503":
                    await asyncio.sleep(0.05)  # a polite client would honour Retry-After

        prober = asyncio.create_task(probe_while(session, probe_text, stop))
        await asyncio.sleep(0.5)  # the flood first, then probes land behind it
        await asyncio.gather(*(flooder() for _ in range(args.flood_clients)))
        stop.set()
        probes = await prober
    return {"probes": summarise(probes), "flood": summarise(flood_results)}


async def abandoned(base: str, args: Any, probe_text: str) -> dict[str, Any]:
    big = json.dumps({"texts": [large_text(args.flood_chars)] * args.flood_texts}).encode()
    async with aiohttp.ClientSession(base_url=base) as session:
        gone = await asyncio.gather(
            *(timed_post(session, "/predict", big, 1.0) for _ in range(args.abandoned))
        )
        probe = await timed_post(session, "/predict", [probe_text], PROBE_TIMEOUT)
    return {"abandoned": summarise(list(gone)), "probe_after": summarise([probe])}


async def slow_clients(base: str, args: Any, host: str, port: int, probe_text: str) -> dict:
    held: list[asyncio.StreamWriter] = []
    body = b'{"texts": ["' + b"a slow text " * 1000 + b'"]}'
    for _ in range(args.slow_clients):
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            break
        writer.write(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        await writer.drain()
        held.append(writer)
    stop = asyncio.Event()
    async with aiohttp.ClientSession(base_url=base) as session:
        prober = asyncio.create_task(probe_while(session, probe_text, stop))
        await asyncio.sleep(args.slow_seconds)
        stop.set()
        probes = await prober
    for writer in held:
        writer.close()
    await asyncio.sleep(0.5)  # the server notices the disconnects (and logs them, or not)
    return {"held": len(held), "probes": summarise(probes)}


def hostile_bodies() -> list[tuple[str, bytes, str]]:
    """(name, body, content type) of requests no client should send."""
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        ("lone surrogate", b'{"texts": ["a \\ud800 b"]}', "application/json"),
        ("deep nesting", b'{"texts": ' + deep + b"}", "application/json"),
        ("duplicate keys", b'{"texts": ["a"], "texts": ["b"]}', "application/json"),
        ("huge number", b'{"texts": ["a"], "n": 1' + b"0" * 5000 + b"}", "application/json"),
        ("NaN literal", b'{"texts": [NaN]}', "application/json"),
        ("not JSON", b"texts=a", "application/json"),
        ("invalid UTF-8", b'{"texts": ["\xff\xfe"]}', "application/json"),
        ("form content type", b'{"texts": ["a"]}', "application/x-www-form-urlencoded"),
        ("text/plain", b'{"texts": ["a"]}', "text/plain"),
        ("texts not a list", b'{"texts": "a"}', "application/json"),
        ("null byte text", b'{"texts": ["a\\u0000b"]}', "application/json"),
        ("empty body", b"", "application/json"),
    ]


async def hostile(base: str) -> list[dict[str, Any]]:
    rows = []
    async with aiohttp.ClientSession(base_url=base) as session:
        for name, body, content_type in hostile_bodies():
            started = time.perf_counter()
            try:
                async with session.post(
                    "/predict",
                    data=body,
                    headers={"Content-Type": content_type},
                    timeout=aiohttp.ClientTimeout(total=60),
                ) as response:
                    await response.read()
                    outcome = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                outcome = type(error).__name__
            rows.append(
                {"body": name, "status": outcome, "ms": 1000 * (time.perf_counter() - started)}
            )
    return rows


async def soak(base: str, args: Any, texts: list[str], pid: int) -> dict[str, Any]:
    rss_start = rss_mb(pid)
    results: list[tuple[float, str]] = []
    connector = aiohttp.TCPConnector(limit=args.soak_concurrency)
    deadline = time.perf_counter() + args.soak_seconds
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def client(index: int) -> None:
            position = index
            while time.perf_counter() < deadline:
                text = texts[position % len(texts)]
                position += args.soak_concurrency
                results.append(await timed_post(session, "/predict", [text], 30.0))

        async def sample_rss() -> None:  # every 10 s: does it level off or keep growing?
            while time.perf_counter() < deadline:
                await asyncio.sleep(10)
                rss_series.append(round(rss_mb(pid)))

        rss_series: list[int] = []
        started = time.perf_counter()
        sampler = asyncio.create_task(sample_rss())
        await asyncio.gather(*(client(i) for i in range(args.soak_concurrency)))
        seconds = time.perf_counter() - started
        sampler.cancel()
    summary = summarise(results)
    outcomes = summary["outcomes"]
    return {
        **summary,
        "seconds": seconds,
        "requests_per_s": len(results) / seconds,
        "ok": outcomes.get("200", 0),
        "5xx": sum(n for o, n in outcomes.items() if o.startswith("5") and o != "503"),
        "rejected_503": outcomes.get("503", 0),
        "failed": sum(n for o, n in outcomes.items() if not o.isdigit()),
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_mb(pid),
        "rss_every_10s_mb": rss_series,
    }


def log_figures(log_path: Path) -> dict[str, int]:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return {
        "log_bytes": len(text.encode()),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "lines": text.count("\n"),
    }


def run(args: Any, base: str, host: str, port: int, pid: int, texts: list[str], log_path: Path):
    """Every phase in turn; prints a table per phase and returns the figures."""
    probe_text = texts[0]
    figures: dict[str, Any] = {}
    phases = [p.strip() for p in args.abuse.split(",")]
    if "flood" in phases:
        figures["flood"] = asyncio.run(flood(base, args, probe_text))
        print_section("flood", figures["flood"])
    if "abandoned" in phases:
        figures["abandoned"] = asyncio.run(abandoned(base, args, probe_text))
        print_section("abandoned", figures["abandoned"])
    if "slow" in phases:
        figures["slow"] = asyncio.run(slow_clients(base, args, host, port, probe_text))
        print_section("slow", figures["slow"])
    if "hostile" in phases:
        figures["hostile"] = asyncio.run(hostile(base))
        print("hostile JSON:")
        for row in figures["hostile"]:
            print(f"  {row['body']:<18} {row['status']:>6} {row['ms']:>9.1f} ms")
    if "soak" in phases:
        figures["soak"] = asyncio.run(soak(base, args, texts, pid))
        print_section("soak", figures["soak"])
    figures["log"] = log_figures(log_path)
    print_section("server log", figures["log"])
    return figures


def print_section(name: str, figures: dict[str, Any]) -> None:
    print(f"{name}:")
    for key, value in figures.items():
        if isinstance(value, dict) and "n" in value:
            print(
                f"  {key:<12} n={value['n']:<5} p50 {value['p50_ms']:>9.1f} ms  "
                f"p99 {value['p99_ms']:>9.1f} ms  max {value['max_ms']:>9.1f} ms  "
                f"{value['outcomes']}"
            )
        elif isinstance(value, float):
            print(f"  {key:<12} {value:.1f}")
        else:
            print(f"  {key:<12} {value}")
    print(flush=True)
