"""Tagging metrics: entity-level scores on a hand-counted example (exact span and type match,
as conlleval), token accuracy."""

import pytest

from textseq.tasks.tag.metrics import entity_scores, token_accuracy


def test_entity_scores_known_answer():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "B-PER"]]
    # Gold entities: PER(0-2), LOC(3), ORG(0), PER(2) -> 4. Predicted: PER(0-2) right,
    # ORG(3) wrong type, ORG(0-2) wrong span, PER(2) right -> 2 of 4 correct.
    scores = entity_scores(gold, predicted)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert scores["per_type"]["ORG"]["precision"] == 0.0
    assert token_accuracy(gold, predicted) == pytest.approx(5 / 7)
