"""The classifier's outputs for a sequence do not depend on what else is in its batch."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from textseq.models.classifier import build_text_classifier
from textseq.modules.pooling import POOLINGS
from textseq.modules.rnn import CELLS


def _model(**options):
    torch.manual_seed(0)
    defaults = dict(
        vocab_size=40,
        num_labels=3,
        pad_index=0,
        embedding_dim=8,
        hidden_size=6,
        pooling_attention_dim=5,
        pooling_num_heads=2,
        head_hidden_size=7,
    )
    return build_text_classifier(**{**defaults, **options}).eval()


@pytest.mark.parametrize(
    "cell,bidirectional,num_layers,pooling",
    list(itertools.product(CELLS, [False, True], [1, 2], POOLINGS)),
)
def test_padding_invariance(cell, bidirectional, num_layers, pooling):
    """A sequence's logits and attention are the same alone and inside a padded batch."""
    model = _model(cell=cell, bidirectional=bidirectional, num_layers=num_layers, pooling=pooling)
    generator = torch.Generator().manual_seed(1)
    sequences = [torch.randint(1, 40, (n,), generator=generator) for n in (3, 9, 1, 6)]
    lengths = torch.tensor([len(s) for s in sequences])
    batch = model(pad_sequence(sequences, batch_first=True), lengths)
    for row, sequence in enumerate(sequences):
        alone = model(sequence[None], lengths[row : row + 1])
        assert torch.allclose(batch.logits[row], alone.logits[0], atol=1e-5)
        if alone.attention is not None:
            n = len(sequence)
            assert torch.allclose(batch.attention[row, :n], alone.attention[0], atol=1e-5)
            assert torch.all(batch.attention[row, n:] == 0)


def test_pretrained_embeddings_are_used_and_frozen():
    vectors = torch.randn(40, 8)
    vectors[0] = 0
    model = _model(pretrained=vectors, freeze_embeddings=True)
    assert torch.equal(model.embedding.weight, vectors)
    assert not model.embedding.weight.requires_grad
    with pytest.raises(ValueError, match="shape"):
        _model(pretrained=torch.randn(39, 8))


def test_dropout_off_in_eval_is_deterministic_and_on_in_train():
    model = _model(embedding_dropout=0.5, head_dropout=0.5)
    ids, lengths = torch.randint(1, 40, (4, 6)), torch.tensor([6, 5, 4, 3])
    assert torch.equal(model(ids, lengths).logits, model(ids, lengths).logits)
    model.train()
    torch.manual_seed(0)
    first = model(ids, lengths).logits
    assert not torch.allclose(first, model(ids, lengths).logits)
