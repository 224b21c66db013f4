"""Baselines a translation model is measured against (`textseq benchmark --baselines`): none
yet; the benchmark scores the model alone on the corpus's test and validation splits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textseq.tasks.translate.config import TranslateConfig
from textseq.tasks.translate.datasets import PARALLEL_CORPORA

# Name -> baseline (none for translation).
BASELINES: dict[str, Callable[..., Any]] = {}

# The model's validation metrics (logged in training as val_<name>) by their names in
# `textseq evaluate`'s results, so that its "val" figures line up with the baselines'.
VALIDATION_NAMES = {"ppl": "perplexity"}


def variants(cfg: TranslateConfig) -> dict[str, list[str]]:
    """Baselines that are the config with overrides, trained like the model: none."""
    return {}


def named_splits(name: str) -> tuple[str, ...] | None:
    """The splits of the named parallel corpus `name`, None when it is not one (the benchmark
    scores on its test and validation splits)."""
    return PARALLEL_CORPORA[name].splits if name in PARALLEL_CORPORA else None
