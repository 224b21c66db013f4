"""Input caps (textseq.limits), the one home the server, the CLI and the Python API share."""

import pytest

from textseq.errors import DataError
from textseq.limits import (
    DEFAULT_LIMITS,
    BadCharacter,
    InputLimits,
    InputTooLarge,
    apply_limits,
    control_character,
    limits_for,
    model_limits,
)


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
    limits = InputLimits(max_tokens=2, over_tokens="refuse")
    with pytest.raises(InputTooLarge, match="text 1 has 3 tokens; the limit is 2"):
        apply_limits(["a b c"], limits, count_tokens=lambda t: len(t.split()))
    truncate = InputLimits(max_tokens=2)  # the default for tokens: read the first 2, warned
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


@pytest.mark.parametrize(
    "text, at, code",
    [("a\x00b", 2, "0000"), ("\x1bx", 1, "001B"), ("ok\x7f", 3, "007F"), ("é\x08", 2, "0008")],
)
def test_control_characters_are_refused_naming_the_text_the_character_and_where(text, at, code):
    for over in ("refuse", "truncate"):  # never cut silently, whatever --over-limit says
        with pytest.raises(BadCharacter, match=f"text 2 holds the control character U\\+{code} "):
            apply_limits(["fine", text], InputLimits(over=over))
    with pytest.raises(BadCharacter, match=f"at character {at};"):
        apply_limits([text], DEFAULT_LIMITS)
    assert issubclass(BadCharacter, DataError)  # exit 3 on the CLI, 422 from the server


def test_whitespace_controls_and_the_c1_range_are_read_as_they_are():
    texts = ["a\tb\nc\rd\x0be\x0cf", "x\x1cy\x1fz", "it\x92s", "emoji \U0001f600", "日本"]
    assert apply_limits(texts, DEFAULT_LIMITS).texts == texts
    assert control_character("a" * 10_000) is None
    assert control_character("a" * 10_000 + "\x00") == (10_001, "\x00")


def test_model_limits_add_the_models_own_token_cap():
    class Capped:
        max_tokens = 3

        def count_tokens(self, text):
            return len(text.split())

    limits, count = model_limits(Capped(), InputLimits(max_chars=50, over_tokens="refuse"))
    assert (limits.max_chars, limits.max_tokens) == (50, 3)
    with pytest.raises(InputTooLarge, match="text 1 has 4 tokens; the limit is 3"):
        apply_limits(["a b c d"], limits, count_tokens=count)
    assert model_limits(object(), DEFAULT_LIMITS) == (DEFAULT_LIMITS, None)  # no cap


def test_one_over_limit_choice_sets_both_caps_and_none_keeps_the_defaults():
    assert limits_for(None, max_chars=5) == InputLimits(max_chars=5)
    assert (InputLimits().over, InputLimits().over_tokens) == ("refuse", "truncate")
    for over in ("refuse", "truncate"):
        chosen = limits_for(over, max_chars=5, max_texts=2)
        assert (chosen.over, chosen.over_tokens, chosen.max_texts) == (over, over, 2)
    with pytest.raises(ValueError, match="over_tokens"):
        InputLimits(over_tokens="drop")
