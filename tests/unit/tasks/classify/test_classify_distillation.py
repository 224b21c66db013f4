"""The distillation loss, the student's view of masked texts and the targets file."""

import pytest
import torch
import torch.nn.functional as F

from textseq.errors import DataError
from textseq.tasks.classify.distillation import (
    MASK,
    NO_LABEL,
    DistillationLoss,
    TeacherTargets,
    distillation_set,
    student_tokens,
)
from textseq.text.pipeline import TextPipeline, build_cleaner
from textseq.text.tokenizers import BasicEnglishTokenizer
from textseq.text.vocab import PAD, UNK, Vocabulary

TEACHER = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]])  # (N, C)


def test_mse_is_the_mean_squared_difference_of_logits():
    loss = DistillationLoss(teacher_logits=TEACHER, loss="mse", alpha=0.0)
    student = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    index = torch.tensor([2, 0])
    expected = ((student - TEACHER[[2, 0]]) ** 2).mean()
    assert torch.isclose(loss(student, torch.tensor([0, 1]), index), expected)


def test_kl_at_temperature_is_zero_on_the_teachers_logits_and_scaled_by_t_squared():
    loss = DistillationLoss(teacher_logits=TEACHER, loss="kl", temperature=2.0)
    index = torch.tensor([0, 1, 2])
    labels = torch.full((3,), NO_LABEL)
    assert loss(TEACHER.clone(), labels, index).abs() < 1e-6
    student = torch.zeros(3, 2)
    p_t = F.softmax(TEACHER / 2, dim=-1)
    kl = (p_t * (p_t.log() - F.log_softmax(student / 2, dim=-1))).sum(-1).mean()
    assert torch.isclose(loss(student, labels, index), 4 * kl)


def test_alpha_mixes_gold_cross_entropy_over_labelled_texts_only():
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.3, 0.1]])
    index = torch.tensor([0, 1, 2])
    labels = torch.tensor([0, NO_LABEL, 1])
    mixed = DistillationLoss(teacher_logits=TEACHER, loss="mse", alpha=0.25)
    ce = F.cross_entropy(student[[0, 2]], labels[[0, 2]])
    mse = F.mse_loss(student, TEACHER)
    assert torch.isclose(mixed(student, labels, index), 0.25 * ce + 0.75 * mse)
    only_augmented = torch.full((3,), NO_LABEL)  # no gold label in the batch: distillation only
    assert torch.isclose(mixed(student, only_augmented, index), 0.75 * mse)


def _pipeline() -> TextPipeline:
    vocab = Vocabulary(["a", "fine", "film", "[", "mask", "]"], specials=(PAD, UNK))
    cleaner = build_cleaner(lowercase=True, strip_html=False, remove_urls=False)
    return TextPipeline(cleaner, BasicEnglishTokenizer(), vocab)


def test_the_student_reads_mask_as_unk():
    pipeline = _pipeline()
    assert student_tokens(pipeline, f"a {MASK} film {MASK}") == ["a", UNK, "film", UNK]
    assert student_tokens(pipeline, MASK) == [UNK]


def test_targets_round_trip_and_map_the_teachers_label_order(tmp_path):
    targets = TeacherTargets(
        texts=["a fine film", f"a {MASK}"],
        gold=["positive", None],
        logits=torch.tensor([[-1.0, 1.0], [0.25, -0.5]]),  # teacher order: negative, positive
        labels=["negative", "positive"],
        teacher={"directory": "t"},
    )
    targets.save(tmp_path / "t.json.gz")
    loaded = TeacherTargets.load(tmp_path / "t.json.gz")
    assert loaded.texts == targets.texts and torch.equal(loaded.logits, targets.logits)
    student_labels = Vocabulary(["positive", "negative"], specials=())
    ids, labels, logits = distillation_set(
        loaded, pipeline=_pipeline(), labels=student_labels, train_texts=["a fine film"]
    )
    assert labels == [0, NO_LABEL]
    assert torch.equal(logits, torch.tensor([[1.0, -1.0], [-0.5, 0.25]]))
    assert len(ids[1]) == 2
    with pytest.raises(DataError, match="no teacher logits for 1 training texts"):
        distillation_set(
            loaded, pipeline=_pipeline(), labels=student_labels, train_texts=["an unseen one"]
        )
