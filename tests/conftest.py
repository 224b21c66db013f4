"""Fixtures shared by the whole test suite.

Data locations:

- `datasets_dir`: the real offline datasets folder (`$TEXTSEQ_DATASETS`, else `shared/datasets`
  next to the repository); tests that use it are skipped when it is missing, and fail instead
  when `$TEXTSEQ_REQUIRE_DATA=1` (as in CI).
- `data_env`: `$TEXTSEQ_DATASETS` and `$TEXTSEQ_CACHE` pointed at fresh, empty directories under
  `tmp_path`, so a test lays out its own mirror and nothing is read from or written to the
  user's cache.
- `real_data_env`: the real datasets folder as the mirror, with a private cache under `tmp_path`.

Hypothesis keeps its example database and caches in a temporary directory removed at the end of
the run, not in `.hypothesis/` in the working directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS_ENV = "TEXTSEQ_DATASETS"
CACHE_ENV = "TEXTSEQ_CACHE"
# CI sets this so that a missing datasets folder fails the run instead of skipping its tests.
REQUIRE_DATA_ENV = "TEXTSEQ_REQUIRE_DATA"


def find_datasets_dir() -> Path | None:
    """The real datasets folder: `$TEXTSEQ_DATASETS` if it is a directory, else the
    `shared/datasets` folder beside the repository root, else None."""
    candidates = []
    if os.environ.get(DATASETS_ENV):
        candidates.append(Path(os.environ[DATASETS_ENV]))
    candidates.append(REPO_ROOT.parent / "shared" / "datasets")
    return next((path for path in candidates if path.is_dir()), None)


_HYPOTHESIS_HOME: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: Hypothesis's plugin caches source constants while collecting.
    global _HYPOTHESIS_HOME
    _HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="textseq-tests-hypothesis-"))
    set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The tier is the folder: tests/e2e/ are marked e2e and tests/slow/ slow (so that the
    # default `-m 'not slow'` deselects them) without each file saying so.
    for item in items:
        tier = item.path.relative_to(REPO_ROOT / "tests").parts[0]
        if tier in ("e2e", "slow"):
            item.add_marker(getattr(pytest.mark, tier))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HYPOTHESIS_HOME is not None:
        shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real datasets folder; skips the test when it is not available."""
    path = find_datasets_dir()
    if path is None:
        reason = (
            f"real datasets not found: set ${DATASETS_ENV} or provide "
            f"{REPO_ROOT.parent / 'shared' / 'datasets'}"
        )
        if os.environ.get(REQUIRE_DATA_ENV) == "1":
            pytest.fail(f"{reason} (${REQUIRE_DATA_ENV}=1 forbids skipping)")
        pytest.skip(reason)
    return path


@dataclass(frozen=True)
class DataEnv:
    """The directories `$TEXTSEQ_DATASETS` (mirror) and `$TEXTSEQ_CACHE` (cache) point at."""

    mirror: Path
    cache: Path


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataEnv:
    """An empty mirror and an empty cache under `tmp_path`, set in the environment."""
    env = DataEnv(mirror=tmp_path / "mirror", cache=tmp_path / "cache")
    env.mirror.mkdir()
    env.cache.mkdir()
    monkeypatch.setenv(DATASETS_ENV, str(env.mirror))
    monkeypatch.setenv(CACHE_ENV, str(env.cache))
    return env


@pytest.fixture
def real_data_env(datasets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataEnv:
    """The real datasets folder as the mirror and an empty cache under `tmp_path`."""
    env = DataEnv(mirror=datasets_dir, cache=tmp_path / "cache")
    env.cache.mkdir()
    monkeypatch.setenv(DATASETS_ENV, str(env.mirror))
    monkeypatch.setenv(CACHE_ENV, str(env.cache))
    return env
