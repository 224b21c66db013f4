"""Tag schemes: BIO <-> IOBES conversion, entity spans, and the allowed transitions a CRF is
constrained with."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textseq.text.tags import (
    Span,
    allowed_transitions,
    bio_spans,
    bio_to_iobes,
    convert,
    iobes_to_bio,
    is_valid,
    normalise_bio,
    scheme_tags,
    spans_of,
)


def test_known_conversions():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG"]
    iobes = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG"]
    assert bio_to_iobes(bio) == iobes
    assert iobes_to_bio(iobes) == bio


def test_spans_are_end_exclusive_and_follow_conlleval():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-ORG", "B-ORG", "I-ORG"]
    assert bio_spans(tags) == [
        Span("PER", 0, 2),
        Span("LOC", 3, 4),  # a lone I- starts an entity
        Span("ORG", 4, 5),  # a change of type starts another
        Span("ORG", 5, 7),
    ]
    assert spans_of(["S-PER", "B-LOC", "E-LOC"], "iobes") == [Span("PER", 0, 1), Span("LOC", 1, 3)]
    assert spans_of(["NN", "VB"], "plain") == []


def test_iob1_becomes_strict_bio():
    assert normalise_bio(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
    ]


strict_bio = st.lists(
    st.tuples(st.sampled_from(["PER", "LOC", None]), st.integers(1, 3)), max_size=6
).map(
    lambda parts: [
        tag
        for kind, length in parts
        for tag in (
            ["O"] * length if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
        )
    ]
)


@given(strict_bio)
def test_bio_iobes_round_trip(tags):
    iobes = convert(tags, source="bio", target="iobes")
    assert is_valid(iobes, "iobes")
    assert convert(iobes, source="iobes", target="bio") == tags
    assert spans_of(iobes, "iobes") == spans_of(tags, "bio")


@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=8))
def test_any_bio_sequence_maps_to_a_valid_iobes_one_with_the_same_spans(tags):
    iobes = bio_to_iobes(tags)
    assert is_valid(iobes, "iobes")
    assert spans_of(iobes, "iobes") == bio_spans(tags)
    assert is_valid(normalise_bio(tags), "bio")


def test_allowed_transitions_bio():
    tags = scheme_tags(["PER", "LOC"], "bio")
    assert tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    start, pairs, end = allowed_transitions(tags, "bio")
    index = {t: i for i, t in enumerate(tags)}
    assert start == [True, True, False, True, False]  # no sequence starts inside an entity
    assert not pairs[index["O"]][index["I-PER"]]
    assert not pairs[index["B-LOC"]][index["I-PER"]]
    assert pairs[index["B-PER"]][index["I-PER"]] and pairs[index["I-PER"]][index["I-PER"]]
    assert pairs[index["I-PER"]][index["B-PER"]] and pairs[index["I-PER"]][index["O"]]
    assert all(end)


def test_allowed_transitions_iobes():
    tags = scheme_tags(["PER"], "iobes")
    start, pairs, end = allowed_transitions(tags, "iobes")
    index = {t: i for i, t in enumerate(tags)}
    assert [tags[i] for i, ok in enumerate(start) if ok] == ["O", "B-PER", "S-PER"]
    assert [tags[i] for i, ok in enumerate(end) if ok] == ["O", "E-PER", "S-PER"]
    after_b = [tags[j] for j, ok in enumerate(pairs[index["B-PER"]]) if ok]
    assert after_b == ["I-PER", "E-PER"]
    after_e = [tags[j] for j, ok in enumerate(pairs[index["E-PER"]]) if ok]
    assert after_e == ["O", "B-PER", "S-PER"]


def test_plain_tags_allow_everything_and_bad_tags_are_errors():
    start, pairs, end = allowed_transitions(["NN", "VB"], "plain")
    assert all(start) and all(end) and all(all(row) for row in pairs)
    with pytest.raises(ValueError, match="neither O nor PREFIX-TYPE"):
        bio_to_iobes(["NN"])
    with pytest.raises(ValueError, match="cannot convert"):
        convert(["O"], source="bio", target="plain")
