"""`textseq vectors ...` end to end: train on a named dataset's texts plus a text file, and the
directory it writes is read by evaluate, neighbors, analogy, plot and model.embedding.vectors."""

from __future__ import annotations

import json

import pytest
from gensim.test.utils import datapath

from textseq.cli import main
from textseq.vectors import load_configured_vectors

pytestmark = pytest.mark.e2e
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXTRA = "The film was good .\nA good movie , a great film !\n<b>Bad</b> film .\n" * 30


@pytest.fixture(scope="module")
def trained(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path_factory.mktemp("vectors")
    extra = root / "extra.txt"
    extra.write_text(EXTRA, encoding="utf-8")
    out = root / "ft"
    args = ["vectors", "train", "sst2:dev", str(extra), "--out", str(out), "--method",
            "fasttext", "--dim", "16", "--epochs", "2", "--min-count", "2", "--workers", "1",
            "--buckets", "20000"]  # fmt: skip
    assert main(args) == 0
    yield out
    patch.undo()


def test_train_writes_every_format_and_a_report_that_counts_the_corpus(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"vectors.bin", "vectors.txt", "gensim.model", "fasttext.bin", "report.json"} <= names
    report = json.loads((trained / "report.json").read_text())
    assert report["texts"] == 872 + 90  # SST-2 dev sentences and the file's lines
    assert report["corpus_tokens"] > 872 * 10
    assert report["settings"]["method"] == "fasttext" and report["settings"]["dim"] == 16
    assert report["text"]["tokenizer"] == "basic_english"
    header = (trained / "vectors.txt").read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == f"{report['vocab_size']} 16"
    vocab = {line.split(" ", 1)[0] for line in (trained / "vectors.txt").open(encoding="utf-8")}
    assert "<b>" not in vocab and "bad" in vocab and "Bad" not in vocab  # cleaned as models read


def test_the_directory_is_usable_as_model_embedding_vectors(trained):
    vectors = load_configured_vectors(str(trained), "auto", 16)
    assert vectors.vector_size == 16 and "film" in vectors.key_to_index


def test_neighbors_analogy_evaluate_and_plot_read_it(trained, tmp_path, capsys):
    assert main(["vectors", "neighbors", str(trained), "film", "-k", "3"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["word"] == "film" and len(found["neighbors"]) == 3
    assert main(["vectors", "neighbors", str(trained), "filmography", "-k", "2"]) == 0  # unseen
    assert len(json.loads(capsys.readouterr().out)["neighbors"]) == 2
    assert main(["vectors", "analogy", str(trained), "film", "good", "bad", "-k", "2"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["query"] == "film - good + bad" and len(answer["answers"]) == 2
    assert main(["vectors", "evaluate", str(trained / "vectors.bin")]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["analogy"]["all"]["questions"] == 19544
    assert 0 < scores["similarity"]["wordsim353"]["coverage"] < 1
    out = tmp_path / "words.png"
    text = str(trained / "vectors.txt")  # no subwords: zzzq has no vector
    args = ["vectors", "plot", text, "--words", "film,movie,good,bad,zzzq", "--out"]
    assert main([*args, str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert out.read_bytes()[:8] == PNG_MAGIC and report["words"] == ["film", "movie", "good", "bad"]
    assert report["missing"] == ["zzzq"]
    groups = tmp_path / "groups.tsv"
    groups.write_text("film\tthing\nmovie\tthing\ngood\tjudgement\nbad\tjudgement\n")
    assert main(["vectors", "plot", text, "--groups", str(groups), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["words"] == ["film", "movie", "good", "bad"]


def test_a_fasttext_bin_answers_for_words_it_never_saw(capsys):
    path = datapath("crime-and-punishment.bin")
    assert main(["vectors", "neighbors", path, "raskolnikovish", "-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["neighbors"]) == 2


def test_bad_input_is_one_line(trained, tmp_path, capsys):
    assert main(["vectors", "train", "sst2:dev", "--out", str(trained)]) == 3
    assert "exists and is not an empty directory" in capsys.readouterr().err
    assert main(["vectors", "train", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o")]) == 3
    assert "no such corpus" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["-q", "vectors", "neighbors", str(trained / "vectors.txt"), "qqqzzz"]) == 3
    error = capsys.readouterr().err
    assert "has no vector" in error and "Traceback" not in error
