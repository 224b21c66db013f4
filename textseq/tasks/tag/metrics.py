"""Tagging metrics: entity-level precision, recall and F1 (seqeval) and token accuracy."""

from __future__ import annotations


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity-level precision, recall and F1 (CoNLL's exact span match, seqeval's default
    mode) overall (micro) and per entity type, from BIO tag sequences."""
    # Imported when scoring: seqeval brings scikit-learn, a second of start-up that every CLI
    # command (even --help) would otherwise pay.
    from seqeval.metrics import classification_report

    report = classification_report(gold, predicted, output_dict=True, zero_division=0, digits=6)
    per_type = {
        name: {
            "precision": round(float(row["precision"]), 6),
            "recall": round(float(row["recall"]), 6),
            "f1": round(float(row["f1-score"]), 6),
            "support": int(row["support"]),
        }
        for name, row in report.items()
        if not name.endswith(" avg")
    }
    micro = report["micro avg"]
    return {
        "precision": round(float(micro["precision"]), 6),
        "recall": round(float(micro["recall"]), 6),
        "f1": round(float(micro["f1-score"]), 6),
        "per_type": per_type,
    }


def token_accuracy(gold: list[list[str]], predicted: list[list[str]]) -> float:
    pairs = [
        pair for gs, ps in zip(gold, predicted, strict=True) for pair in zip(gs, ps, strict=True)
    ]
    return sum(g == p for g, p in pairs) / max(len(pairs), 1)
