"""The portable tokenizer.json gives textseq's ids: tricky texts, and real data."""

import pytest
from tokenizers import Tokenizer

from textseq.text.pipeline import TextPipeline, build_cleaner
from textseq.text.portable import save_word_level_tokenizer, word_level_tokenizer
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import Vocabulary

TRICKY = [
    "It's a <b>good</b> film &amp; I don't care, can't stop: 3.14 or 10,000 well-made!",
    "Visit https://example.com/x?y=1 or WWW.Example.org now&nbsp;&#8217;s &lt;b&gt; &amp;lt;",
    "  tabs\tand\nnew\x0blines  ",
    "I’m sure they’ll say `we'd' -- \"quoted\" (parens) [brackets] ...",
    "café naïve ÜBER 2nd 1990s O'Neil rock'n'roll e-mail",
]


def _ids(pipeline: TextPipeline, hf: Tokenizer, text: str) -> tuple[list[int], list[int]]:
    return pipeline.encode(text), hf.encode(text).ids or [pipeline.vocab.unk_index]


@pytest.mark.parametrize("tokenizer", ["basic_english", "whitespace"])
@pytest.mark.parametrize("cleaning", [(True, True, True), (False, False, False)])
def test_tokenizer_json_gives_textseqs_ids(tmp_path, tokenizer, cleaning):
    lowercase, strip_html, remove_urls = cleaning
    cleaner = build_cleaner(lowercase=lowercase, strip_html=strip_html, remove_urls=remove_urls)
    tok = create_tokenizer(tokenizer)
    # Half the words known, so that <unk> occurs too.
    vocab = Vocabulary.build([tok.tokenize(cleaner(t))[::2] for t in TRICKY])
    pipeline = TextPipeline(cleaner, tok, vocab, max_length=12)
    assert save_word_level_tokenizer(
        tmp_path, tokenizer=tokenizer, vocab=vocab, cleaner=cleaner, max_length=12
    )
    hf = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in [*TRICKY, "", "<br />"]:
        ours, theirs = _ids(pipeline, hf, text)
        assert ours == theirs, text
    assert vocab.unk_index in pipeline.encode(TRICKY[0])
    batch = hf.encode_batch(TRICKY[:2])  # padded with <pad> to the longest
    assert len(batch[0].ids) == len(batch[1].ids)


def test_only_word_level_pipelines_have_a_portable_tokenizer():
    vocab = Vocabulary(["a"])
    assert word_level_tokenizer(tokenizer="characters", vocab=vocab) is None
    assert word_level_tokenizer(tokenizer="bpe", vocab=vocab) is None


def test_sst2_dev_ids_through_a_trained_models_tokenizer_json(real_data_env, tmp_path):
    from textseq.tasks.classify.data import load_examples

    cleaner = build_cleaner(lowercase=True, strip_html=True, remove_urls=True)
    tok = create_tokenizer("basic_english")
    texts = [e.text for e in load_examples("sst2:dev")]
    vocab = Vocabulary.build([tok.tokenize(cleaner(t)) for t in texts[::2]])
    pipeline = TextPipeline(cleaner, tok, vocab)
    save_word_level_tokenizer(tmp_path, tokenizer="basic_english", vocab=vocab, cleaner=cleaner)
    hf = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    mismatched = [t for t in texts if _ids(pipeline, hf, t)[0] != _ids(pipeline, hf, t)[1]]
    assert mismatched == []
