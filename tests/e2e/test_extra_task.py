"""Adding a task is one folder and one line in the table: this module is a whole (tiny) task —
config schema, recipe, Lightning system, predictor and commands — registered in
`textseq.tasks.TASKS` for the test only, and driven through the CLI's train, evaluate and
predict like the shipped tasks. Nothing in textseq knows it.

The task, `length`: is a text long (more than three words) or short? Its model reads one
feature, the number of words, through a linear layer over two labels."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import pytest
import torch
from pydantic import Field
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from textseq.cli import main
from textseq.config import OptimConfig, TaskConfig, TrainerConfig
from textseq.config.base import Section
from textseq.model_dir import load_weights
from textseq.tasks import TASKS
from textseq.tasks.base import Prepared, Task
from textseq.text.vocab import Vocabulary

LABELS = ("short", "long")


# --- config.py ----------------------------------------------------------------------------


class LengthData(Section):
    train: str = Field(description="A TSV file of text<TAB>label rows.")
    val: str = Field(description="Validation rows, like train.")
    batch_size: int = Field(16, ge=1, description="Texts per batch.")


class LengthConfig(TaskConfig):
    task: Literal["length"] = Field("length", description="The task: length.")
    seed: int = Field(13, description="Seeds initialisation and data order.")
    data: LengthData
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=0.1))
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)


# --- data.py, build.py --------------------------------------------------------------------


def read_rows(path: str) -> tuple[list[str], list[str]]:
    rows = [line.split("\t") for line in Path(path).read_text("utf-8").splitlines()]
    return [text for text, _ in rows], [label for _, label in rows]


def features(texts: list[str]) -> torch.Tensor:
    """(N, 1): the number of words of each text, centred on the boundary between labels."""
    return torch.tensor([[len(text.split()) - 3.5] for text in texts])


def build() -> nn.Module:
    return nn.Linear(1, len(LABELS))


# --- system.py ----------------------------------------------------------------------------


class LengthSystem(pl.LightningModule):
    def __init__(self, model: nn.Module, *, lr: float):
        super().__init__()
        self.model = model
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=self.lr)


class LengthBatches(pl.LightningDataModule):
    def __init__(self, train: TensorDataset, val: TensorDataset, *, batch_size: int):
        super().__init__()
        self.train, self.val, self.batch_size = train, val, batch_size

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.batch_size)


# --- recipe.py ----------------------------------------------------------------------------


def dataset(path: str) -> TensorDataset:
    texts, labels = read_rows(path)
    return TensorDataset(features(texts), torch.tensor([LABELS.index(y) for y in labels]))


def prepare(cfg: LengthConfig, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
    model = build()
    return Prepared(
        system=LengthSystem(model, lr=cfg.optim.lr),
        model=model,
        datamodule=LengthBatches(
            dataset(cfg.data.train), dataset(cfg.data.val), batch_size=cfg.data.batch_size
        ),
        save=lambda directory: Vocabulary(list(LABELS), specials=()).save(directory / "vocab.json"),
        data={"labels": list(LABELS)},
    )


# --- predictor.py, commands.py ------------------------------------------------------------


class LengthPredictor:
    def __init__(self, model: nn.Module, config: LengthConfig, directory: Path):
        self.model, self.config, self.directory = model.eval(), config, directory

    @classmethod
    def load(cls, directory: Path, config: LengthConfig, **options: Any) -> LengthPredictor:
        model = build()
        load_weights(model, directory)
        return cls(model, config, directory)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        with torch.no_grad():
            labels = self.model(features(texts)).argmax(-1).tolist()
        return [{"text": text, "label": LABELS[i]} for text, i in zip(texts, labels, strict=True)]

    def evaluate(self, texts: list[str], labels: list[str]) -> dict[str, Any]:
        predicted = [row["label"] for row in self.predict(texts)]
        right = sum(p == y for p, y in zip(predicted, labels, strict=True))
        return {"n": len(texts), "accuracy": right / len(texts)}


EXAMPLES = "textseq train length.yaml --out runs/length\n"
DATA = "a TSV file of text<TAB>label rows"


def evaluate(model: LengthPredictor, *, data: str) -> dict[str, Any]:
    return model.evaluate(*read_rows(data))


def predict(model: LengthPredictor, texts: list[str], *, batch_size: int = 256):
    return model.predict(texts)


# --- the one line in the table ------------------------------------------------------------

TASK = Task(
    name="length",
    summary="long or short text",
    noun="a length model",
    config=LengthConfig,
    files=(),
    verbs=("predict",),
    predictor=LengthPredictor,
    recipe=__name__,  # this module holds `prepare`
    exporter=None,
    commands=sys.modules[__name__],
)


def _write_rows(path: Path, count: int, *, seed: int) -> Path:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = rng.randint(1, 6)
        rows.append(f"{' '.join('word' for _ in range(words))}\t{LABELS[words > 3]}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def length_task(monkeypatch):
    monkeypatch.setitem(TASKS, "length", TASK)


def test_an_extra_task_trains_evaluates_and_predicts_through_the_cli(length_task, tmp_path, capsys):
    config = tmp_path / "length.yaml"
    train = _write_rows(tmp_path / "train.tsv", 200, seed=1)
    val = _write_rows(tmp_path / "val.tsv", 60, seed=2)
    config.write_text(
        f"task: length\ndata:\n  train: {train}\n  val: {val}\n"
        "trainer:\n  max_epochs: 20\n  progress_bar: false\n  early_stopping_patience: null\n",
        encoding="utf-8",
    )
    out = tmp_path / "runs" / "length"
    assert main(["-q", "train", str(config), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["model_dir"] == str(out)
    assert json.loads((out / "textseq.json").read_text())["task"] == "length"

    assert main(["evaluate", str(out), "--data", str(val)]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 60, "accuracy": 1.0}

    assert main(["predict", str(out), "one two", "one two three four five"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == ["short", "long"]

    assert main(["generate", str(out)]) == 2  # not one of its verbs: one line
    assert "holds a length model (task: length); generate is not one of its verbs" in (
        capsys.readouterr().err
    )


def test_without_its_row_the_task_is_unknown(tmp_path, capsys):
    config = tmp_path / "length.yaml"
    config.write_text("task: length\n", encoding="utf-8")
    assert main(["train", str(config), "--out", str(tmp_path / "out")]) == 3
    assert "task: must be one of 'classify', 'lm', 'tag', 'translate'" in capsys.readouterr().err
