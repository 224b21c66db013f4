"""Input caps (textseq.limits), the one home the server, the CLI and the Python API share."""

import pytest

from textseq.errors import DataError
from textseq.limits import DEFAULT_LIMITS, InputLimits, InputTooLarge, apply_limits


def test_within_the_caps_texts_pass_unchanged():
    checked = apply_limits(["abc", "de"], InputLimits(max_chars=3, max_texts=2))
    assert (checked.texts, checked.warnings) == (["abc", "de"], [])


def test_refuse_names_the_text_and_the_cap():
    with pytest.raises(InputTooLarge, match="text 2 has 4 characters; the limit is 3"):
        apply_limits(["abc", "defg"], InputLimits(max_chars=3))
    with pytest.raises(InputTooLarge, match="3 texts in one request; the limit is 2"):
        apply_limits(["a", "b", "c"], InputLimits(max_texts=2, over="truncate"))
    assert issubclass(InputTooLarge, DataError)  # exit 3 on the CLI


def test_truncate_cuts_characters_and_says_so():
    checked = apply_limits(["abcdef", "ab"], InputLimits(max_chars=4, over="truncate"))
    assert checked.texts == ["abcd", "ab"]
    assert checked.warnings == ["text 1 has 6 characters; the limit is 4: truncated to 4"]


def test_tokens_are_counted_by_the_callers_tokenizer():
    limits = InputLimits(max_tokens=2)
    with pytest.raises(InputTooLarge, match="text 1 has 3 tokens; the limit is 2"):
        apply_limits(["a b c"], limits, count_tokens=lambda t: len(t.split()))
    truncate = InputLimits(max_tokens=2, over="truncate")
    checked = apply_limits(["a b c"], truncate, count_tokens=lambda t: len(t.split()))
    assert checked.texts == ["a b c"]  # the model reads the first 2 tokens itself
    assert "reads the first 2" in checked.warnings[0]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="max_chars"):
        InputLimits(max_chars=0)
    with pytest.raises(ValueError, match="over"):
        InputLimits(over="drop")


def test_the_python_api_refuses_a_huge_text_before_tokenising_it():
    assert DEFAULT_LIMITS.max_chars == 100_000 and DEFAULT_LIMITS.over == "refuse"
    with pytest.raises(InputTooLarge, match="100000"):
        apply_limits(["x" * 100_001], DEFAULT_LIMITS)
