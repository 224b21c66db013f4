"""`textseq distill` on a small slice of real SST-2: a tiny teacher taught to a tiny student,
the teacher's logits cached and reused, the student an ordinary classifier directory."""

import json
from pathlib import Path

import pytest
import torch

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
    store = distillation.LogitStore(next((env / "distill").glob("teacher-*.json.gz")))
    (targets,) = [p for p in (env / "distill").iterdir() if not p.name.startswith("teacher-")]
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
    asked: list[list[str]] = []

    def teacher_logits(model, texts, *, batch_size, store):
        asked.append(texts)
        store.add(texts, torch.zeros(len(texts), 2))
        return torch.zeros(len(texts), 2)

    monkeypatch.setattr(distillation, "teacher_logits", teacher_logits)
    assert distillation.teacher_targets(teacher, cfg) == targets  # the same teacher and data
    assert asked == []
    other = cfg.model_copy(update={"data": cfg.data.model_copy(update={"limit_train": 2500})})
    assert distillation.teacher_targets(teacher, other) != targets  # other data: another file
    (new,) = asked  # the teacher ran once, on the texts it had not seen only
    assert new and not set(new) & store.logits.keys()
    assert len(store.logits) >= 2000 + 2000  # the texts and their augmented copies


def test_the_shipped_centroid_student_config_distills(teacher, tmp_path):
    """configs/sst2_distilled_centroid.yaml (no encoder: pooled word vectors) as shipped but for
    learned embeddings and a slice: taught by the same teacher, it agrees with it well above
    chance on dev."""
    config = CONFIG.parent / "sst2_distilled_centroid.yaml"
    out = tmp_path / "centroid_student"
    sets = (
        "model.embedding.vectors=null",
        "model.embedding.dim=24",
        "trainer.progress_bar=false",
        "trainer.threads=1",
        "trainer.max_epochs=4",
        "data.limit_train=2000",
        "data.limit_val=300",
        "distill.augment.copies=1",
    )
    arguments = ["-q", "distill", str(teacher), str(config), "--out", str(out)]
    assert main([*arguments, *_options(*sets)]) == 0
    assert load_config(out / "config.yaml").model.encoder.type == "none"
    texts = [e.text for e in load_examples("sst2:dev")[:300]]
    taught, model = textseq.load(teacher), textseq.load(out)
    agreement = (taught.logits(texts).argmax(-1) == model.logits(texts).argmax(-1)).float().mean()
    assert agreement > 0.7, float(agreement)  # an untrained student agrees about half the time
