"""Nearest words and 2-D projections of an embedding table (textseq.embedding_space)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textseq.embedding_space import (
    WordEmbeddings,
    lookup_word,
    nearest_neighbors,
    project_words,
    tsne_perplexity,
)
from textseq.errors import DataError, TextseqError
from textseq.text.cleaning import TextCleaner
from textseq.text.vocab import Vocabulary

# A hand-built table: the angle of each 2-D vector fixes its cosine with "good" (angle 0).
ANGLES = {"good": 0, "great": 10, "fine": 30, "okay": 60, "film": 90, "bad": 170, "awful": 180}
VOCAB = Vocabulary(list(ANGLES))


def _table() -> torch.Tensor:
    rows = [[0.0, 0.0], [1.0, 1.0]]  # <pad> (zero), <unk> (45°: would rank 4th if not excluded)
    for word, angle in ANGLES.items():
        radius = 1.0 + len(word)  # lengths differ: cosine must ignore them
        rows.append([radius * np.cos(np.radians(angle)), radius * np.sin(np.radians(angle))])
    return torch.tensor(rows)


def test_neighbors_come_in_order_of_cosine_without_the_word_or_specials():
    found = nearest_neighbors(_table(), VOCAB, "good", k=10)
    assert [w for w, _ in found] == ["great", "fine", "okay", "film", "bad", "awful"]
    expected = [np.cos(np.radians(ANGLES[w])) for w, _ in found]
    assert [c for _, c in found] == pytest.approx(expected, abs=1e-6)


def test_neighbors_k_and_normalised_lookup():
    found = nearest_neighbors(_table(), VOCAB, "AWFUL", k=2, normalise=TextCleaner())
    assert [w for w, _ in found] == ["bad", "film"]  # cos 10° = 0.98, cos 90° = 0
    assert found[0][1] == pytest.approx(np.cos(np.radians(10)), abs=1e-6)


def test_unknown_word_suggests_close_spellings():
    with pytest.raises(DataError, match=r"'grate' is not in the model's vocabulary.*'great'"):
        nearest_neighbors(_table(), VOCAB, "grate")
    with pytest.raises(DataError, match="special token"):
        lookup_word(VOCAB, "<unk>")
    with pytest.raises(DataError, match=r"'zzz' is not in the model's vocabulary \(7 words\)$"):
        lookup_word(VOCAB, "zzz")


def test_table_that_does_not_fit_the_vocabulary_is_an_error():
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        nearest_neighbors(torch.zeros(3, 2), VOCAB, "good")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_reports_missing_words(method):
    words = ["good", "nope", "bad", "Good", "film", "zilch", "great"]
    projection = project_words(_table(), VOCAB, words, method=method, normalise=TextCleaner())
    assert projection.words == ["good", "bad", "film", "great"]
    assert projection.missing == ["nope", "zilch"]
    assert projection.points.shape == (4, 2) and np.isfinite(projection.points).all()


def test_pca_projection_of_a_2d_table_keeps_distances():
    projection = project_words(_table(), VOCAB, list(ANGLES), method="pca")
    table = _table()[[VOCAB.stoi[w] for w in projection.words]].numpy()

    def distances(points):
        return np.linalg.norm(points[:, None] - points[None], axis=-1)

    assert distances(projection.points) == pytest.approx(distances(table), abs=1e-4)


def test_projection_needs_two_known_words():
    with pytest.raises(DataError, match=r"found 1 \(good\); not in the vocabulary: nope"):
        project_words(_table(), VOCAB, ["good", "nope"])


@pytest.mark.parametrize("n", [2, 3, 5, 40, 200])
def test_tsne_perplexity_is_valid_for_any_number_of_words(n):
    assert 1.0 <= tsne_perplexity(n) < n
    assert tsne_perplexity(n) <= 30.0


def test_word_embeddings_answer_as_the_functions_and_refuse_a_table_of_another_size():
    table = WordEmbeddings(_table(), VOCAB, TextCleaner())
    assert table.lookup("GOOD") == "good"
    assert table.neighbors("Good", k=3) == nearest_neighbors(_table(), VOCAB, "good", k=3)
    projection = table.project(["good", "bad", "film"], method="pca", seed=0)
    expected = project_words(_table(), VOCAB, ["good", "bad", "film"], method="pca", seed=0)
    np.testing.assert_allclose(projection.points, expected.points)
    with pytest.raises(TextseqError, match=r"shape \(3, 2\) does not fit its vocabulary of 9"):
        WordEmbeddings(torch.zeros(3, 2), VOCAB)


def test_group_files_are_read_in_order_and_bad_lines_are_named(tmp_path):
    from textseq.embedding_space import plot_words, read_groups
    from textseq.errors import UsageError

    path = tmp_path / "groups.tsv"
    path.write_text("# word\tgroup\ngood\tpositive\n\nbad\tnegative\nfine\tpositive\n")
    assert read_groups(path) == {"good": "positive", "bad": "negative", "fine": "positive"}
    assert list(read_groups(path)) == ["good", "bad", "fine"]
    assert plot_words(None, str(path)) == (["good", "bad", "fine"], read_groups(path))
    assert plot_words("bad, good", str(path))[0] == ["bad", "good"]
    assert plot_words("bad,good", None) == (["bad", "good"], None)
    with pytest.raises(UsageError, match="--words a,b,c or --groups FILE"):
        plot_words(None, None)
    for text, problem in [
        ("good\tpositive\ngood positive\n", r"line 2: expected WORD<TAB>GROUP"),
        ("good\t\n", r"line 1: expected WORD<TAB>GROUP"),
        ("good\tpositive\ngood\tnegative\n", r"line 2: 'good' is in group 'positive' already"),
        ("# nothing\n", "names no word"),
    ]:
        path.write_text(text)
        with pytest.raises(DataError, match=problem):
            read_groups(path)
    with pytest.raises(DataError, match="no such group file"):
        read_groups(tmp_path / "missing.tsv")
