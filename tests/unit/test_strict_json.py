"""Strict reading of request bodies (textseq.strict_json): every hostile body a known status."""

import pytest

from textseq.strict_json import BadBody, check_content_type, nesting_depth, parse_body


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b'{"texts": ["a \\ud800 b"]}', 422, "body.texts[0] holds a lone surrogate (U+D800)"),
        (b'{"texts": ["\\udfff"]}', 422, "U+DFFF"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nests deeper than 16"),
        (b'{"a": {"b": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}', 400, "nests deeper than 16"),
        (b'{"texts": ["a"], "texts": ["b"]}', 400, "'texts' is given twice"),
        (b'{"n": 1' + b"0" * 5000 + b"}", 400, "a number of 5001 characters"),
        (b'{"n": 1e999}', 400, "out of range"),
        (b'{"n": -Infinity}', 400, "-Infinity is not JSON"),
        (b"[NaN]", 400, "NaN is not JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b'{"texts": [', 400, "not valid JSON"),
        (b"   ", 400, "needs a JSON body"),
    ],
)
def test_hostile_bodies_raise_bad_body_with_their_status(raw, status, says):
    with pytest.raises(BadBody) as bad:
        parse_body(raw, "application/json")
    assert bad.value.status == status
    assert says in str(bad.value)


def test_well_formed_bodies_parse_as_json_does():
    raw = b'{"texts": ["a [b] {c}", "\\u00e9\\ud83d\\ude00"], "beam_size": 4, "x": 0.5}'
    assert parse_body(raw, "application/json; charset=utf-8") == {
        "texts": ["a [b] {c}", "é😀"],  # a surrogate pair is one character, not lone
        "beam_size": 4,
        "x": 0.5,
    }


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth(b'{"t": ["[[[[[[[[[[[[[[[[[[[[ \\" [[[["]}') == 2
    assert nesting_depth(b"[" * 1000 + b"]" * 1000) == 1000
    assert nesting_depth(b"[" * 1000 + b"]" * 1000, stop=16) == 17  # the scan ends early
    assert parse_body(b'{"t": ["' + b"[" * 100 + b'"]}') == {"t": ["[" * 100]}


@pytest.mark.parametrize(
    ("content_type", "refused"),
    [
        (None, False),
        ("application/json", False),
        ("Application/JSON; charset=utf-8", False),
        ("application/problem+json", False),
        ("text/plain", True),
        ("application/x-www-form-urlencoded", True),
        ("multipart/form-data; boundary=x", True),
    ],
)
def test_only_json_content_types_are_read(content_type, refused):
    if refused:
        with pytest.raises(BadBody) as bad:
            check_content_type(content_type)
        assert bad.value.status == 415
    else:
        check_content_type(content_type)
