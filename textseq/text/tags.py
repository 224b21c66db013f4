"""Tag schemes for sequence labelling: BIO (IOB2), IOBES, and plain tags (POS).

    BIO    B-X begins an entity of type X, I-X continues it, O is outside any entity.
    IOBES  as BIO, plus S-X for a one-token entity and E-X for the last token of a longer one
           (Ratinov and Roth 2009, "Design Challenges and Misconceptions in NER": IOBES
           (their BILOU) makes the end of an entity explicit).
    plain  tags are labels of their own (part of speech), with no spans and no constraints.

A tag sequence is valid when every entity is opened before it is continued: in BIO, I-X may
only follow B-X or I-X; in IOBES, I-X and E-X only follow B-X or I-X, and B-X and I-X must be
followed by I-X or E-X. `allowed_transitions` turns these rules into the matrices a CRF uses
to make invalid sequences impossible.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

SCHEMES = ("bio", "iobes", "plain")


class Span(NamedTuple):
    """An entity: its type and token positions [start, end) (end exclusive)."""

    type: str
    start: int
    end: int


def _split(tag: str) -> tuple[str, str]:
    """("B", "PER") for "B-PER", ("O", "") for "O"."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S") or not kind:
        raise ValueError(f"tag {tag!r} is neither O nor PREFIX-TYPE with PREFIX in B, I, E, S")
    return prefix, kind


def bio_to_iobes(tags: Sequence[str]) -> list[str]:
    """BIO tags as IOBES: a B-X or I-X not followed by I-X ends its entity (E-X, or S-X when
    it is also the first). A lone I-X (no B-X before it) starts an entity, as conlleval reads
    it."""
    spans = bio_spans(tags)
    result = ["O"] * len(tags)
    for kind, start, end in spans:
        if end - start == 1:
            result[start] = f"S-{kind}"
            continue
        result[start] = f"B-{kind}"
        for position in range(start + 1, end - 1):
            result[position] = f"I-{kind}"
        result[end - 1] = f"E-{kind}"
    return result


def iobes_to_bio(tags: Sequence[str]) -> list[str]:
    """IOBES tags as BIO: S-X becomes B-X, E-X becomes I-X."""
    result = []
    for tag in tags:
        prefix, kind = _split(tag)
        if prefix == "O":
            result.append("O")
        elif prefix in ("B", "S"):
            result.append(f"B-{kind}")
        else:
            result.append(f"I-{kind}")
    return result


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """The entities of a BIO sequence. An I-X after O or after another type starts a new
    entity (the lenient reading of conlleval and seqeval's default mode)."""
    spans: list[Span] = []
    kind, start = None, 0
    for position, tag in enumerate([*tags, "O"]):
        prefix, tag_kind = _split(tag)
        continues = prefix == "I" and tag_kind == kind
        if kind is not None and not continues:
            spans.append(Span(kind, start, position))
            kind = None
        if prefix in ("B", "S") or (prefix in ("I", "E") and not continues):
            kind, start = tag_kind, position
    return spans


def normalise_bio(tags: Sequence[str]) -> list[str]:
    """BIO with every entity opened by B-X: IOB1 (where I-X starts an entity and B-X only
    separates two adjacent entities of one type) and lenient BIO become strict BIO (IOB2)."""
    result = ["O"] * len(tags)
    for kind, start, end in bio_spans(tags):
        result[start] = f"B-{kind}"
        for position in range(start + 1, end):
            result[position] = f"I-{kind}"
    return result


def spans_of(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities of `tags` written in `scheme` (none for plain tags)."""
    if scheme == "plain":
        return []
    if scheme == "iobes":
        tags = iobes_to_bio(tags)
    elif scheme != "bio":
        raise ValueError(f"scheme ({scheme!r}) must be one of {', '.join(SCHEMES)}")
    return bio_spans(tags)


def convert(tags: Sequence[str], *, source: str, target: str) -> list[str]:
    """`tags` from one scheme to another (plain tags only to plain)."""
    if source == target:
        return list(tags)
    if (source, target) == ("bio", "iobes"):
        return bio_to_iobes(tags)
    if (source, target) == ("iobes", "bio"):
        return iobes_to_bio(tags)
    raise ValueError(f"cannot convert tags from {source!r} to {target!r}")


def scheme_tags(entity_types: Sequence[str], scheme: str) -> list[str]:
    """Every tag of `scheme` over `entity_types`: O first, then per type B, I (E, S)."""
    prefixes = {"bio": ("B", "I"), "iobes": ("B", "I", "E", "S")}[scheme]
    return ["O"] + [f"{p}-{kind}" for kind in sorted(entity_types) for p in prefixes]


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether `tags` obey the rules of `scheme` (always, for plain tags)."""
    if scheme == "plain" or not tags:
        return True
    start, pairs, end = allowed_transitions(sorted(set(tags)), scheme)
    index = {tag: i for i, tag in enumerate(sorted(set(tags)))}
    ids = [index[tag] for tag in tags]
    return start[ids[0]] and end[ids[-1]] and all(pairs[a][b] for a, b in itertools.pairwise(ids))


def allowed_transitions(
    tags: Sequence[str], scheme: str
) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """(start, pairs, end): whether a sequence may start with tag i, whether tag j may follow
    tag i, whether a sequence may end with tag i. Every transition is allowed for plain tags.

    BIO: I-X may only follow B-X or I-X, so it can neither start a sequence nor follow O or
    another type. IOBES additionally: after B-X or I-X only I-X or E-X; a sequence cannot end
    inside an entity (on B-X or I-X).
    """
    size = len(tags)
    if scheme == "plain":
        return [True] * size, [[True] * size for _ in range(size)], [True] * size
    if scheme not in ("bio", "iobes"):
        raise ValueError(f"scheme ({scheme!r}) must be one of {', '.join(SCHEMES)}")
    parts = [_split(tag) for tag in tags]

    def may_follow(previous: tuple[str, str] | None, current: tuple[str, str]) -> bool:
        prefix, kind = current
        open_kind = None  # the entity still open after `previous`, if any
        if previous is not None and previous[0] in ("B", "I"):
            open_kind = previous[1]
        if scheme == "bio":
            return prefix != "I" or open_kind == kind
        if open_kind is not None:  # IOBES: an open entity must be continued or closed
            return prefix in ("I", "E") and kind == open_kind
        return prefix in ("O", "B", "S")

    start = [may_follow(None, part) for part in parts]
    pairs = [[may_follow(a, b) for b in parts] for a in parts]
    end = [scheme == "bio" or part[0] in ("O", "E", "S") for part in parts]
    return start, pairs, end
