"""Word vectors scored on the standard sets that ship with gensim's test data
(`gensim.test.utils.datapath`):

- analogies: Mikolov et al. 2013's `questions-words.txt` (19,544 questions a : b :: c : ?, in
  14 sections, 5 semantic (capitals, currencies, cities, family) and 9 syntactic (`gram*`:
  plurals, tenses, comparatives...)), answered by 3CosAdd over the 300,000 most frequent
  words; accuracy over the questions whose four words all have vectors;
- similarity: Spearman's rho between cosine similarity and human ratings on WordSim-353
  (Finkelstein et al. 2002; relatedness) and SimLex-999 (Hill et al. 2015; similarity proper,
  where antonyms and merely related words score low), over the pairs both of whose words have
  vectors.

Every figure comes with its coverage: how many questions or pairs were answered, of how many.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ANALOGIES = "questions-words.txt"
SIMILARITIES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}


def _datapath(name: str) -> str:
    from gensim.test.utils import datapath

    return datapath(name)


def analogy_scores(
    vectors, *, restrict_vocab: int = 300_000, batch: int = 512, questions: str | None = None
) -> dict:
    """Analogy accuracy, semantic and syntactic separately and together, with coverage.

    The answer to a : b :: c : ? is the word whose unit vector has the highest cosine with
    b^ - a^ + c^ (3CosAdd over unit vectors), a, b and c themselves excluded, among the
    `restrict_vocab` first (most frequent) words, case-insensitively: what gensim's
    `evaluate_word_analogies` computes question by question, here as one matrix product per
    `batch` questions (seconds instead of minutes). Questions with a word outside those words
    are not answered and lower the coverage. `questions`: another file in the same format
    (`: section` lines, sections named gram* syntactic), instead of questions-words.txt.
    """
    words = vectors.index_to_key[:restrict_vocab]
    unit = vectors.get_normed_vectors()[: len(words)]  # (V, E), rows of norm 1
    index = {}
    for i in reversed(range(len(words))):  # the most frequent spelling wins
        index[words[i].lower()] = i
    asked = {"semantic": [], "syntactic": []}
    total = {"semantic": 0, "syntactic": 0}
    kind = "semantic"
    for line in Path(questions or _datapath(ANALOGIES)).read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            kind = "syntactic" if line[1:].strip().startswith("gram") else "semantic"
            continue
        if not line.strip():
            continue
        total[kind] += 1
        ids = [index.get(word.lower()) for word in line.split()]
        if None not in ids:
            asked[kind].append(ids)
    correct = {kind: _answered_right(unit, ids, batch) for kind, ids in asked.items()}
    scores = {}
    for kind in ("semantic", "syntactic", "all"):
        kinds = ("semantic", "syntactic") if kind == "all" else (kind,)
        right = sum(correct[k] for k in kinds)
        tried = sum(len(asked[k]) for k in kinds)
        of = sum(total[k] for k in kinds)
        scores[kind] = {
            "accuracy": round(right / tried, 4) if tried else None,
            "answered": tried,
            "questions": of,
            "coverage": round(tried / of, 4) if of else 0.0,
        }
    return scores


def _answered_right(unit: np.ndarray, questions: list[list[int]], batch: int) -> int:
    """How many questions (a, b, c, expected) of word ids 3CosAdd answers right."""
    right = 0
    for start in range(0, len(questions), batch):
        ids = np.asarray(questions[start : start + batch])  # (n, 4)
        a, b, c, expected = ids.T  # (n,) each
        query = unit[b] - unit[a] + unit[c]  # (n, E)
        scores = query @ unit.T  # (n, V)
        rows = np.arange(len(ids))
        for excluded in (a, b, c):
            scores[rows, excluded] = -np.inf
        right += int((scores.argmax(axis=1) == expected).sum())
    return right


def similarity_scores(vectors) -> dict:
    """Spearman's rho on WordSim-353 and SimLex-999, with the share of pairs covered."""
    scores = {}
    for name, file in SIMILARITIES.items():
        path = _datapath(file)
        lines = [
            line
            for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        _, spearman, oov_percent = vectors.evaluate_word_pairs(path, case_insensitive=True)
        rho = float(spearman[0]) if spearman[0] == spearman[0] else None  # NaN: too few pairs
        scores[name] = {
            "spearman": round(rho, 4) if rho is not None else None,
            "pairs": len(lines),
            "coverage": round(1 - oov_percent / 100, 4),
        }
    return scores


def evaluate_vectors(vectors, *, restrict_vocab: int = 300_000) -> dict:
    """Every score: {"analogy": {...}, "similarity": {...}, "vocab_size", "dim"}."""
    return {
        "vocab_size": len(vectors.index_to_key),
        "dim": int(vectors.vector_size),
        "analogy": analogy_scores(vectors, restrict_vocab=restrict_vocab),
        "similarity": similarity_scores(vectors),
    }
