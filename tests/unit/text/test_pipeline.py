"""TextPipeline: clean -> tokenise -> truncate -> ids, the same at training and prediction,
and saved/loaded with a model directory."""

import json

import pytest

from textseq.config import TextConfig
from textseq.errors import ModelDirError
from textseq.text.cleaning import TextCleaner
from textseq.text.pipeline import (
    EncodingReport,
    TextPipeline,
    build_cleaner,
    load_pipeline,
    save_pipeline,
)
from textseq.text.tokenizers import BasicEnglishTokenizer, BPETokenizer, WhitespaceTokenizer
from textseq.text.vocab import UNK, Vocabulary


def _pipeline(max_length=None, tokenizer=None) -> TextPipeline:
    vocab = Vocabulary(["it", "'s", "a", "great", "film", "."])
    return TextPipeline(TextCleaner(), tokenizer or BasicEnglishTokenizer(), vocab, max_length)


def test_tokens_are_cleaned_then_tokenised():
    assert _pipeline().tokens("It's a <b>GREAT</b> film. http://x.com") == [
        "it",
        "'s",
        "a",
        "great",
        "film",
        ".",
    ]


def test_encode_looks_up_ids_with_unknowns_as_unk():
    # ids: <pad> 0, <unk> 1, it 2, 's 3, a 4, great 5, film 6, . 7
    assert _pipeline().encode("It's a dull film!") == [2, 3, 4, 1, 6, 1]


def test_tokens_are_truncated_to_max_length():
    assert _pipeline(max_length=3).tokens("it's a great film") == ["it", "'s", "a"]
    assert _pipeline(max_length=3).encode("it's a great film") == [2, 3, 4]
    assert _pipeline(max_length=10).tokens("a film") == ["a", "film"]


@pytest.mark.parametrize("text", ["", "   ", "<br /><br />", "http://example.com", "\x00"])
def test_text_with_nothing_left_after_cleaning_is_a_single_unk(text):
    assert _pipeline().tokens(text) == [UNK]
    assert _pipeline().encode(text) == [1]


def test_tokenize_all_reports_truncated_and_empty_texts():
    texts = ["it's a great film", "a film", "<br />", "a great great great film"]
    tokens, report = _pipeline(max_length=3).tokenize_all(texts)
    assert tokens == [["it", "'s", "a"], ["a", "film"], [UNK], ["a", "great", "great"]]
    assert report == EncodingReport(texts=4, truncated=2, empty=1)


def test_tokenize_all_agrees_with_tokens():
    pipeline = _pipeline(max_length=4)
    texts = ["It's a GREAT film!", "", "one two three four five six", "a<br/>b"]
    tokens, _ = pipeline.tokenize_all(texts)
    assert tokens == [pipeline.tokens(text) for text in texts]


def test_report_describes_what_changed():
    assert EncodingReport(texts=10).describe(5) == []
    notes = EncodingReport(texts=2000, truncated=500, empty=3).describe(64)
    assert notes == [
        "truncated 500 of 2,000 texts (25.0%) to 64 tokens",
        "3 of 2,000 texts had no tokens after cleaning and are read as a single <unk>",
    ]


def test_build_cleaner_passes_every_switch():
    cleaner = build_cleaner(lowercase=False, strip_html=True, remove_urls=False)
    assert cleaner == TextCleaner(lowercase=False, strip_html=True, remove_urls=False)


def test_save_and_load_round_trip_for_an_untrained_tokenizer(tmp_path):
    pipeline = _pipeline(tokenizer=WhitespaceTokenizer())
    save_pipeline(pipeline, tmp_path)
    # tokenizer.json: the word-level pipeline as a portable tokenizer (textseq.text.portable)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json", "vocab.json"]
    config = TextConfig(tokenizer="whitespace", lowercase=False)
    loaded = load_pipeline(tmp_path, config, max_length=2)
    assert loaded.vocab == pipeline.vocab
    assert isinstance(loaded.tokenizer, WhitespaceTokenizer)
    assert loaded.cleaner == TextCleaner(lowercase=False)
    assert loaded.max_length == 2
    assert loaded.tokens("Great film .") == ["Great", "film"]


def test_save_and_load_round_trip_for_bpe(tmp_path):
    texts = ["the film was great", "the play was dull", "a great play", "a dull film"] * 30
    bpe = BPETokenizer(vocab_size=60)
    bpe.fit(texts)
    vocab = Vocabulary.build(bpe.tokenize(t) for t in texts)
    pipeline = TextPipeline(TextCleaner(), bpe, vocab)
    save_pipeline(pipeline, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json", "vocab.json"]
    loaded = load_pipeline(tmp_path, TextConfig(tokenizer="bpe"), max_length=None)
    for text in ["The great dull play", "films were greater", "xyz"]:
        assert loaded.encode(text) == pipeline.encode(text)


def test_loading_without_vocab_names_the_file(tmp_path):
    with pytest.raises(ModelDirError, match=r"vocab\.json cannot be read") as error:
        load_pipeline(tmp_path, TextConfig(), max_length=None)
    assert str(tmp_path / "vocab.json") in str(error.value)


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"format": "other"}), json.dumps({"format": "textseq.vocabulary"})],
)
def test_loading_a_broken_vocab_is_a_model_dir_error(tmp_path, content):
    (tmp_path / "vocab.json").write_text(content, encoding="utf-8")
    with pytest.raises(ModelDirError, match="cannot be read"):
        load_pipeline(tmp_path, TextConfig(), max_length=None)


def test_loading_bpe_pipeline_without_tokenizer_file_is_a_model_dir_error(tmp_path):
    Vocabulary(["a"]).save(tmp_path / "vocab.json")
    with pytest.raises(ModelDirError, match=r"tokenizer\.json is missing"):
        load_pipeline(tmp_path, TextConfig(tokenizer="bpe"), max_length=None)


class _FramingTokenizer:
    """Wraps every text in [CLS] ... [SEP], as a pretrained (BERT-style) tokenizer does."""

    def tokenize(self, text: str) -> list[str]:
        return ["[CLS]", *text.lower().split(), "[SEP]"]


def test_spelling_is_the_one_token_a_word_makes():
    assert _pipeline().spelling("GREAT") == "great"  # the cleaner lower-cases
    assert _pipeline().spelling("<b>Film</b>") == "film"
    assert _pipeline().spelling("it's") == "it's"  # two tokens: the cleaned word
    framed = TextPipeline(TextCleaner(lowercase=False), _FramingTokenizer(), Vocabulary([]))
    assert framed.spelling("Good") == "good"  # the tokenizer lower-cases; its frame is dropped
