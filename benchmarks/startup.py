"""How long the `textseq` command takes to start, and which heavy libraries each verb imports.

    python benchmarks/startup.py MODEL_DIR [--data sst2:dev] [--runs 5] [--source REPO ...]

MODEL_DIR: a (tiny) classifier's model directory. Runs, in fresh processes, `--runs` times each:

    python -c pass                        the baseline: an interpreter that imports nothing
    python -c 'import torch'              the baseline: what importing PyTorch alone costs
    textseq --help
    textseq predict --bogus               an argument error (exit 2)
    textseq predict MODEL_DIR "a fine film"
    textseq evaluate MODEL_DIR --data SPEC

and prints a Markdown table: median and fastest wall seconds over the runs, and which of
torch, lightning, transformers, matplotlib and pydantic the command imported (read from
`python -X importtime` of one more run). `--source REPO` puts REPO first on PYTHONPATH, so that
a checkout's `textseq` is measured; given several times (a before and an after), the sources'
runs alternate, so that a change in the machine's load falls on all of them alike. The load
average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "lightning", "transformers", "matplotlib", "pydantic")


def _environment(source: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _heavy_imports(command: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages `command` (a `python ...` command) imports."""
    traced = [command[0], "-X", "importtime", *command[1:]]
    result = subprocess.run(traced, env=env, capture_output=True, text=True)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [name for name in HEAVY if name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a classifier's model directory")
    parser.add_argument("--data", default="sst2:dev", help="evaluate's --data (sst2:dev)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (5)")
    parser.add_argument(
        "--source", action="append", help="a checkout whose textseq to measure (repeatable)"
    )
    args = parser.parse_args()
    sources = args.source or [""]
    envs = {source: _environment(source) for source in sources}
    python = sys.executable
    textseq = [python, "-m", "textseq"]
    commands = {
        "python -c pass (baseline)": [python, "-c", "pass"],
        "python -c 'import torch' (baseline)": [python, "-c", "import torch"],
        "textseq --help": [*textseq, "--help"],
        "textseq predict --bogus (exit 2)": [*textseq, "predict", "--bogus"],
        "textseq predict DIR TEXT": [*textseq, "predict", args.model, "a fine film"],
        f"textseq evaluate DIR --data {args.data}": [
            *textseq,
            "evaluate",
            args.model,
            "--data",
            args.data,
        ],
    }
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or platform.machine(),
    )
    print(f"# textseq start-up, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"CPU: {cpu}, {os.cpu_count()} cores; load average before: "
        f"{os.getloadavg()[0]:.2f}; runs: {args.runs}, alternating between the sources"
    )
    print()
    print("| command | source | median s | fastest s | heavy imports |")
    print("|---|---|---:|---:|---|")
    for name, command in commands.items():
        seconds: dict[str, list[float]] = {source: [] for source in sources}
        for _ in range(args.runs):
            for source in sources:
                seconds[source].append(_time(command, envs[source]))
        for source in sources:
            heavy = ", ".join(_heavy_imports(command, envs[source])) or "none"
            median, fastest = statistics.median(seconds[source]), min(seconds[source])
            print(
                f"| {name} | {source or 'installed'} | {median:.2f} | {fastest:.2f} | {heavy} |",
                flush=True,
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
