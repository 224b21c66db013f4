"""The Transformer classifier: padding invariance, per-layer attention, the [CLS] position."""

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from textseq.models.transformer_classifier import build_transformer_classifier

POOLINGS = ["cls", "mean", "max", "attention", "self_attention", "multihead"]


def _model(**options):
    torch.manual_seed(0)
    defaults = dict(
        vocab_size=40,
        num_labels=3,
        pad_index=0,
        embedding_dim=8,
        num_layers=2,
        num_heads=2,
        ff_dim=16,
        pooling_attention_dim=5,
        pooling_num_heads=2,
        head_hidden_size=7,
    )
    return build_transformer_classifier(**{**defaults, **options}).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_padding_invariance(pooling, norm_first, positional):
    """A sequence's logits, pooling weights and layer attention are the same alone and inside
    a padded batch."""
    model = _model(pooling=pooling, norm_first=norm_first, positional=positional)
    generator = torch.Generator().manual_seed(1)
    sequences = [torch.randint(1, 40, (n,), generator=generator) for n in (3, 9, 1, 6)]
    lengths = torch.tensor([len(s) for s in sequences])
    batch = model(pad_sequence(sequences, batch_first=True), lengths, return_layer_attention=True)
    offset = 1 if pooling == "cls" else 0
    for row, sequence in enumerate(sequences):
        n = len(sequence)
        alone = model(sequence[None], lengths[row : row + 1], return_layer_attention=True)
        assert torch.allclose(batch.logits[row], alone.logits[0], atol=1e-5)
        if alone.attention is not None:
            assert torch.allclose(batch.attention[row, :n], alone.attention[0], atol=1e-5)
            assert torch.all(batch.attention[row, n:] == 0)
        for in_batch, single in zip(batch.layer_attention, alone.layer_attention, strict=True):
            real = in_batch[row, :, : n + offset, : n + offset]
            assert torch.allclose(real, single[0], atol=1e-5)
            assert torch.all(in_batch[row, :, :, n + offset :] == 0)  # padding gets nothing


def test_layer_attention_only_when_asked_and_shaped_per_layer_and_head():
    model = _model(pooling="cls", num_layers=3)
    ids, lengths = torch.randint(1, 40, (2, 5)), torch.tensor([5, 3])
    plain = model(ids, lengths)
    assert plain.layer_attention is None and plain.attention is None
    output = model(ids, lengths, return_layer_attention=True)
    assert [tuple(w.shape) for w in output.layer_attention] == [(2, 2, 6, 6)] * 3  # [CLS] + 5
    assert torch.allclose(output.logits, plain.logits, atol=1e-5)  # fused path == explicit path
    mean = _model(pooling="attention").eval()
    output = mean(ids, lengths, return_layer_attention=True)
    assert output.layer_attention[0].shape == (2, 2, 5, 5)
    assert output.attention.shape == (2, 5)


def test_embedding_is_the_token_table_and_takes_pretrained_vectors():
    vectors = torch.randn(40, 8)
    model = _model(pretrained=vectors, freeze_embeddings=True)
    assert isinstance(model.embedding, torch.nn.Embedding)
    assert torch.equal(model.embedding.weight, vectors)
    assert not model.embedding.weight.requires_grad


def test_word_order_matters():
    """With positions, the same bag of words in another order is another input."""
    model = _model(pooling="mean")
    ids = torch.tensor([[5, 6, 7, 8]])
    lengths = torch.tensor([4])
    assert not torch.allclose(model(ids, lengths).logits, model(ids.flip(1), lengths).logits)
