"""`textseq distill` on a small slice of real SST-2: a tiny teacher taught to a tiny student,
the teacher's logits cached and reused, the student an ordinary classifier directory."""

import json
from pathlib import Path

import pytest

import textseq
import textseq.distillation as distillation
from textseq.cli import main
from textseq.tasks import load_config
from textseq.tasks.classify.data import load_examples

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sst2_gru_mean.yaml"
SMALL = [  # a small GRU over learned embeddings: seconds to train
    "model.embedding.vectors=null",
    "model.embedding.dim=24",
    "model.encoder.hidden_size=16",
    "trainer.progress_bar=false",
    "trainer.threads=1",
    "data.limit_val=300",
]


def _options(*sets: str) -> list[str]:
    return [item for key in sets for item in ("--set", key)]


@pytest.fixture(scope="module")
def env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("cache")
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(cache))
    yield cache
    patch.undo()


@pytest.fixture(scope="module")
def teacher(env, tmp_path_factory):
    """A small classifier trained on 2,000 SST-2 phrases: the teacher."""
    out = tmp_path_factory.mktemp("runs") / "teacher"
    sets = (*SMALL, "data.limit_train=2000", "trainer.max_epochs=3")
    assert main(["-q", "train", str(CONFIG), "--out", str(out), *_options(*sets)]) == 0
    return out


@pytest.fixture(scope="module")
def student(teacher, tmp_path_factory):
    """A smaller student distilled from it on the same phrases and 2 augmented copies each,
    on the teacher's logits alone (distill.alpha 0)."""
    out = tmp_path_factory.mktemp("runs") / "student"
    sets = (
        *SMALL,
        "model.encoder.hidden_size=8",
        "data.limit_train=2000",
        "trainer.max_epochs=3",
        "distill.augment.copies=2",
    )
    arguments = ["-q", "distill", str(teacher), str(CONFIG), "--out", str(out)]
    assert main([*arguments, *_options(*sets)]) == 0
    return out


def test_the_student_learns_the_teachers_function(teacher, student):
    dev = load_examples("sst2:dev")[:300]
    texts = [e.text for e in dev]
    taught, model = textseq.load(teacher), textseq.load(student)
    agreement = (taught.logits(texts).argmax(-1) == model.logits(texts).argmax(-1)).float().mean()
    accuracy = model.evaluate(dev)["accuracy"]
    assert agreement > 0.8, float(agreement)  # an untrained student agrees about half the time
    assert accuracy > 0.58, accuracy  # chance: 0.5; the teacher: about 0.64
    config = (student / "config.yaml").read_text()
    assert f"teacher: {teacher}" in config
    metrics = json.loads((student / "metrics.json").read_text())
    assert metrics["data"]["train_examples"] > 2000  # the augmented copies are in


def test_the_student_is_an_ordinary_classifier_directory(student, capsys):
    assert main(["predict", str(student), "a gripping film", "--quantize", "int8"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(result["probs"]) == {"negative", "positive"}


def test_the_teachers_logits_are_cached_by_teacher_and_data(teacher, student, env, monkeypatch):
    files = sorted((env / "distill").iterdir())
    assert len(files) == 1
    cfg = load_config(
        CONFIG,
        [
            f"distill.teacher={teacher}",
            *SMALL,
            "model.encoder.hidden_size=8",
            "data.limit_train=2000",
            "distill.augment.copies=2",
        ],
    )

    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(distillation, "teacher_logits", no_teacher)
    assert distillation.teacher_targets(teacher, cfg) == files[0]  # reused
    other = cfg.model_copy(update={"data": cfg.data.model_copy(update={"limit_train": 1500})})
    with pytest.raises(AssertionError, match="ran again"):  # other data: another key
        distillation.teacher_targets(teacher, other)
