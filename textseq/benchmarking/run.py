"""Trains configs once per seed, scores them and their baselines, and appends the records.

A *run* is one system (the config's model, a baseline, or a variant baseline trained like
the model) at one seed. Its record, one JSON line in `<results>/<config stem>.jsonl`, holds
what the figure is (config, its hash and overrides, system, seed, every metric by split) and
how it was made (git commit, textseq and torch versions, CPU model, torch threads, the load
average while it ran, start and end times, training seconds). A run whose system and seed are
already recorded for the same commit and config hash is skipped, so an interrupted benchmark
is resumed by running it again; a model directory already trained under the work directory is
scored, not retrained, and an unfinished one (`<dir>.partial`) is resumed from its checkpoint.

The splits scored: the named dataset's `test` (or `test2016`) split, the dev split (the
config's `data.val`, or the dataset's `dev`/`valid` when it has one) and "val", the validation
data training chose its best epoch on (for the model: the best epoch's validation metrics).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import textseq
from textseq.errors import ConfigError
from textseq.model_dir import partial_dir
from textseq.tasks import TASKS, Task, load_config, load_predictor

log = logging.getLogger("textseq")

MODEL = "textseq"  # the system name of the config's own model
# Keys that say how a run is carried out, not what it computes: not part of the config hash.
RUN_ONLY_KEYS = ("seed", "trainer.threads", "trainer.progress_bar", "trainer.log_every_n_steps")
# Evaluation results that are not figures of the run (lists, tables, per-label breakdowns).
NOT_METRICS = ("per_class", "per_type", "confusion_matrix", "labels")
TEST_SPLITS = ("test", "test2016")
DEV_SPLITS = ("dev", "valid", "val")
LOAD_SAMPLE_SECONDS = 15.0


@dataclass(frozen=True)
class Job:
    """One run to do: `system` of `config` (with `overrides`) at `seed`; `extra` are a
    variant's own overrides, `baseline` the name of a baseline function (else it trains)."""

    config: str
    stem: str
    config_hash: str
    overrides: tuple[str, ...]
    seed: int
    system: str
    work_dir: str
    extra: tuple[str, ...] = ()
    baseline: str | None = None
    run_keys: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.run_keys["commit"], self.config_hash, self.system, self.seed)


def benchmark(
    configs: Sequence[str | Path],
    *,
    seeds: int = 3,
    overrides: Sequence[str] = (),
    jobs: int = 1,
    baselines: bool = False,
    results_dir: str | Path = "benchmarks/results",
    work_dir: str | Path = "runs/benchmark",
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Runs every config at `seeds` seeds (the config's seed, then the next ones), with its
    baselines when `baselines`, `jobs` runs at a time (separate processes when above 1), and
    returns the records written. Runs already recorded are skipped (see the module's doc)."""
    if seeds < 1:
        raise ConfigError(f"--seeds ({seeds}) must be at least 1")
    if jobs < 1:
        raise ConfigError(f"--jobs ({jobs}) must be at least 1")
    results = Path(results_dir)
    commit = git_commit()
    todo: list[Job] = []
    for path in configs:
        todo.extend(_jobs_of(Path(path), list(overrides), seeds, baselines, str(work_dir), commit))
    stems = {job.stem for job in todo}
    done = {key for stem in stems for key in _recorded_keys(results / f"{stem}.jsonl")}
    pending = [job for job in todo if job.key not in done]
    for job in todo:
        if job.key in done:
            log.info("%s %s seed %s: already recorded, skipped", job.stem, job.system, job.seed)
    written: list[dict[str, Any]] = []

    def keep(record: dict[str, Any]) -> None:
        append_record(results / f"{record['config_stem']}.jsonl", record)
        written.append(record)
        if on_record is not None:
            on_record(record)

    if jobs == 1 or len(pending) <= 1:
        for job in pending:
            keep(run_job(job))
    else:  # fresh processes: each run sets its own torch threads and seeds
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for record in pool.map(run_job, pending):
                keep(record)
    return written


def _jobs_of(
    path: Path,
    overrides: list[str],
    seeds: int,
    baselines: bool,
    work_dir: str,
    commit: dict[str, Any],
) -> list[Job]:
    cfg = load_config(path, overrides)
    task = TASKS[cfg.task]
    module = _baselines_module(task)
    systems: list[tuple[str, tuple[str, ...], str | None]] = [(MODEL, (), None)]
    if baselines:
        systems += [(name, tuple(extra), None) for name, extra in module.variants(cfg).items()]
        systems += [(name, (), name) for name in module.BASELINES]
    common = dict(
        config=str(path),
        stem=path.stem,
        config_hash=config_hash(cfg),
        overrides=tuple(overrides),
        work_dir=work_dir,
        run_keys=commit,
    )
    return [
        Job(seed=cfg.seed + i, system=system, extra=extra, baseline=baseline, **common)
        for i in range(seeds)
        for system, extra, baseline in systems
    ]


def run_job(job: Job) -> dict[str, Any]:
    """Does one run and returns its record (not yet written)."""
    log.info("benchmark: %s %s seed %s", job.stem, job.system, job.seed)
    overrides = [*job.overrides, *job.extra, f"seed={job.seed}"]
    cfg = load_config(job.config, overrides)
    task = TASKS[cfg.task]
    evaluations = evaluation_specs(task, cfg)
    started = datetime.now(UTC)
    if cfg.trainer.threads is not None:  # for scoring and baselines too
        _set_threads(cfg.trainer.threads)
    with LoadSampler() as load:
        if job.baseline is not None:
            clock = time.perf_counter()
            scores = _baselines_module(task).BASELINES[job.baseline](cfg, evaluations)
            metrics = {split: _figures(values) for split, values in scores.items()}
            train_seconds = round(time.perf_counter() - clock, 1)
            training: dict[str, Any] = {}
        else:
            directory = _trained(job, overrides)
            history = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
            names = _baselines_module(task).VALIDATION_NAMES
            best = {k.removeprefix("val_"): v for k, v in (history["best"] or {}).items()}
            metrics = {"val": {names.get(k, k): v for k, v in best.items()}}
            predictor = load_predictor(directory)
            for split, spec in evaluations.items():
                log.info("benchmark: scoring %s on %s", job.stem, spec)
                result = task.run("evaluate", predictor, options={"data": spec})
                metrics[split] = _figures(result)
            train_seconds = history.get("train_seconds")
            training = dict(
                epochs=len(history.get("epochs", [])),
                best_epoch=history.get("best_epoch"),
                model_dir=str(directory),
            )
    return {
        "config": job.config,
        "config_stem": job.stem,
        "config_hash": job.config_hash,
        "overrides": list(job.overrides),
        "system": job.system,
        "variant_overrides": list(job.extra),
        "seed": job.seed,
        "data": {"train": cfg.data.train, **evaluations},
        "metrics": metrics,
        "train_seconds": train_seconds,
        **training,
        **job.run_keys,
        **versions(),
        **machine(),
        "load_average": load.summary(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _trained(job: Job, overrides: list[str]) -> Path:
    """The model directory of a training run: reused when already finished, resumed from its
    checkpoint when unfinished, else trained."""
    out = Path(job.work_dir) / job.stem / f"{job.config_hash}-{job.system}-seed{job.seed}"
    if (out / "metrics.json").is_file():
        log.info("benchmark: %s is trained already: scoring it", out)
        return out
    work = partial_dir(out)
    if (work / "checkpoints" / "last.ckpt").is_file():
        log.info("benchmark: resuming the unfinished run %s", work)
        return textseq.train(resume=work, out=out)
    return textseq.train(job.config, out=out, overrides=overrides, overwrite=True)


def evaluation_specs(task: Task, cfg: Any) -> dict[str, str]:
    """{"test": spec, "dev": spec} for the splits the config's data has (see the module's
    doc); a config trained on a file has neither unless `data.val` names one."""
    name, _, _ = str(cfg.data.train).partition(":")
    splits = _baselines_module(task).named_splits(name) or ()
    specs: dict[str, str] = {}
    if test := next((s for s in TEST_SPLITS if s in splits), None):
        specs["test"] = f"{name}:{test}"
    val = getattr(cfg.data, "val", None)
    if val is not None:
        specs["dev"] = str(val)
    elif dev := next((s for s in DEV_SPLITS if s in splits), None):
        specs["dev"] = f"{name}:{dev}"
    return specs


def config_hash(cfg: Any) -> str:
    """12 hex digits of the SHA-256 of the resolved config without `RUN_ONLY_KEYS`: equal
    for runs that compute the same thing at any seed and thread count."""
    data = cfg.model_dump(mode="json")
    for key in RUN_ONLY_KEYS:
        *parents, last = key.split(".")
        section = data
        for parent in parents:
            section = section.get(parent, {})
        section.pop(last, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _figures(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of an evaluation result, nested dicts flattened as `outer.inner`."""
    figures: dict[str, float] = {}
    for key, value in result.items():
        if key in NOT_METRICS:
            continue
        if isinstance(value, dict):
            figures.update(_figures(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            figures[f"{prefix}{key}"] = value
    return figures


def _baselines_module(task: Task) -> Any:
    """The task's `baselines` module (its folder's baselines.py)."""
    return importlib.import_module(f"{task.commands_module.__package__}.baselines")


def _recorded_keys(path: Path) -> Iterator[tuple[str, str, str, int]]:
    for record in read_records(path):
        yield (record.get("commit"), record["config_hash"], record["system"], record["seed"])


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of one results file; a missing file has none."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Appends `record` as one line, flushed to disk: a crash leaves whole lines only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def git_commit() -> dict[str, Any]:
    """{"commit", "dirty"} of the git checkout textseq is imported from (None outside one);
    dirty: tracked files differ from the commit."""
    folder = Path(textseq.__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if commit is None else bool(status)}


def _set_threads(threads: int) -> None:
    import torch  # here, not at the top: `textseq --help` does not load torch

    torch.set_num_threads(threads)


def versions() -> dict[str, str]:
    import torch

    return {"textseq_version": textseq.__version__, "torch_version": torch.__version__}


def machine() -> dict[str, Any]:
    """CPU model, its logical CPUs and the torch threads the run used."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads()}


class LoadSampler:
    """The 1-minute load average sampled every `LOAD_SAMPLE_SECONDS` while a run goes on
    (other jobs sharing the CPU show there), summarised as first, mean and max."""

    def __init__(self, every: float = LOAD_SAMPLE_SECONDS):
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float | int]:
        samples = self.samples or [os.getloadavg()[0]]
        return {
            "first": round(samples[0], 2),
            "mean": round(sum(samples) / len(samples), 2),
            "max": round(max(samples), 2),
            "samples": len(samples),
        }


__all__ = ["Job", "benchmark", "config_hash", "evaluation_specs", "read_records", "run_job"]
