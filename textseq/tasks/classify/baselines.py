"""Baselines a classifier is measured against (`textseq benchmark --baselines`): TF-IDF +
logistic regression and fastText, trained on the config's own training examples (the same
held-out validation, limits and seed) and scored on the same evaluation splits as the model.

Each baseline takes the config and `{split: data spec}` and returns `{split: metrics}` with
the metric names of `textseq evaluate` (accuracy, macro_f1), plus "val" for the validation
examples training held out or read."""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

from textseq.data.readers import TextExample
from textseq.tasks.classify.config import Config
from textseq.tasks.classify.data import load_examples
from textseq.tasks.classify.datasets import DATASETS
from textseq.tasks.classify.recipe import read_splits

Scores = dict[str, dict[str, float]]


def tfidf_logistic_regression(cfg: Config, evaluations: Mapping[str, str]) -> Scores:
    """Word uni- and bigram TF-IDF (sublinear, min_df 2) into L2 logistic regression (C=4):
    the baseline every text classifier should beat."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    train, val = read_splits(cfg)
    model.fit([e.text for e in train], [e.label for e in train])
    return _score(lambda texts: list(model.predict(texts)), cfg, val, evaluations)


def fasttext_classifier(cfg: Config, evaluations: Mapping[str, str]) -> Scores:
    """fastText (Joulin et al. 2017): averaged word and bigram embeddings into a linear
    classifier, with its authors' sentiment settings (bigrams, 10 epochs, dim 50), seeded by
    the config's seed. Needs the `fasttext-wheel` package (bench extra)."""
    import fasttext

    def clean(text: str) -> str:
        return " ".join(text.lower().split())

    train, val = read_splits(cfg)
    # Shuffled: fastText's single-threaded SGD reads the file in order, and a file sorted by
    # label (IMDB's is) leaves a model that predicts the last label it read for everything.
    shuffled = random.Random(cfg.seed).sample(train, len(train))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_text("".join(f"__label__{e.label} {clean(e.text)}\n" for e in shuffled))
        model = fasttext.train_supervised(
            str(path), epoch=10, lr=0.5, wordNgrams=2, dim=50, verbose=0, thread=1, seed=cfg.seed
        )

    majority = Counter(e.label for e in train).most_common(1)[0][0]

    def predict(texts: list[str]) -> list[str]:
        # The C++ predictor directly: fasttext's Python wrapper builds its probability arrays
        # with np.array(copy=False), which NumPy 2 refuses. A text of no words gets no label:
        # it gets the most frequent one.
        labels, _ = model.f.multilinePredict([clean(t) for t in texts], 1, 0.0, "strict")
        return [label[0].removeprefix("__label__") if label else majority for label in labels]

    return _score(predict, cfg, val, evaluations)


def _score(
    predict: Callable[[list[str]], list[str]],
    cfg: Config,
    val: list[TextExample],
    evaluations: Mapping[str, str],
) -> Scores:
    from sklearn.metrics import accuracy_score, f1_score

    columns = dict(text_column=cfg.data.text_column, label_column=cfg.data.label_column)
    splits = {"val": val} | {
        split: load_examples(spec, **columns) for split, spec in evaluations.items()
    }
    scores: Scores = {}
    for split, examples in splits.items():
        truth = [e.label for e in examples]
        predicted = predict([e.text for e in examples])
        scores[split] = {
            "n": len(examples),
            "accuracy": round(float(accuracy_score(truth, predicted)), 6),
            "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 6),
        }
    return scores


# Name -> baseline, in the order they are run and reported.
BASELINES = {"tfidf+lr": tfidf_logistic_regression, "fasttext": fasttext_classifier}

# The model's validation metrics (logged in training as val_<name>) by their names in
# `textseq evaluate`'s results, so that its "val" figures line up with the baselines'.
VALIDATION_NAMES = {"acc": "accuracy", "f1": "macro_f1"}


def variants(cfg: Config) -> dict[str, list[str]]:
    """Baselines that are the config itself with overrides, trained like the model: none."""
    return {}


def named_splits(name: str) -> tuple[str, ...] | None:
    """The splits of the named dataset `name`, None when it is not one (the benchmark scores
    on its test and dev splits)."""
    return DATASETS[name].splits if name in DATASETS else None
