"""Word dropout replaces real tokens by <unk> in training only, and never touches padding."""

import pytest
import torch

from textseq.models.classifier import build_text_classifier
from textseq.modules.word_dropout import WordDropout, build_word_dropout

UNK, PAD = 1, 0


def _batch():
    generator = torch.Generator().manual_seed(0)
    token_ids = torch.randint(2, 50, (64, 40), generator=generator)
    lengths = torch.randint(1, 41, (64,), generator=generator)
    mask = torch.arange(40)[None] < lengths[:, None]
    return token_ids.masked_fill(~mask, PAD), mask


def test_replaces_about_p_of_the_real_tokens_and_no_padding():
    token_ids, mask = _batch()
    dropout = WordDropout(p=0.25, unk_index=UNK).train()
    torch.manual_seed(0)
    dropped = dropout(token_ids, mask)
    changed = dropped != token_ids
    assert torch.all(dropped[changed] == UNK)
    assert not changed[~mask].any(), "padding must stay padding"
    share = changed[mask].float().mean().item()
    assert share == pytest.approx(0.25, abs=0.03)


def test_identity_in_eval_mode():
    token_ids, mask = _batch()
    dropout = WordDropout(p=0.5, unk_index=UNK).eval()
    assert torch.equal(dropout(token_ids, mask), token_ids)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match=r"p \(1.0\)"):
        WordDropout(p=1.0, unk_index=UNK)
    with pytest.raises(ValueError, match="unk_index"):
        build_text_classifier(vocab_size=10, num_labels=2, pad_index=PAD, word_dropout=0.1)


def test_classifier_in_training_mode_reads_dropped_words_as_unk():
    """With p near 1 almost every token is <unk>, so two different texts look alike."""
    model = build_text_classifier(
        vocab_size=50,
        num_labels=2,
        pad_index=PAD,
        unk_index=UNK,
        embedding_dim=8,
        hidden_size=4,
        pooling_attention_dim=4,
        word_dropout=0.999,
    )
    lengths = torch.tensor([5])
    first, second = torch.tensor([[2, 3, 4, 5, 6]]), torch.tensor([[7, 8, 9, 10, 11]])
    model.train()
    torch.manual_seed(0)
    a = model(first, lengths).logits
    torch.manual_seed(0)
    b = model(second, lengths).logits
    assert torch.allclose(a, b)
    model.eval()
    assert not torch.allclose(model(first, lengths).logits, model(second, lengths).logits)


def test_built_only_when_it_drops_anything_and_only_with_an_unk_to_drop_to():
    assert build_word_dropout(0.0, None) is None
    layer = build_word_dropout(0.2, UNK)
    assert (layer.p, layer.unk_index) == (0.2, UNK)
    with pytest.raises(ValueError, match=r"word_dropout \(0.2\) needs an unk_index"):
        build_word_dropout(0.2, None)
