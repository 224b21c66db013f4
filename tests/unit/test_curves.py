"""trainer.logger: Lightning's CSV and TensorBoard loggers write the run, with its
hyperparameters (the TensorBoard event file read back with TensorBoard's own reader), and
`textseq curves` draws the run's history with its best epoch marked."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import textseq
from textseq.cli import main
from textseq.errors import ConfigError

WORDS = [f"w{i}" for i in range(30)]


def _toy(path: Path, n: int, seed: int) -> str:
    """'yes' when the text holds w1: learnable in a few epochs."""
    rng = random.Random(seed)
    rows = ["label\ttext"]
    for i in range(n):
        tokens = rng.choices(WORDS[2:], k=rng.randint(3, 8))
        if i % 2:
            tokens[rng.randrange(len(tokens))] = "w1"
        rows.append(f"{'yes' if i % 2 else 'no'}\t{' '.join(tokens)}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _config(tmp_path: Path, logger) -> dict:
    return {
        "data": {
            "train": _toy(tmp_path / "train.tsv", 300, seed=1),
            "val": _toy(tmp_path / "val.tsv", 100, seed=2),
            "batch_size": 32,
        },
        "text": {"tokenizer": "whitespace", "min_freq": 1},
        "model": {
            "embedding": {"dim": 8},
            "encoder": {"cell": "gru", "hidden_size": 8, "num_layers": 1},
            "pooling": {"type": "mean"},
            "head": {"hidden_size": 8},
        },
        "optim": {"lr": 0.02},
        "trainer": {"max_epochs": 3, "progress_bar": False, "threads": 1, "logger": logger,
                    "early_stopping_patience": None, "log_every_n_steps": 1},
    }  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("logged")
    return textseq.train(_config(tmp_path, ["csv", "tensorboard"]), out=tmp_path / "model")


def test_tensorboard_event_file_holds_every_validation_and_the_hyperparameters(run):
    [events] = (run / "tensorboard").glob("version_*/events.out.tfevents.*")
    reader = EventAccumulator(str(events.parent))
    reader.Reload()
    metrics = json.loads((run / "metrics.json").read_text())
    logged = [event.value for event in reader.Scalars("val_acc")]
    assert logged == pytest.approx([row["val_acc"] for row in metrics["epochs"]])
    assert len(logged) == 3
    assert "train_loss_step" in reader.Tags()["scalars"]
    # hparams: TensorBoard's hparams plugin holds the config; the CSV logger its hparams.yaml
    assert reader.PluginTagToContent("hparams")  # the hparams plugin's summary is there
    for logs in ("logs", "tensorboard"):
        [saved] = (run / logs).glob("version_*/hparams.yaml")
        hparams = yaml.safe_load(saved.read_text())
        assert hparams["optim.lr"] == 0.02 and hparams["trainer.max_epochs"] == 3


def test_curves_draw_losses_and_the_monitored_metric_with_the_best_epoch(run, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main(["curves", str(run), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert report["best_epoch"] == metrics["best_epoch"] and report["epochs"] == 3
    assert report["series"] == ["train_loss", "val_loss", "val_acc"]
    pixels = imread(out)[..., :3]  # (H, W, 3) floats in [0, 1]
    assert pixels.shape[1] > pixels.shape[0] > 300  # two panels side by side
    # Not blank: matplotlib's first line colours (blue: train loss and the metric, orange)
    for colour in ((31, 119, 180), (255, 127, 14)):
        near = np.abs(pixels * 255 - np.array(colour)).max(axis=-1) < 30
        assert near.sum() > 50, colour
    # The best epoch's dashed grey line: a column of mid-grey pixels in each panel
    grey = np.abs(pixels * 255 - 89).max(axis=-1) < 12
    assert (grey.sum(axis=0) > 40).sum() >= 2


def test_a_directory_without_history_and_an_uninstalled_logger_are_one_line_errors(
    tmp_path, capsys
):
    assert main(["curves", str(tmp_path)]) == 3
    assert "no metrics.json" in capsys.readouterr().err
    if importlib.util.find_spec("mlflow") is None:
        with pytest.raises(ConfigError, match=r"trainer\.logger mlflow"):
            textseq.train(_config(tmp_path, "mlflow"), out=tmp_path / "model")
    with pytest.raises(ConfigError, match=r"trainer\.logger"):
        textseq.train(_config(tmp_path, []), out=tmp_path / "empty")
