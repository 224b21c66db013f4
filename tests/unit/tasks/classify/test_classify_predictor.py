"""Batch prediction: texts encoded in one pass, sorted once and padded per batch, give the
same answers as one text at a time, in the caller's order."""

import torch

from textseq.models.classifier import build_text_classifier
from textseq.tasks.classify.config import Config
from textseq.tasks.classify.predictor import TextClassifierPredictor
from textseq.text.pipeline import TextPipeline, build_cleaner
from textseq.text.tokenizers import BasicEnglishTokenizer
from textseq.text.vocab import PAD, UNK, Vocabulary

WORDS = [
    "a",
    "the",
    "film",
    "plot",
    "was",
    "is",
    "not",
    "bad",
    "good",
    "dull",
    "great",
    "fun",
    "boring",
    ",",
    "and",
    "at",
    "all",
]
TEXTS = [
    "a great film",
    "The plot was dull , boring and not fun at all",
    "good",
    "not bad",
    "a film",
    "unseen words only here",
]


def _predictor() -> TextClassifierPredictor:
    torch.manual_seed(0)
    vocab = Vocabulary(WORDS, specials=(PAD, UNK))
    cleaner = build_cleaner(lowercase=True, strip_html=False, remove_urls=False)
    model = build_text_classifier(
        vocab_size=len(vocab),
        num_labels=2,
        pad_index=vocab.pad_index,
        embedding_dim=8,
        hidden_size=6,
        num_layers=2,
        pooling="attention",
        pooling_attention_dim=4,
    )
    return TextClassifierPredictor(
        model=model,
        pipeline=TextPipeline(cleaner, BasicEnglishTokenizer(), vocab, max_length=8),
        labels=Vocabulary(["negative", "positive"], specials=()),
        config=Config(),
    )


def test_one_pass_encoding_matches_the_pipeline():
    predictor = _predictor()
    vocab = predictor.pipeline.vocab
    assert predictor.encode(TEXTS) == [vocab.encode(predictor.pipeline.tokens(t)) for t in TEXTS]
    assert len(predictor.encode(TEXTS)[1]) == 8  # truncated to max_length


def test_batches_are_sorted_by_length_padded_and_cover_every_text_once():
    predictor = _predictor()
    ids = predictor.encode(TEXTS)
    seen = []
    previous = 0
    for rows, token_ids, lengths in predictor.batches(ids, batch_size=4):
        assert token_ids.shape == (len(rows), int(lengths.max()))
        assert lengths.tolist() == [len(ids[i]) for i in rows]
        assert min(lengths.tolist()) >= previous
        previous = max(lengths.tolist())
        for row, i in enumerate(rows):
            assert token_ids[row, : len(ids[i])].tolist() == ids[i]
            assert (token_ids[row, len(ids[i]) :] == predictor.pipeline.vocab.pad_index).all()
        seen += rows
    assert sorted(seen) == list(range(len(TEXTS)))


def test_batched_predictions_equal_one_at_a_time_in_the_callers_order():
    predictor = _predictor()
    together = predictor.predict(TEXTS, batch_size=4, explain=True)
    for text, result in zip(TEXTS, together, strict=True):
        (alone,) = predictor.predict([text], batch_size=1, explain=True)
        assert result["text"] == text and result["label"] == alone["label"]
        for label, p in alone["probs"].items():
            assert abs(result["probs"][label] - p) < 1e-5
        assert [t for t, _ in result["attention"]] == [t for t, _ in alone["attention"]]
    logits = predictor.logits(TEXTS, batch_size=4)
    probs = torch.tensor([[r["probs"]["negative"], r["probs"]["positive"]] for r in together])
    assert torch.allclose(torch.softmax(logits, dim=-1), probs, atol=1e-5)
