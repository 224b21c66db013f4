"""`textseq explain`, `neighbors` and `embeddings-plot` on a small model trained on a slice of
real SST-2."""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import _FakeStdin, sst2_env  # noqa: F401 - fixture shared with test_cli

import textseq
from textseq.cli import main

pytestmark = pytest.mark.e2e

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXT = "It's not a bad film, really."
TOKENS = ["it", "'s", "not", "a", "bad", "film", ",", "really", "."]


@pytest.fixture(scope="module")
def trained(sst2_env, tmp_path_factory):  # noqa: F811 - not test_cli's `trained`
    """test_cli's small BiLSTM-attention model, with learned embeddings instead of GloVe (whose
    400,000 vectors take most of a minute to read) and fewer phrases: explaining needs a real
    model, not a good one."""
    out = tmp_path_factory.mktemp("runs") / "sst2"
    config = Path(__file__).resolve().parents[2] / "configs" / "sst2_bilstm_attention.yaml"
    settings = {
        "data.limit_train": 2000,
        "data.limit_val": 200,
        "trainer.max_epochs": 2,
        "trainer.threads": 1,
        "model.embedding.vectors": "null",
        "model.embedding.dim": 32,
        "model.encoder.hidden_size": 32,
        "model.pooling.attention_dim": 32,
        "trainer.progress_bar": "false",
    }
    overrides = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    assert main(["-q", "train", str(config), "--out", str(out), *overrides]) == 0
    return out


def test_explain_prints_tokens_label_probs_attention_and_saliency(trained, capsys, monkeypatch):
    assert main(["explain", str(trained), TEXT]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == TOKENS
    predicted = textseq.load(trained).predict([TEXT], explain=True)[0]
    assert result["label"] == predicted["label"]
    assert result["probs"] == pytest.approx(predicted["probs"], abs=1e-5)
    assert result["attention"] == pytest.approx([w for _, w in predicted["attention"]], abs=1e-5)
    assert len(result["saliency"]) == len(TOKENS)
    assert max(abs(s) for s in result["saliency"]) == pytest.approx(1.0)
    assert result["saliency_scale"] > 0
    assert result["layer_attention"] is None  # a BiLSTM has no per-layer attention

    monkeypatch.setattr(sys, "stdin", _FakeStdin(TEXT + "\n"))
    assert main(["explain", str(trained)]) == 0
    assert json.loads(capsys.readouterr().out) == result


def test_explain_writes_png_and_html(trained, tmp_path, capsys):
    from matplotlib.image import imread

    png, page = tmp_path / "why.png", tmp_path / "why.html"
    assert main(["explain", str(trained), TEXT, "--out", str(png)]) == 0
    assert capsys.readouterr().out.strip() == str(png)
    assert png.read_bytes()[:8] == PNG_MAGIC
    height, width = imread(png).shape[:2]
    assert width >= 600 and height >= 200
    assert main(["explain", str(trained), TEXT, "--out", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    for token in TOKENS:
        assert f">{html.escape(token)}<span" in text
    assert "Attention pooling weights" in text and "Saliency" in text

    assert main(["explain", str(trained), TEXT, "--out", str(tmp_path / "why.pdf")]) == 2
    assert ".png or .html" in capsys.readouterr().err


def test_neighbors_are_the_nearest_rows_of_the_embedding_table(trained, capsys):
    assert main(["neighbors", str(trained), "Good", "-k", "5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["word"] == "good"
    model = textseq.load(trained)
    vocab = model.pipeline.vocab
    table = model.model.embedding.weight.detach().numpy()  # (V, E)
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    cosine = unit @ unit[vocab.stoi["good"]]  # (V,)
    cosine[[vocab.stoi["good"], *(vocab.stoi[s] for s in vocab.specials)]] = -np.inf
    expected = [vocab.itos[i] for i in np.argsort(-cosine, kind="stable")[:5]]
    assert [n["word"] for n in result["neighbors"]] == expected
    cosines = [n["cosine"] for n in result["neighbors"]]
    assert cosines == sorted(cosines, reverse=True)

    assert main(["neighbors", str(trained), "gooood"]) == 3
    err = capsys.readouterr().err
    assert "'gooood' is not in the model's vocabulary" in err and "'good'" in err


def test_embeddings_plot_reports_missing_words(trained, tmp_path, capsys):
    from matplotlib.image import imread

    words = ["good", "great", "bad", "awful", "film", "movie", "qwertyuiop", "dull"]
    vocab = textseq.load(trained).pipeline.vocab
    known = [w for w in words if w in vocab]
    assert len(known) >= 5  # frequent words of SST-2
    for method in ("pca", "tsne"):
        out = tmp_path / f"{method}.png"
        assert main(["embeddings-plot", str(trained), "--words", ",".join(words), "--out", str(out),
                     "--method", method]) == 0  # fmt: skip
        captured = capsys.readouterr()
        report = json.loads(captured.out)
        assert report["missing"] == [w for w in words if w not in known]
        assert "qwertyuiop" in report["missing"] and "qwertyuiop" in captured.err
        assert report["words"] == known
        assert out.read_bytes()[:8] == PNG_MAGIC and imread(out).shape[:2] == (600, 750)

    out = tmp_path / "none.png"
    assert main(["embeddings-plot", str(trained), "--words", "qwertyuiop", "--out", str(out)]) == 3
    assert "at least 2 words" in capsys.readouterr().err
    assert not out.exists()


def test_embeddings_plot_colours_the_words_of_a_group_file(trained, tmp_path, capsys):
    from matplotlib.image import imread

    groups = tmp_path / "groups.tsv"
    groups.write_text("good\tpositive\ngreat\tpositive\nbad\tnegative\ndull\tnegative\n"
                      "film\tthing\nqwertyuiop\tthing\n")  # fmt: skip
    out = tmp_path / "groups.png"
    assert main(["embeddings-plot", str(trained), "--groups", str(groups), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["words"] == ["good", "great", "bad", "dull", "film"]  # the group file's
    assert report["missing"] == ["qwertyuiop"]
    pixels = imread(out)[..., :3] * 255
    for colour in ((31, 119, 180), (255, 127, 14), (44, 160, 44)):  # tab10: a colour per group
        assert (np.abs(pixels - colour).max(axis=-1) < 25).sum() > 20, colour
    groups.write_text("good positive\n")
    assert main(["embeddings-plot", str(trained), "--groups", str(groups), "--out", str(out)]) == 3
    assert "line 1: expected WORD<TAB>GROUP" in capsys.readouterr().err
    assert main(["embeddings-plot", str(trained), "--out", str(out)]) == 2
    assert "--words a,b,c or --groups FILE" in capsys.readouterr().err


def test_explain_with_integrated_gradients(trained, tmp_path, capsys):
    assert main(["explain", str(trained), TEXT, "--method", "ig"]) == 0
    ig = json.loads(capsys.readouterr().out)
    assert main(["explain", str(trained), TEXT]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["method"] == "gradient-x-input" and plain["convergence_delta"] is None
    assert ig["method"] == "ig" and abs(ig["convergence_delta"]) < 0.05
    assert ig["tokens"] == plain["tokens"] and ig["probs"] == plain["probs"]
    assert max(abs(s) for s in ig["saliency"]) == pytest.approx(1.0)
    page = tmp_path / "ig.html"
    assert main(["explain", str(trained), TEXT, "--method", "ig", "--out", str(page)]) == 0
    assert "Saliency by integrated gradients" in page.read_text(encoding="utf-8")
    assert main(["explain", str(trained), TEXT, "--method", "lime"]) == 2
    assert "invalid choice: 'lime'" in capsys.readouterr().err


def test_verbs_and_options_a_classifier_lacks_are_one_line_errors(trained, capsys):
    for args in (["generate", "--prompt", "a"], ["translate", "a fine film"]):
        assert main([args[0], str(trained), *args[1:]]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert f"holds a classifier (task: classify); {args[0]} is not one of its verbs" in err
        assert f"use: textseq predict {trained}" in err
    assert main(["predict", str(trained), "--tokens", "--nbest", "2", "a fine film"]) == 2
    err = capsys.readouterr().err
    assert "--tokens, --nbest: not an option of predict for a classifier" in err
    assert "its options: --explain, --batch-size" in err
