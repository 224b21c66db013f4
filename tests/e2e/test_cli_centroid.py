"""The centroid classifier (`model.encoder.type: none`) through the CLI on a slice of SST-2:
it trains and learns, predicts, reloads, exports to ONNX with parity and is served like any
classifier; an encoder-only pooling is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

import textseq
from textseq.cli import main
from textseq.serving import create_app

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sst2_centroid.yaml"
SETTINGS = {
    "data.limit_train": 3000,
    "data.limit_val": 300,
    "trainer.max_epochs": 3,
    "trainer.threads": 1,
    "trainer.progress_bar": "false",
    "model.embedding.vectors": "null",  # learned vectors: no GloVe to read
    "model.words_from_vectors": "false",
    "model.embedding.dim": 32,
    "text.min_freq": 2,
    "optim.lr": 0.01,
}
TEXTS = ["a gripping , beautifully acted film", "dull", "not bad at all , really"]


@pytest.fixture(scope="module")
def centroid(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("runs") / "centroid"
    overrides = [arg for key, value in SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    threads = torch.get_num_threads()
    assert main(["-q", "train", str(CONFIG), "--out", str(out), *overrides]) == 0
    torch.set_num_threads(threads)
    yield out
    patch.undo()


def test_it_trains_and_learns(centroid):
    metrics = json.loads((centroid / "metrics.json").read_text())
    assert metrics["best"]["val_acc"] > 0.65  # a majority guess is ~0.5 on SST-2 dev


def test_it_predicts_and_a_reloaded_model_predicts_the_same(centroid, capsys):
    assert main(["predict", str(centroid), *TEXTS]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    again = textseq.load(centroid).predict(TEXTS)
    assert [r["label"] for r in lines] == [r["label"] for r in again]
    assert [r["probs"]["positive"] for r in lines] == pytest.approx(
        [r["probs"]["positive"] for r in again], abs=1e-6
    )


def test_onnx_export_matches_the_model(centroid, tmp_path, capsys):
    out = tmp_path / "centroid.onnx"
    args = ["export", str(centroid), "--format", "onnx", "--out", str(out), "--limit", "100"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_prob_diff"] <= report["tolerance"] == 1e-3
    direct = textseq.load(centroid).predict(TEXTS)
    onnx = textseq.load(centroid, onnx=out).predict(TEXTS)
    assert [r["probs"]["positive"] for r in onnx] == pytest.approx(
        [r["probs"]["positive"] for r in direct], abs=1e-4
    )


def test_it_is_served_like_any_classifier(centroid):
    model = textseq.load(centroid)
    with TestClient(create_app(model)) as client:
        answer = client.post("/predict", json={"texts": TEXTS})
    assert answer.status_code == 200
    served = answer.json()["predictions"]
    assert [r["label"] for r in served] == [r["label"] for r in model.predict(TEXTS)]


def test_a_pooling_that_needs_an_encoder_is_refused_in_one_line(centroid, capsys):
    args = ["train", str(CONFIG), "--out", "unused", "--set", "model.pooling.type=last"]
    assert main(args) == 3
    error = capsys.readouterr().err
    assert "'last' needs an encoder" in error and "Traceback" not in error


def test_vectors_verbs_read_its_embedding_table(centroid, capsys):
    assert main(["-q", "vectors", "neighbors", str(centroid), "Film", "-k", "3"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["word"] == "film" and len(found["neighbors"]) == 3
    assert all(n["word"] not in ("<pad>", "<unk>", "film") for n in found["neighbors"])
    table = textseq.load(centroid).word_embeddings()
    assert [n["word"] for n in found["neighbors"]] == [w for w, _ in table.neighbors("film", k=3)]
    assert main(["-q", "vectors", "analogy", str(centroid), "good", "bad", "dull", "-k", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)["answers"]) == 1
