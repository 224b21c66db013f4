"""Baselines a tagger is measured against (`textseq benchmark --baselines`): each word's most
frequent training tag, and the config's own BiLSTM with a per-token softmax instead of the CRF
(a variant, trained like the model).

A baseline takes the config and `{split: data spec}` and returns `{split: metrics}` with the
metric names of `textseq evaluate` (accuracy; precision, recall, f1 for entity tags), plus
"val" for the validation sentences."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.datasets import TAGGED_DATASETS, load_tagged
from textseq.tasks.tag.metrics import entity_scores, token_accuracy
from textseq.tasks.tag.recipe import read_tagged_splits

Scores = dict[str, dict[str, float]]


def most_frequent_tag(cfg: TagConfig, evaluations: Mapping[str, str]) -> Scores:
    """Each word gets the tag it had most often in training (ties: the tag seen first); words
    never seen get the most frequent tag overall (`O` for entities)."""
    train, val = read_tagged_splits(cfg)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    overall: Counter[str] = Counter()
    for sentence in train:
        for token, tag in zip(sentence.tokens, sentence.tags or [], strict=True):
            counts[token][tag] += 1
            overall[tag] += 1
    default = overall.most_common(1)[0][0]
    best = {token: tags.most_common(1)[0][0] for token, tags in counts.items()}
    columns = dict(
        tag_set=cfg.data.tags, token_column=cfg.data.token_column, tag_column=cfg.data.tag_column
    )
    splits = {"val": val} | {
        split: load_tagged(spec, **columns) for split, spec in evaluations.items()
    }
    scores: Scores = {}
    for split, sentences in splits.items():
        gold = [list(s.tags or []) for s in sentences]
        predicted = [[best.get(token, default) for token in s.tokens] for s in sentences]
        scores[split] = {"n": len(sentences), "accuracy": round(token_accuracy(gold, predicted), 6)}
        if cfg.data.tags == "ner":
            entity = entity_scores(gold, predicted)
            scores[split].update({k: entity[k] for k in ("precision", "recall", "f1")})
    return scores


# Name -> baseline, in the order they are run and reported.
BASELINES = {"most-frequent-tag": most_frequent_tag}

# The model's validation metrics (logged in training as val_<name>) by their names in
# `textseq evaluate`'s results, so that its "val" figures line up with the baselines'.
VALIDATION_NAMES = {"acc": "accuracy"}


def variants(cfg: TagConfig) -> dict[str, list[str]]:
    """Baselines that are the config with overrides, trained and scored like the model: a CRF
    tagger's CRF-free twin (a softmax over each token's tags)."""
    return {"bilstm-softmax": ["model.output=softmax"]} if cfg.model.output == "crf" else {}


def named_splits(name: str) -> tuple[str, ...] | None:
    """The splits of the named dataset `name`, None when it is not one (the benchmark scores
    on its test and dev splits)."""
    return TAGGED_DATASETS[name].splits if name in TAGGED_DATASETS else None
