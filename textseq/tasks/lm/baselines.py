"""The baseline a language model is measured against (`textseq benchmark --baselines`): a
unigram model over the model's own vocabulary and tokens.

A baseline takes the config and `{split: data spec}` and returns `{split: metrics}` with the
metric names of `textseq evaluate` (loss, perplexity or bits_per_character, tokens), plus
"val" for the validation text."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from textseq.tasks.lm.build import is_character_level
from textseq.tasks.lm.config import LMConfig
from textseq.tasks.lm.data import corpus_ids, read_corpus_lines
from textseq.tasks.lm.datasets import CORPORA
from textseq.tasks.lm.metrics import summarize_nll
from textseq.tasks.lm.recipe import fit_lm_pipeline, read_splits

Scores = dict[str, dict[str, float]]


def unigram(cfg: LMConfig, evaluations: Mapping[str, str]) -> Scores:
    """p(token) = (count + 1) / (N + V), counted over the training tokens with the model's
    tokenizer and vocabulary (add-one smoothing, so `<unk>` and unseen ids keep a share);
    context is ignored, which is what every language model must beat."""
    train, val = read_splits(cfg)
    pipeline = fit_lm_pipeline(cfg, train)
    size = len(pipeline.vocab)
    counts = torch.bincount(corpus_ids(pipeline, train), minlength=size).double()
    log_p = torch.log((counts + 1) / (counts.sum() + size))
    splits = {"val": val} | {split: read_corpus_lines(spec) for split, spec in evaluations.items()}
    scores: Scores = {}
    for split, lines in splits.items():
        ids = corpus_ids(pipeline, lines)
        total = -float(log_p[ids].sum())
        scores[split] = summarize_nll(total, ids.numel(), character_level=is_character_level(cfg))
    return scores


# Name -> baseline, in the order they are run and reported.
BASELINES = {"unigram": unigram}

# The model's validation metrics (logged in training as val_<name>) by their names in
# `textseq evaluate`'s results, so that its "val" figures line up with the baselines'.
VALIDATION_NAMES = {"ppl": "perplexity", "bpc": "bits_per_character"}


def variants(cfg: LMConfig) -> dict[str, list[str]]:
    """Baselines that are the config with overrides, trained like the model: none."""
    return {}


def named_splits(name: str) -> tuple[str, ...] | None:
    """The splits of the named dataset `name`, None when it is not one (the benchmark scores
    on its test and dev splits)."""
    return CORPORA[name].splits if name in CORPORA else None
