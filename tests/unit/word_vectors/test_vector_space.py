"""Vectors of any source as one space: known-answer analogies, fastText .bin with subwords,
and the batched analogy evaluation equal to gensim's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from textseq.errors import DataError
from textseq.word_vectors.evaluation import analogy_scores, evaluate_vectors
from textseq.word_vectors.space import is_fasttext_bin, open_space

WORDS = {  # king - man + woman = queen exactly; film near movie
    "king": [1.0, 1.0, 0.0, 0.0],
    "man": [1.0, 0.0, 0.0, 0.0],
    "woman": [0.0, 0.0, 1.0, 0.0],
    "queen": [0.0, 1.0, 1.0, 0.0],
    "film": [0.0, 0.0, 0.0, 1.0],
    "movie": [0.1, 0.0, 0.0, 1.0],
}


@pytest.fixture
def toy_vectors(tmp_path):
    path = tmp_path / "toy.w2v.txt"
    rows = [f"{w} {' '.join(map(str, v))}" for w, v in WORDS.items()]
    path.write_text(f"{len(WORDS)} 4\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_analogy_and_neighbors_have_known_answers(toy_vectors):
    space = open_space(str(toy_vectors))
    assert space.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert space.neighbors("film", k=1)[0][0] == "movie"
    assert space.lookup("KING") == "king"  # case folded when only the lower case is known
    with pytest.raises(DataError, match=r"'moovie' has no vector.*did you mean 'movie'"):
        space.neighbors("moovie")


def test_a_fasttext_bin_loads_with_subwords_and_answers_for_unseen_words():
    path = datapath("crime-and-punishment.bin")
    assert is_fasttext_bin(Path(path))
    space = open_space(path)
    assert space.subwords
    unseen = "raskolnikovish"
    assert unseen not in space.vectors.key_to_index
    found = space.neighbors(unseen, k=3)
    assert len(found) == 3 and all(-1.0 <= c <= 1.0 for _, c in found)
    # an unseen word's vector is built from its n-grams, so it is close to its stem's
    assert space.vectors.similarity(unseen, "raskolnikov") > 0.5


def _questions(tmp_path) -> Path:
    """questions-words.txt cut to its first semantic section and 300 syntactic questions."""
    lines = Path(datapath("questions-words.txt")).read_text(encoding="utf-8").splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith(":")]
    kept = lines[heads[0] : heads[1]] + lines[heads[5] : heads[5] + 301]
    assert kept[-301].startswith(": gram")
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def _question_vectors(questions: Path) -> KeyedVectors:
    """Random vectors for every word of `questions`, except that each capital of its first
    section is its country plus one shared offset, so those analogies have answers."""
    rng = np.random.default_rng(0)
    lines = questions.read_text(encoding="utf-8").splitlines()
    words = list(
        dict.fromkeys(w.lower() for line in lines if line[:1] != ":" for w in line.split())
    )
    table = {w: rng.normal(size=16) for w in words}
    offset = rng.normal(size=16)
    section = 0
    for line in lines:
        section += line.startswith(":")
        if section == 1 and not line.startswith(":"):
            capital, country = line.lower().split()[:2]
            table[capital] = table[country] + offset
    vectors = KeyedVectors(vector_size=16)
    vectors.add_vectors(words, np.stack([table[w] for w in words]).astype(np.float32))
    return vectors


def test_the_batched_analogy_score_equals_gensims(tmp_path):
    questions = _questions(tmp_path)
    vectors = _question_vectors(questions)
    ours = analogy_scores(vectors, questions=str(questions))
    score, sections = vectors.evaluate_word_analogies(str(questions), case_insensitive=True)
    answered = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections[:-1])
    assert ours["all"]["answered"] == answered == 506 + 300
    assert ours["all"]["accuracy"] == pytest.approx(score, abs=1e-4)
    assert ours["semantic"]["accuracy"] > 0.5 > ours["syntactic"]["accuracy"]  # as planted
    assert (ours["semantic"]["questions"], ours["syntactic"]["questions"]) == (506, 300)
    assert ours["all"]["coverage"] == 1.0


def test_every_question_of_the_standard_set_is_counted_in_the_coverage():
    vectors = KeyedVectors(vector_size=2)
    vectors.add_vectors(["athens", "greece"], np.eye(2, dtype=np.float32))
    scores = analogy_scores(vectors)
    assert (scores["semantic"]["questions"], scores["syntactic"]["questions"]) == (8869, 10675)
    assert scores["all"]["answered"] == 0 and scores["all"]["accuracy"] is None


def test_similarity_scores_state_their_coverage(toy_vectors):
    scores = evaluate_vectors(open_space(str(toy_vectors)).vectors)
    assert scores["vocab_size"] == 6 and scores["dim"] == 4
    # two family questions are covered (king : queen :: man : woman, and its mirror)
    assert scores["analogy"]["all"]["answered"] == 2
    assert scores["analogy"]["all"]["accuracy"] == 1.0
    for name, pairs in (("wordsim353", 353), ("simlex999", 999)):
        assert scores["similarity"][name]["pairs"] == pairs
        assert 0.0 <= scores["similarity"][name]["coverage"] < 0.05
    assert np.isclose(open_space(str(toy_vectors)).vectors["queen"], WORDS["queen"]).all()
