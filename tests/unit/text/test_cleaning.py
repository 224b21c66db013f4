"""TextCleaner: markup, URLs, entities, case and whitespace, each step switchable."""

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from textseq.text.cleaning import TextCleaner


def test_imdb_line_breaks_become_spaces_so_words_do_not_fuse():
    assert TextCleaner()("Great film.<br /><br />The end") == "great film. the end"
    assert TextCleaner()("one<br/>two<BR>three< br / >four") == "one two three four"


def test_other_tags_are_removed_but_comparisons_are_kept():
    assert TextCleaner()('<p class="x">Hi</p> <i>there</i>') == "hi there"
    # `<` followed by a digit or a space is not a tag.
    assert TextCleaner()("3 < 5 and 5 > 3") == "3 < 5 and 5 > 3"


def test_entities_are_unescaped():
    assert TextCleaner()("Tom &amp; Jerry &quot;live&quot; &lt;3 &#39;n&#x27;") == (
        "tom & jerry \"live\" <3 'n'"
    )


def test_escaped_tags_are_unescaped_after_tag_removal_so_they_survive_as_text():
    assert TextCleaner()("&lt;b&gt;bold&lt;/b&gt;") == "<b>bold</b>"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("see http://example.com/a?b=1 now", "see now"),
        ("see https://EXAMPLE.com/path#x, now", "see now"),
        ("visit www.imdb.com/title/tt01 today", "visit today"),
        ('<a href="http://x.org">link</a>', "link"),
        ("HTTP://LOUD.ORG ok", "ok"),
    ],
)
def test_urls_are_removed(raw, clean):
    assert TextCleaner()(raw) == clean


def test_lowercases_and_collapses_whitespace():
    assert TextCleaner()("  Hello\t\tWORLD \n\n Again\r\n ") == "hello world again"


def test_control_characters_become_spaces():
    assert TextCleaner()("a\x00b\x07c\x1bd\x7fe") == "a b c d e"


def test_each_step_can_be_switched_off():
    raw = "Hi &amp; <br /> http://x.com  THERE"
    assert TextCleaner(lowercase=False)(raw) == "Hi & THERE"
    assert TextCleaner(strip_html=False)(raw) == "hi &amp; <br /> there"
    assert TextCleaner(remove_urls=False)(raw) == "hi & http://x.com there"
    assert TextCleaner(lowercase=False, strip_html=False, remove_urls=False)(raw) == (
        "Hi &amp; <br /> http://x.com THERE"
    )


def test_cleaner_is_hashable_and_comparable():
    """A frozen dataclass: equal settings are equal cleaners."""
    assert TextCleaner() == TextCleaner(lowercase=True, strip_html=True, remove_urls=True)
    assert TextCleaner() != TextCleaner(lowercase=False)
    assert len({TextCleaner(), TextCleaner()}) == 1


@settings(max_examples=100, deadline=None)
@given(st.text())
@example("")
@example("\x00\x01\x1f\x7f\u2028\u00a0 \t\n")
@example("Word " * 20_000)
def test_output_has_no_outer_repeated_or_odd_whitespace(text):
    clean = TextCleaner()(text)
    assert clean == clean.strip()
    if clean:
        assert clean.split() == clean.split(" ")  # words separated by single spaces only
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", clean)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_cleaning_twice_changes_nothing_unless_entities_or_tags_were_decoded(text):
    """A second pass can only differ by decoding markup the first pass produced (`&amp;lt;`)."""
    clean = TextCleaner()(text)
    if "&" not in clean and "<" not in clean:
        assert TextCleaner()(clean) == clean


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_with_every_step_off_only_whitespace_and_controls_change(text):
    clean = TextCleaner(lowercase=False, strip_html=False, remove_urls=False)(text)
    expected = " ".join(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text).split())
    assert clean == expected


TWEET = "Loved it!!! 😍👍🏽 #BestMovie ever, 10/10 — don't miss it. 🇫🇷"


def test_hashtags_emoji_punctuation_and_digits_are_each_optional():
    assert TextCleaner()(TWEET) == "loved it!!! 😍👍🏽 #bestmovie ever, 10/10 — don't miss it. 🇫🇷"
    assert TextCleaner(hashtags="word")(TWEET).split()[3] == "bestmovie"
    assert "bestmovie" not in TextCleaner(hashtags="drop")(TWEET)
    assert TextCleaner(emoji="drop")(TWEET) == "loved it!!! #bestmovie ever, 10/10 — don't miss it."
    assert TextCleaner(remove_punctuation=True)(TWEET) == (
        "loved it 😍👍🏽 bestmovie ever 10 10 don't miss it 🇫🇷"
    )
    assert TextCleaner(remove_digits=True)(TWEET) == (
        "loved it!!! 😍👍🏽 #bestmovie ever, / — don't miss it. 🇫🇷"
    )
    everything = TextCleaner(hashtags="drop", emoji="drop", remove_punctuation=True,
                             remove_digits=True)  # fmt: skip
    assert everything(TWEET) == "loved it ever don't miss it"
    with pytest.raises(ValueError, match="hashtags"):
        TextCleaner(hashtags="tags")
