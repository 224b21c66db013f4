"""Word vectors: format detection, loading every format (plain and gzip'd), the embedding
matrix built for a vocabulary, its unknown-word initialisation and the coverage numbers."""

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from textseq.errors import ConfigError, DataError
from textseq.tasks import load_config
from textseq.text.vocab import PAD, UNK, Vocabulary
from textseq.vectors import (
    NAMED_VECTORS,
    Coverage,
    _guess_format,
    cached_keyed_vectors,
    configured_vectors,
    embedding_matrix,
    load_keyed_vectors,
    resolve_vectors,
)

VECTORS = {
    "good": [0.5, -1.25, 2.0],
    "bad": [-0.5, 1.0, -2.0],
    "film": [1.0, 1.0, 1.0],
    "Apple": [9.0, 9.0, 9.0],
    "apple": [-9.0, -9.0, -9.0],
    "café": [0.25, 0.0, -0.75],
}


def text_lines(vectors=VECTORS) -> list[str]:
    return [f"{word} {' '.join(repr(v) for v in vector)}" for word, vector in vectors.items()]


def write_text(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def write_word2vec(path: Path, vectors=VECTORS) -> Path:
    dim = len(next(iter(vectors.values())))
    return write_text(path, [f"{len(vectors)} {dim}", *text_lines(vectors)])


def write_glove(path: Path, vectors=VECTORS) -> Path:
    return write_text(path, text_lines(vectors))


def write_binary(path: Path, vectors=VECTORS) -> Path:
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=3)
    keyed.add_vectors(list(vectors), np.array(list(vectors.values()), dtype=np.float32))
    keyed.save_word2vec_format(str(path), binary=True)
    return path


WRITERS = {"word2vec": write_word2vec, "glove": write_glove, "word2vec_binary": write_binary}


# --- format detection and resolution -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("v.w2v.txt", "word2vec"),
        ("v.w2v.txt.gz", "word2vec"),
        ("v.vec", "word2vec"),
        ("glove.txt", "glove"),
        ("glove.txt.gz", "glove"),
        ("v.bin", "word2vec_binary"),
        ("V.BIN", "word2vec_binary"),
    ],
)
def test_format_is_guessed_from_name_and_first_line(tmp_path, name, fmt):
    writer = {"word2vec": write_word2vec, "glove": write_glove}.get(fmt)
    path = writer(tmp_path / name) if writer else write_binary(tmp_path / name)
    assert _guess_format(path) == fmt
    assert resolve_vectors(str(path)) == (path, fmt)


def test_gzipped_binary_is_detected_from_the_name(tmp_path):
    raw = write_binary(tmp_path / "v.bin")
    packed = tmp_path / "v.bin.gz"
    packed.write_bytes(gzip.compress(raw.read_bytes()))
    assert _guess_format(packed) == "word2vec_binary"


def test_glove_file_whose_first_word_is_a_number_is_still_glove(tmp_path):
    path = write_glove(tmp_path / "g.txt", {"2": [1.0, 2.0, 3.0], "x": [0.0, 0.0, 1.0]})
    assert _guess_format(path) == "glove"


def test_explicit_format_is_used_as_given(tmp_path):
    path = write_word2vec(tmp_path / "v.bin.txt")
    assert resolve_vectors(str(path), "fasttext") == (path, "fasttext")


def test_unknown_format_is_a_config_error(tmp_path):
    with pytest.raises(
        ConfigError, match=r"vectors_format \('npy'\) must be one of auto, word2vec"
    ):
        resolve_vectors(str(write_glove(tmp_path / "g.txt")), "npy")


def test_missing_vectors_file_lists_the_known_names(tmp_path):
    with pytest.raises(
        DataError,
        match=r"no such vectors file: .*nope\.txt \(known vector names: glove\.6B\.50d, "
        r"glove\.6B\.100d, glove\.6B\.200d, glove\.6B\.300d\)",
    ):
        resolve_vectors(str(tmp_path / "nope.txt"))


def test_named_vectors_are_read_from_the_mirror(data_env):
    named = NAMED_VECTORS["glove.6B.50d"]
    path = write_word2vec(data_env.mirror / named.mirror_path)
    assert resolve_vectors("glove.6B.50d") == (path, "word2vec")


def test_named_vectors_without_mirror_or_network_explain_both_ways(data_env, monkeypatch):
    import textseq.vectors

    def offline(remote):
        raise OSError("network is unreachable")

    monkeypatch.setattr(textseq.vectors, "fetch", offline)
    with pytest.raises(DataError) as error:
        resolve_vectors("glove.6B.50d")
    message = str(error.value)
    assert "network is unreachable" in message
    assert NAMED_VECTORS["glove.6B.50d"].remote.url in message
    assert "$TEXTSEQ_DATASETS" in message
    assert "glove_6B_50d_subset/glove.6B.50d.subset.w2v.txt.gz" in message


def test_larger_glove_is_downloaded_even_beside_a_mirror(data_env, monkeypatch):
    """Only the 50-d vectors are mirrored; 300-d ones come from their md5-pinned release."""
    import textseq.vectors

    write_word2vec(data_env.mirror / NAMED_VECTORS["glove.6B.50d"].mirror_path)
    fetched = []

    def offline(remote):
        fetched.append(remote)
        raise OSError("network is unreachable")

    monkeypatch.setattr(textseq.vectors, "fetch", offline)
    with pytest.raises(DataError) as error:
        resolve_vectors("glove.6B.300d")
    [remote] = fetched
    assert remote.url.endswith("glove-wiki-gigaword-300/glove-wiki-gigaword-300.gz")
    assert remote.md5 == "29e9329ac2241937d55b852e8284e89b"
    assert "set model.embedding.vectors to its path" in str(error.value)


# --- loading -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["word2vec", "glove", "word2vec_binary", "fasttext"])
@pytest.mark.parametrize("gz", [False, True])
def test_every_format_loads_the_exact_vectors(tmp_path, fmt, gz):
    writer = WRITERS.get(fmt, write_word2vec)  # fastText .vec is word2vec text
    path = writer(tmp_path / ("v.bin" if fmt == "word2vec_binary" else "v.txt"))
    if gz:
        packed = path.with_name(path.name + ".gz")
        packed.write_bytes(gzip.compress(path.read_bytes()))
        path = packed
    keyed = load_keyed_vectors(path, fmt)
    assert keyed.vector_size == 3
    assert list(keyed.key_to_index) == list(VECTORS)
    for word, vector in VECTORS.items():
        np.testing.assert_array_equal(keyed[word], np.array(vector, dtype=np.float32))


@pytest.mark.parametrize(
    ("lines", "fmt", "match"),
    [
        (["2 3", "good 1 0 0", "bad 0 1"], "word2vec", "could not broadcast"),  # short row
        (["2 3", "good 1 0 0 5", "bad 0 1 0"], "word2vec", "could not broadcast"),  # long row
        (["good 1 0 0", "bad 0 1"], "glove", "could not broadcast"),
        (["3 3", "good 1 0 0", "bad 0 1 0"], "word2vec", "unexpected end of input"),
        (["2 3", "good a b c", "bad 0 1 0"], "word2vec", "could not convert string to float"),
        (["good 1 0 0"], "word2vec_binary", "invalid literal"),
    ],
    ids=["short-row", "long-row", "glove-dims", "count-too-high", "not-numbers", "text-as-binary"],
)
def test_damaged_vector_files_are_data_errors_naming_the_file(tmp_path, lines, fmt, match):
    path = write_text(tmp_path / "v.txt", lines)
    with pytest.raises(DataError, match=rf"cannot read word vectors as {fmt}: .*{match}") as error:
        load_keyed_vectors(path, fmt)
    assert error.value.path == str(path)


def test_truncated_binary_and_empty_files_are_data_errors(tmp_path):
    binary = write_binary(tmp_path / "v.bin")
    binary.write_bytes(binary.read_bytes()[:-5])
    with pytest.raises(DataError, match="unexpected end of input"):
        load_keyed_vectors(binary, "word2vec_binary")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="cannot read word vectors as glove") as error:
        load_keyed_vectors(empty, _guess_format(empty))
    assert error.value.path == str(empty)


# --- the parsed-vectors cache --------------------------------------------------------------


def _assert_same_vectors(keyed, vectors=VECTORS):
    assert list(keyed.key_to_index) == list(vectors)
    for word, vector in vectors.items():
        np.testing.assert_array_equal(keyed[word], np.array(vector, dtype=np.float32))


def _parsing_forbidden(monkeypatch):
    def parse(*args):
        raise AssertionError("parsed the text file again instead of reading the cache")

    monkeypatch.setattr("textseq.vectors.load_keyed_vectors", parse)


def test_vectors_are_parsed_once_then_read_from_the_cache(data_env, tmp_path, monkeypatch):
    path = write_word2vec(tmp_path / "v.txt.gz")
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))
    entries = list((data_env.cache / "vectors").iterdir())
    assert [entry.suffix for entry in entries] == [".npz"]  # one whole file, no .partial left
    _parsing_forbidden(monkeypatch)
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))


def test_a_changed_file_is_parsed_afresh(data_env, tmp_path):
    path = write_word2vec(tmp_path / "v.txt")
    cached_keyed_vectors(path, "word2vec")
    changed = {**VECTORS, "good": [7.0, 7.0, 7.0], "new": [0.0, 1.0, 2.0]}
    write_word2vec(path, changed)
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"), changed)
    assert len(list((data_env.cache / "vectors").iterdir())) == 2


def test_a_damaged_cache_entry_is_parsed_again(data_env, tmp_path, caplog):
    path = write_word2vec(tmp_path / "v.txt")
    cached_keyed_vectors(path, "word2vec")
    (entry,) = (data_env.cache / "vectors").iterdir()
    entry.write_bytes(b"not a pickle")
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))
    assert "ignoring the unreadable vectors cache" in caplog.text
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))  # rewritten whole


def test_a_planted_pickle_in_the_cache_is_refused_and_never_run(data_env, tmp_path, caplog):
    """The cache may be shared: an entry replaced by a pickle (a bare one, or an object array
    inside the archive) is not unpickled; it is ignored and parsed afresh."""
    import pickle

    import numpy as np

    path = write_word2vec(tmp_path / "v.txt")
    cached_keyed_vectors(path, "word2vec")
    (entry,) = (data_env.cache / "vectors").iterdir()
    ran = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    for planted in ("bare", "inside"):
        if planted == "bare":
            entry.write_bytes(pickle.dumps(Planted()))
        else:
            with open(entry, "wb") as file:
                np.savez(file, vectors=np.array([Planted()], dtype=object), words=np.zeros(1))
        _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))
        assert not ran.exists(), planted
    assert caplog.text.count("ignoring the unreadable vectors cache") == 2


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch, caplog):
    not_a_directory = tmp_path / "cache"
    not_a_directory.write_text("a file where the cache directory would be")
    monkeypatch.setenv("TEXTSEQ_CACHE", str(not_a_directory))
    path = write_word2vec(tmp_path / "v.txt")
    _assert_same_vectors(cached_keyed_vectors(path, "word2vec"))
    assert "cannot cache the parsed vectors" in caplog.text


# --- the embedding matrix ------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    return load_keyed_vectors(write_word2vec(tmp_path_factory.mktemp("v") / "v.txt"), "word2vec")


def row(matrix: torch.Tensor, vocab: Vocabulary, token: str) -> list[float]:
    return matrix[vocab.index(token)].tolist()


def test_found_rows_equal_the_vectors_with_lower_case_fallback(keyed):
    vocab = Vocabulary(["good", "BAD", "Film", "Apple", "APPLE", "café", "unseen"])
    matrix, coverage = embedding_matrix(vocab, keyed, unknown_init="zeros")
    assert matrix.shape == (9, 3)
    assert matrix.dtype == torch.float32
    assert row(matrix, vocab, "good") == VECTORS["good"]
    assert row(matrix, vocab, "BAD") == VECTORS["bad"]  # BAD -> bad
    assert row(matrix, vocab, "Film") == VECTORS["film"]
    assert row(matrix, vocab, "Apple") == VECTORS["Apple"]  # as written first
    assert row(matrix, vocab, "APPLE") == VECTORS["apple"]
    assert row(matrix, vocab, "café") == VECTORS["café"]
    assert row(matrix, vocab, "unseen") == [0.0, 0.0, 0.0]
    assert row(matrix, vocab, PAD) == [0.0, 0.0, 0.0]
    assert row(matrix, vocab, UNK) == [0.0, 0.0, 0.0]
    assert coverage == Coverage(types_found=6, types=7, tokens_found=0, tokens=0)


def test_coverage_counts_types_and_training_tokens_exactly(keyed):
    token_lists = [["good", "good", "film", "zzz"], ["good", "qqq", "qqq", "Bad"]]
    vocab = Vocabulary.build(token_lists)  # good 3, qqq 2, Bad 1, film 1, zzz 1
    _, coverage = embedding_matrix(vocab, keyed)
    assert coverage == Coverage(types_found=3, types=5, tokens_found=5, tokens=8)
    assert str(coverage) == "3 of 5 vocabulary words (60.0%), 62.5% of training tokens"
    assert str(Coverage(1, 4, 0, 0)) == "1 of 4 vocabulary words (25.0%)"


def test_specials_are_never_looked_up(keyed):
    """A vocabulary whose special happens to be a vector word still counts it as special."""
    vocab = Vocabulary(["film"], specials=(PAD, UNK, "good"))
    matrix, coverage = embedding_matrix(vocab, keyed, unknown_init="zeros")
    assert row(matrix, vocab, "good") == [0.0, 0.0, 0.0]
    assert coverage.types == 1
    assert coverage.types_found == 1


def test_pad_row_is_zero_for_every_init(keyed):
    vocab = Vocabulary(["good", "x", "y"], specials=(UNK, PAD))  # pad not at 0
    for init in ("normal", "uniform", "zeros"):
        matrix, _ = embedding_matrix(vocab, keyed, unknown_init=init)
        assert vocab.pad_index == 1
        assert matrix[1].tolist() == [0.0, 0.0, 0.0]


def _many_vectors(tmp_path, n=400, seed=0):
    """n random vectors with per-dimension means (5, -3, 0) and standard deviations
    (0.5, 2, 1)."""
    rng = np.random.default_rng(seed)
    values = rng.normal([5.0, -3.0, 0.0], [0.5, 2.0, 1.0], size=(n, 3)).astype(np.float32)
    vectors = {f"w{i}": [float(v) for v in values[i]] for i in range(n)}
    return load_keyed_vectors(write_word2vec(tmp_path / "many.txt", vectors), "word2vec"), values


def test_normal_init_draws_unknowns_like_the_found_vectors(tmp_path):
    keyed, values = _many_vectors(tmp_path)
    missing = [f"unk{i}" for i in range(4000)]
    vocab = Vocabulary([*keyed.key_to_index, *missing])
    matrix, _ = embedding_matrix(vocab, keyed, unknown_init="normal", seed=1)
    drawn = matrix[[vocab.index(t) for t in missing]].numpy()
    np.testing.assert_allclose(drawn.mean(axis=0), values.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(drawn.std(axis=0), values.std(axis=0), rtol=0.05)
    assert matrix[vocab.unk_index].abs().sum() > 0  # <unk> is initialised like any unknown


def test_uniform_init_stays_within_the_bound_and_fills_it(tmp_path):
    keyed, values = _many_vectors(tmp_path)
    missing = [f"unk{i}" for i in range(4000)]
    vocab = Vocabulary([*keyed.key_to_index, *missing])
    matrix, _ = embedding_matrix(vocab, keyed, unknown_init="uniform", seed=1)
    drawn = matrix[[vocab.index(t) for t in missing]].numpy()
    bound = float(values.std(axis=0).mean()) * math.sqrt(3)
    assert np.abs(drawn).max() <= bound + 1e-5
    assert np.abs(drawn).max() > 0.95 * bound
    np.testing.assert_allclose(drawn.mean(), 0.0, atol=0.05)


def test_random_inits_depend_only_on_the_seed_and_leave_found_rows_alone(keyed):
    vocab = Vocabulary(["good", "bad", "x", "y"])
    for init in ("normal", "uniform"):
        first, _ = embedding_matrix(vocab, keyed, unknown_init=init, seed=3)
        again, _ = embedding_matrix(vocab, keyed, unknown_init=init, seed=3)
        other, _ = embedding_matrix(vocab, keyed, unknown_init=init, seed=4)
        assert torch.equal(first, again)
        assert not torch.equal(first, other)
        assert row(first, vocab, "good") == VECTORS["good"]
        assert row(other, vocab, "good") == VECTORS["good"]


def test_nothing_found_falls_back_to_a_small_normal(keyed):
    vocab = Vocabulary([f"unk{i}" for i in range(3000)])
    matrix, coverage = embedding_matrix(vocab, keyed, unknown_init="normal", seed=0)
    assert coverage.types_found == 0
    rows = matrix[2:].numpy()
    np.testing.assert_allclose(rows.mean(), 0.0, atol=0.01)
    np.testing.assert_allclose(rows.std(), 0.1, rtol=0.05)


def test_unknown_init_must_be_a_known_choice(keyed):
    with pytest.raises(
        ConfigError, match=r"unknown_init \('ones'\) must be one of normal, uniform, zeros"
    ):
        embedding_matrix(Vocabulary(["a"]), keyed, unknown_init="ones")


# --- the real GloVe subset -----------------------------------------------------------------


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_real_glove_subset(real_data_env, tmp_path):
    """The named vectors resolve to the mirror; a 5,000-word head of the file (rewritten with
    its own header, to keep the test fast) loads with known values."""
    path, fmt = resolve_vectors("glove.6B.50d")
    assert path == real_data_env.mirror / NAMED_VECTORS["glove.6B.50d"].mirror_path
    assert fmt == "word2vec" == _guess_format(path)
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        assert stream.readline().split() == ["91399", "50"]
        head = [next(stream).rstrip("\n") for _ in range(5000)]
    small = write_text(tmp_path / "head.w2v.txt.gz", ["5000 50", *head])
    keyed = load_keyed_vectors(*resolve_vectors(str(small)))
    assert keyed.vector_size == 50
    np.testing.assert_allclose(keyed["the"][:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527])
    assert _cosine(keyed["good"], keyed["bad"]) == pytest.approx(0.796, abs=1e-3)

    vocab = Vocabulary.build([["Good", "bad", "bad", "qwertyuiop"]])
    matrix, coverage = embedding_matrix(vocab, keyed, unknown_init="zeros")
    assert torch.equal(matrix[vocab.index("Good")], torch.tensor(keyed["good"]))
    assert coverage == Coverage(types_found=2, types=3, tokens_found=3, tokens=4)


def test_a_resumed_run_starts_from_its_checkpoint_not_from_the_configured_vectors():
    # The vectors named here do not exist: a resumed run must not even look for them.
    embedding = load_config(
        {"task": "classify"}, ["model.embedding.vectors=/nonexistent/vectors.txt"]
    ).model.embedding
    assert configured_vectors(embedding, checkpoint="last.ckpt") is None
    with pytest.raises((ConfigError, DataError)):
        configured_vectors(embedding)
