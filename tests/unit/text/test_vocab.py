"""Vocabulary: ordering (specials, frequency, ties), cut-offs, unknowns, JSON round trips."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textseq.text.vocab import EOS, PAD, SOS, UNK, Vocabulary

TOKEN_LISTS = [["b", "a", "c", "a"], ["c", "d", "a"], ["b", "e"]]
# counts: a 3, b 2, c 2, d 1, e 1


def test_specials_come_first_then_most_frequent_with_ties_alphabetical():
    vocab = Vocabulary.build(TOKEN_LISTS)
    assert vocab.itos == [PAD, UNK, "a", "b", "c", "d", "e"]
    assert vocab.stoi == {token: i for i, token in enumerate(vocab.itos)}
    assert vocab.pad_index == 0
    assert vocab.unk_index == 1
    assert vocab.frequencies == {"a": 3, "b": 2, "c": 2, "d": 1, "e": 1}


def test_order_does_not_depend_on_input_order():
    tokens = [token for tokens in TOKEN_LISTS for token in tokens]
    for seed in range(5):
        shuffled = tokens[:]
        random.Random(seed).shuffle(shuffled)
        assert Vocabulary.build([shuffled]).itos == Vocabulary.build(TOKEN_LISTS).itos


def test_min_freq_drops_rare_tokens():
    assert Vocabulary.build(TOKEN_LISTS, min_freq=2).itos == [PAD, UNK, "a", "b", "c"]
    assert Vocabulary.build(TOKEN_LISTS, min_freq=3).itos == [PAD, UNK, "a"]
    assert Vocabulary.build(TOKEN_LISTS, min_freq=4).itos == [PAD, UNK]


def test_max_size_counts_regular_tokens_only_and_keeps_the_most_frequent():
    vocab = Vocabulary.build(TOKEN_LISTS, max_size=2)
    assert vocab.itos == [PAD, UNK, "a", "b"]
    assert len(vocab) == 4
    assert Vocabulary.build(TOKEN_LISTS, max_size=100).itos[2:] == ["a", "b", "c", "d", "e"]


def test_max_size_and_min_freq_combine():
    assert Vocabulary.build(TOKEN_LISTS, min_freq=2, max_size=2).itos == [PAD, UNK, "a", "b"]


def test_specials_keep_the_given_order_and_are_not_counted_as_tokens():
    vocab = Vocabulary.build([["<eos>", "x", "x", "<pad>", "y"]], specials=(PAD, UNK, SOS, EOS))
    assert vocab.itos == [PAD, UNK, SOS, EOS, "x", "y"]
    assert vocab.frequencies == {"x": 2, "y": 1}


def test_unknown_tokens_map_to_unk():
    vocab = Vocabulary.build(TOKEN_LISTS)
    assert vocab.index("zzz") == vocab.unk_index == 1
    assert vocab.encode(["a", "zzz", "e"]) == [2, 1, 6]
    assert vocab.decode([2, 1, 6]) == ["a", UNK, "e"]
    assert "a" in vocab
    assert "zzz" not in vocab


def test_label_vocabulary_without_unk_raises_key_error_for_unknown_labels():
    labels = Vocabulary(["negative", "positive"], specials=())
    assert labels.itos == ["negative", "positive"]
    assert labels.unk_index is None
    assert labels.pad_index is None
    assert labels.encode(["positive", "negative"]) == [1, 0]
    with pytest.raises(KeyError, match="neutral"):
        labels.index("neutral")
    with pytest.raises(KeyError, match="neutral"):
        labels.encode(["positive", "neutral"])


def test_constructor_drops_duplicate_tokens_and_rejects_duplicate_specials():
    assert Vocabulary(["a", "b", "a", PAD]).itos == [PAD, UNK, "a", "b"]
    with pytest.raises(ValueError, match="duplicates"):
        Vocabulary(["a"], specials=(PAD, PAD))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_freq": 0}, "min_freq"),
        ({"max_size": 0}, "max_size"),
    ],
)
def test_build_rejects_bad_cut_offs(options, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.build(TOKEN_LISTS, **options)


def test_equality_compares_tokens_and_specials():
    assert Vocabulary(["a", "b"]) == Vocabulary(["a", "b"])
    assert Vocabulary(["a", "b"]) != Vocabulary(["b", "a"])
    # Same token order, but <unk> is a plain token on one side and a special on the other.
    assert Vocabulary([UNK, "a"], specials=(PAD,)).itos == Vocabulary(["a"]).itos
    assert Vocabulary([UNK, "a"], specials=(PAD,)) != Vocabulary(["a"])
    assert Vocabulary(["a"]) != ["<pad>", "<unk>", "a"]
    assert repr(Vocabulary(["a"])) == "Vocabulary(size=3, specials=['<pad>', '<unk>'])"


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.build([["héllo", "wörld", "日本", "héllo"]], specials=(PAD, UNK, EOS))
    path = tmp_path / "vocab.json"
    vocab.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "format": "textseq.vocabulary",
        "version": 1,
        "specials": [PAD, UNK, EOS],
        "tokens": ["héllo", "wörld", "日本"],
    }
    assert "héllo" in path.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes
    loaded = Vocabulary.load(path)
    assert loaded == vocab
    assert loaded.stoi == vocab.stoi
    assert loaded.unk_index == vocab.unk_index
    assert loaded.pad_index == vocab.pad_index


def test_loading_rejects_other_formats_and_newer_versions():
    with pytest.raises(ValueError, match="not a textseq vocabulary"):
        Vocabulary.from_dict({"format": "something", "tokens": [], "specials": []})
    newer = {**Vocabulary(["a"]).to_dict(), "version": 2}
    with pytest.raises(ValueError, match="version 2 is newer"):
        Vocabulary.from_dict(newer)


TOKENS = st.text(max_size=8)


@settings(max_examples=75, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=12), max_size=12), st.integers(1, 3))
def test_encode_decode_round_trip_for_in_vocabulary_tokens(token_lists, min_freq):
    vocab = Vocabulary.build(token_lists, min_freq=min_freq)
    for tokens in token_lists:
        ids = vocab.encode(tokens)
        assert all(0 <= i < len(vocab) for i in ids)
        expected = [t if t in vocab else UNK for t in tokens]
        assert vocab.decode(ids) == expected
    assert [vocab.index(token) for token in vocab.itos] == list(range(len(vocab)))
    assert len(set(vocab.itos)) == len(vocab.itos)


@settings(max_examples=75, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=12), max_size=12), st.none() | st.integers(1, 5))
def test_build_keeps_every_frequent_enough_token_within_max_size(token_lists, max_size):
    counts: dict[str, int] = {}
    for tokens in token_lists:
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    counts.pop(PAD, None)
    counts.pop(UNK, None)
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    vocab = Vocabulary.build(token_lists, max_size=max_size)
    assert vocab.itos == [PAD, UNK, *ranked[:max_size]]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(TOKENS, max_size=30),
    st.lists(st.text(min_size=1, max_size=5), max_size=3, unique=True),
)
def test_dict_round_trip_through_json_text(tokens, specials):
    vocab = Vocabulary(tokens, specials=specials)
    loaded = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict(), ensure_ascii=False)))
    assert loaded == vocab
    assert loaded.itos == vocab.itos


def test_extended_appends_missing_tokens_and_keeps_every_id():
    vocab = Vocabulary.build(TOKEN_LISTS, min_freq=2)
    extended = vocab.extended(["zz", "a", "yy", "zz"])
    assert extended.itos == [*vocab.itos, "zz", "yy"]
    assert extended.specials == vocab.specials
    assert extended.frequencies == vocab.frequencies
    assert vocab.itos == [PAD, UNK, "a", "b", "c"]  # the original is unchanged
