"""How long the `textseq` command takes to start, and which heavy libraries each verb imports.

    python benchmarks/startup.py MODEL_DIR [--data sst2:dev] [--runs 5] [--source REPO]

MODEL_DIR: a (tiny) classifier's model directory. Runs, in fresh processes, `--runs` times each:

    python -c pass                        the baseline: an interpreter that imports nothing
    python -c 'import torch'              the baseline: what importing PyTorch alone costs
    textseq --help
    textseq predict --bogus               an argument error (exit 2)
    textseq predict MODEL_DIR "a fine film"
    textseq evaluate MODEL_DIR --data SPEC

and prints a Markdown table: median and fastest wall seconds over the runs, and whether the
command imported torch, lightning, transformers or matplotlib (read from `python -X
importtime` of one more run). `--source REPO` puts REPO first on PYTHONPATH, so that a
checkout's `textseq` is measured (the same script measures a before and an after). Run it on
a quiet machine; the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "lightning", "transformers", "matplotlib")


def _environment(source: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _time(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


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
    parser.add_argument("--source", help="a checkout whose textseq to measure (PYTHONPATH)")
    args = parser.parse_args()
    env = _environment(args.source)
    python = sys.executable
    textseq = [python, "-m", "textseq"]
    commands = {
        "python -c pass (baseline)": [python, "-c", "pass"],
        "python -c 'import torch' (baseline)": [python, "-c", "import torch"],
        "textseq --help": [*textseq, "--help"],
        "textseq predict --bogus (exit 2)": [*textseq, "predict", "--bogus"],
        "textseq predict DIR TEXT": [*textseq, "predict", args.model, "a fine film"],
        f"textseq evaluate DIR --data {args.data}": [
            *textseq, "evaluate", args.model, "--data", args.data,
        ],
    }
    print(f"# textseq start-up ({args.source or 'installed textseq'})")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}; runs: {args.runs}")
    print()
    print("| command | median s | fastest s | heavy imports |")
    print("|---|---:|---:|---|")
    for name, command in commands.items():
        seconds = _time(command, env, args.runs)
        heavy = ", ".join(_heavy_imports(command, env)) or "none"
        print(f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {heavy} |",
              flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
