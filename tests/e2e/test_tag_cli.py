"""The tagger end to end on a small slice of real CoNLL-2003: train, evaluate and predict
through the CLI, reload, marginals and their heatmap, entity confidences."""

import json
from pathlib import Path

import pytest
import torch

import textseq
from textseq.cli import main
from textseq.tasks.tag.conll import read_conll

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "conll2003_bilstm_crf.yaml"
SENTENCE = "U.N. official Ekeus heads for Baghdad ."


@pytest.fixture(scope="module")
def conll_env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets_dir
    patch.undo()


@pytest.fixture(scope="module")
def tagger(conll_env, tmp_path_factory):
    """The shipped BiLSTM-CRF config (GloVe, characters, CRF), trained for one epoch on 300
    training sentences with a smaller network."""
    out = tmp_path_factory.mktemp("runs") / "ner"
    threads = torch.get_num_threads()
    code = main(
        [
            "-q",
            "train",
            str(CONFIG),
            "--out",
            str(out),
            "--set",
            "data.limit_train=300",
            "--set",
            "data.limit_val=100",
            "--set",
            "model.words_from_vectors=false",
            "--set",
            "model.encoder.hidden_size=32",
            "--set",
            "trainer.max_epochs=1",
            "--set",
            "trainer.threads=1",
            "--set",
            "trainer.progress_bar=false",
        ]
    )
    torch.set_num_threads(threads)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def test_slice(conll_env, tmp_path_factory):
    """The first 80 sentences of the test split as a CoNLL file."""
    sentences = read_conll(conll_env / "conll2003" / "test.bio.tsv.gz")[:80]
    path = tmp_path_factory.mktemp("data") / "test_slice.conll"
    path.write_text(
        "\n".join(
            "".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True)) for s in sentences
        ),
        encoding="utf-8",
    )
    return path


def test_train_writes_a_complete_tagger_directory(tagger):
    names = {p.name for p in tagger.iterdir()}
    assert {"config.yaml", "vocab.json", "chars.json", "tags.json", "model.safetensors"} <= names
    assert {"metrics.json", "textseq.json"} <= names
    metrics = json.loads((tagger / "metrics.json").read_text())
    assert metrics["monitor"] == "val_f1" and "val_f1" in metrics["best"]
    tags = json.loads((tagger / "tags.json").read_text())["tokens"]
    assert "S-PER" in tags and "E-LOC" in tags  # IOBES modelled


def test_evaluate_prints_entity_scores(tagger, test_slice, capsys):
    assert main(["-q", "evaluate", str(tagger), "--data", str(test_slice)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 80
    assert set(report["per_type"]) == {"LOC", "MISC", "ORG", "PER"}
    assert 0.0 <= report["f1"] <= 1.0 and 0.5 < report["accuracy"] <= 1.0
    assert report["sentences_per_second"] > 0
    # The same numbers from Python.
    model = textseq.load(tagger)
    again = model.evaluate(read_conll(test_slice))
    assert again["f1"] == report["f1"] and again["accuracy"] == report["accuracy"]


def test_predict_raw_and_pretokenised(tagger, capsys):
    assert main(["-q", "predict", str(tagger), SENTENCE]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["tokens"] == SENTENCE.split()
    assert len(raw["tags"]) == len(raw["confidences"]) == 7
    assert all(0.0 <= c <= 1.0 for c in raw["confidences"])
    for entity in raw["entities"]:
        assert set(entity) == {"text", "type", "start", "end", "confidence"}
        assert 0.0 <= entity["confidence"] <= 1.0
    assert main(["-q", "predict", str(tagger), "--tokens", "--nbest", "3", SENTENCE]) == 0
    tokens = json.loads(capsys.readouterr().out)
    assert tokens["tags"] == raw["tags"]
    assert len(tokens["nbest"]) == 3 and tokens["nbest"][0]["tags"] == raw["tags"]
    scores = [row["score"] for row in tokens["nbest"]]
    assert scores == sorted(scores, reverse=True)


def test_reloaded_tagger_marginals_and_heatmap(tagger, tmp_path, capsys):
    model = textseq.load(tagger)
    tokens, tags, probabilities = model.marginals(SENTENCE)
    assert probabilities.shape == (7, len(tags))
    assert torch.allclose(probabilities.sum(1), torch.ones(7), atol=1e-5)
    result = model.predict([SENTENCE.split()])[0]
    ids = model.tag_ids([tokens])[0]
    chosen = [probabilities[t, i].item() for t, i in enumerate(ids)]
    assert result["confidences"] == pytest.approx(chosen, abs=1e-5)
    # textseq explain: the same marginals as JSON, or drawn as a PNG heatmap
    assert main(["-q", "explain", str(tagger), SENTENCE]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["tokens"] == tokens and printed["tags"] == result["tags"]
    assert printed["tag_names"] == list(tags)
    assert torch.allclose(torch.tensor(printed["marginals"]), probabilities, atol=1e-5)
    png = tmp_path / "marginals.png"
    assert main(["-q", "explain", str(tagger), SENTENCE, "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["-q", "explain", str(tagger), SENTENCE, "--out", str(tmp_path / "m.html")]) == 2
    assert "drawn as a PNG" in capsys.readouterr().err
    assert not (tmp_path / "m.html").exists()


def test_tagger_errors(tagger, tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    assert main(["-q", "evaluate", str(tagger), "--data", str(bad)]) == 3
    assert f"{bad}, line 2: a token with no tag" in capsys.readouterr().err
    assert main(["-q", "generate", str(tagger)]) == 2
    assert "holds a tagger" in capsys.readouterr().err
