"""Tokenizers: known splits for basic_english, exact whitespace/character splits, BPE that
survives a save/load, and properties on arbitrary Unicode."""

import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from textseq.errors import ConfigError, ModelDirError
from textseq.text.tokenizers import (
    TOKENIZERS,
    BasicEnglishTokenizer,
    BPETokenizer,
    CharacterTokenizer,
    WhitespaceTokenizer,
    create_tokenizer,
    load_tokenizer,
)

# Unicode text with the awkward cases spelled out: empty, controls, odd spaces, long lines.
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
AWKWARD = ["", " ", "\x00\x1f\x7f", "\u2028a\u00a0b\u3000c\x85", "x" * 50_000, "ab " * 10_000]


def with_awkward_examples(test):
    for text in AWKWARD:
        test = example(text)(test)
    return test


# --- basic_english ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("it's", ["it", "'s"]),
        ("don't", ["do", "n't"]),
        ("can't", ["ca", "n't"]),
        ("won't", ["wo", "n't"]),
        ("Isn't it", ["Is", "n't", "it"]),
        (
            "I'm sure we're fine, they've said you'll and he'd",
            [
                "I",
                "'m",
                "sure",
                "we",
                "'re",
                "fine",
                ",",
                "they",
                "'ve",
                "said",
                "you",
                "'ll",
                "and",
                "he",
                "'d",
            ],
        ),
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("a well-made film.", ["a", "well-made", "film", "."]),
        ("3.14 and 10,000 fans", ["3.14", "and", "10,000", "fans"]),
        ("end.", ["end", "."]),
        ('"quoted" (parens)...', ['"', "quoted", '"', "(", "parens", ")", ".", ".", "."]),
        ("snake_case", ["snake_case"]),
        ("", []),
        ("   \t\n ", []),
    ],
)
def test_basic_english_known_splits(text, tokens):
    assert BasicEnglishTokenizer().tokenize(text) == tokens


@pytest.mark.parametrize("apostrophe", ["\u2019", "\u02bc", "\u2032", "`"])
def test_basic_english_reads_typographic_apostrophes_as_plain_ones(apostrophe):
    assert BasicEnglishTokenizer().tokenize(f"it{apostrophe}s don{apostrophe}t") == [
        "it",
        "'s",
        "do",
        "n't",
    ]


def test_basic_english_keeps_case_and_clitics_case_insensitively():
    assert BasicEnglishTokenizer().tokenize("DON'T IT'S") == ["DO", "N'T", "IT", "'S"]


def test_basic_english_leaves_unknown_apostrophe_suffixes_as_punctuation():
    assert BasicEnglishTokenizer().tokenize("rock'n roll 'tis") == [
        "rock",
        "'",
        "n",
        "roll",
        "'",
        "tis",
    ]


def _normalised(text: str) -> str:
    return text.translate(str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2032": "'", "`": "'"}))


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT)
@with_awkward_examples
def test_basic_english_tokens_have_no_whitespace_and_cover_the_text_in_order(text):
    """Tokens are non-empty, whitespace-free substrings of the normalised text, in order, and
    together they hold every non-space character of it."""
    tokens = BasicEnglishTokenizer().tokenize(text)
    normalised = _normalised(text)
    position = 0
    for token in tokens:
        assert token
        assert not any(char.isspace() for char in token)
        found = normalised.find(token, position)
        assert found >= 0, (token, normalised[position:])
        position = found + len(token)
    assert "".join(tokens) == "".join(normalised.split())


# --- whitespace and characters -------------------------------------------------------------


def test_whitespace_splits_on_runs_of_any_whitespace():
    assert WhitespaceTokenizer().tokenize(" a  b\tc\nd\u00a0e ") == ["a", "b", "c", "d", "e"]
    assert WhitespaceTokenizer().tokenize("don't stop.") == ["don't", "stop."]
    assert WhitespaceTokenizer().tokenize("") == []


def test_characters_keeps_every_code_point_including_spaces():
    assert CharacterTokenizer().tokenize("ab c") == ["a", "b", " ", "c"]
    assert CharacterTokenizer().tokenize("e\u0301!") == ["e", "\u0301", "!"]
    assert CharacterTokenizer().tokenize("") == []


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT)
@with_awkward_examples
def test_whitespace_tokens_joined_equal_the_normalised_text(text):
    tokens = WhitespaceTokenizer().tokenize(text)
    assert " ".join(tokens) == " ".join(text.split())
    assert all(token and not any(c.isspace() for c in token) for token in tokens)


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT)
@with_awkward_examples
def test_characters_joined_equal_the_text(text):
    tokens = CharacterTokenizer().tokenize(text)
    assert "".join(tokens) == text
    assert all(len(token) == 1 for token in tokens)


# --- factory -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("basic_english", BasicEnglishTokenizer),
        ("whitespace", WhitespaceTokenizer),
        ("characters", CharacterTokenizer),
        ("bpe", BPETokenizer),
    ],
)
def test_create_tokenizer_by_name(name, cls):
    tokenizer = create_tokenizer(name)
    assert isinstance(tokenizer, cls)
    assert tokenizer.name == name
    assert name in TOKENIZERS


def test_create_tokenizer_passes_the_bpe_vocab_size():
    assert create_tokenizer("bpe", bpe_vocab_size=300).vocab_size == 300


def test_unknown_tokenizer_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown tokenizer 'spacy'.*basic_english.*bpe"):
        create_tokenizer("spacy")


@pytest.mark.parametrize("name", ["basic_english", "whitespace", "characters"])
def test_load_tokenizer_needs_no_files_for_untrained_tokenizers(name, tmp_path):
    assert load_tokenizer(name, tmp_path).name == name


# --- bpe -----------------------------------------------------------------------------------


def _toy_corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    stems = ["watch", "play", "act", "like", "read", "move", "fold", "bear"]
    affixes = [("re", "ing"), ("", "ed"), ("un", "ed"), ("", "able"), ("re", "")]
    texts = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(4, 10)):
            prefix, suffix = rng.choice(affixes)
            words.append(prefix + rng.choice(stems) + suffix)
        texts.append(" ".join(words) + rng.choice([" .", " !", " ,"]))
    return texts


@pytest.fixture(scope="module")
def fitted_bpe() -> BPETokenizer:
    bpe = BPETokenizer(vocab_size=80, min_frequency=2)
    bpe.fit(_toy_corpus())
    return bpe


def test_bpe_marks_continuation_pieces_and_pieces_rebuild_the_word(fitted_bpe):
    """`unwatchable` never occurs in training, yet its learnt parts spell it."""
    assert "unwatchable" not in " ".join(_toy_corpus())
    pieces = fitted_bpe.tokenize("unwatchable")
    assert pieces == ["un", "##watch", "##able"]  # the example of the module docstring
    assert not pieces[0].startswith("##")
    assert all(piece.startswith("##") for piece in pieces[1:])
    assert pieces[0] + "".join(piece[2:] for piece in pieces[1:]) == "unwatchable"


def test_bpe_splits_punctuation_and_maps_unseen_characters_to_unk(fitted_bpe):
    tokens = fitted_bpe.tokenize("replayed ! zq")
    assert tokens[-3:] == ["!", "<unk>", "<unk>"]
    assert fitted_bpe.tokenize("") == []


def test_bpe_vocabulary_size_is_respected(fitted_bpe):
    assert fitted_bpe._tokenizer.get_vocab_size() <= 80


def test_bpe_save_then_load_gives_identical_tokens(fitted_bpe, tmp_path):
    fitted_bpe.save(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    loaded = load_tokenizer("bpe", tmp_path)
    assert isinstance(loaded, BPETokenizer)
    assert loaded.vocab_size == fitted_bpe._tokenizer.get_vocab_size()
    probes = [*_toy_corpus(50, seed=1), "unwatchable rebearing", "zzz ??? ", ""]
    for text in probes:
        assert loaded.tokenize(text) == fitted_bpe.tokenize(text)


def test_bpe_fit_is_deterministic():
    first, second = BPETokenizer(vocab_size=80), BPETokenizer(vocab_size=80)
    first.fit(_toy_corpus())
    second.fit(_toy_corpus())
    text = " ".join(_toy_corpus(20, seed=3))
    assert first.tokenize(text) == second.tokenize(text)


def test_bpe_must_be_fitted_before_use(tmp_path):
    bpe = BPETokenizer(vocab_size=100)
    with pytest.raises(RuntimeError, match="fit"):
        bpe.tokenize("text")
    with pytest.raises(RuntimeError, match="fit"):
        bpe.save(tmp_path)


def test_bpe_vocab_size_below_50_is_a_config_error():
    with pytest.raises(ConfigError, match=r"text\.bpe_vocab_size \(49\) must be at least 50"):
        BPETokenizer(vocab_size=49)


def test_loading_bpe_without_its_file_names_the_directory_and_file(tmp_path):
    with pytest.raises(ModelDirError, match=r"tokenizer\.json is missing") as error:
        load_tokenizer("bpe", tmp_path)
    assert str(tmp_path) in str(error.value)


SUBWORD_TEXTS = [
    "unwatchable films are unwatchable",
    "watchable and rewatchable films",
    "the film was watched and rewatched",
] * 20


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_wordpiece_and_unigram_learn_pieces_that_rebuild_every_word(kind, tmp_path):
    tokenizer = create_tokenizer(kind, bpe_vocab_size=60)
    assert tokenizer.name == kind and kind in TOKENIZERS
    tokenizer.fit(SUBWORD_TEXTS)
    pieces = tokenizer.tokenize("unwatched rewatchables")
    assert "<unk>" not in pieces and len(pieces) > 2  # unseen words, in known pieces
    if kind == "wordpiece":  # continuation pieces carry ##
        words = " ".join(pieces).replace(" ##", "").split()
    else:  # a piece that starts a word carries ▁
        words = "".join(pieces).split("▁")[1:]
    assert words == ["unwatched", "rewatchables"]
    tokenizer.save(tmp_path)
    loaded = load_tokenizer(kind, tmp_path)
    assert loaded.name == kind
    assert loaded.tokenize("unwatched rewatchables") == pieces
