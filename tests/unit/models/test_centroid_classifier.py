"""The centroid classifier (no encoder): known answers, padding invariance and a tiny training
that must learn."""

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from textseq.models.centroid_classifier import build_centroid_classifier

POOLINGS = ("mean", "max", "mean_max", "attention", "self_attention", "multihead")


def _model(**options):
    torch.manual_seed(0)
    defaults = dict(
        vocab_size=40,
        num_labels=3,
        pad_index=0,
        embedding_dim=8,
        pooling_attention_dim=5,
        pooling_num_heads=2,
        head_hidden_size=7,
    )
    return build_centroid_classifier(**{**defaults, **options}).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_invariance(pooling):
    """A text's logits are the same alone and inside a padded batch."""
    model = _model(pooling=pooling)
    generator = torch.Generator().manual_seed(1)
    sequences = [torch.randint(1, 40, (n,), generator=generator) for n in (3, 9, 1, 6)]
    lengths = torch.tensor([len(s) for s in sequences])
    batch = model(pad_sequence(sequences, batch_first=True), lengths)
    for row, sequence in enumerate(sequences):
        alone = model(sequence[None], lengths[row : row + 1])
        assert torch.allclose(batch.logits[row], alone.logits[0], atol=1e-5)


def test_mean_max_feeds_the_head_the_centroid_and_the_maximum_of_the_word_vectors():
    """Known answer: with a single linear head, logits = W [mean(e_t); max(e_t)] + b over the
    real tokens only."""
    vectors = torch.tensor([[0.0, 0.0], [1.0, -2.0], [3.0, 4.0], [-5.0, 6.0]])  # row 0: <pad>
    model = _model(
        vocab_size=4, embedding_dim=2, num_labels=2, pretrained=vectors, pooling="mean_max",
        head_hidden_size=0,
    )  # fmt: skip
    linear = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 10.0, 100.0, 1000.0], [0.0, 0.0, 0.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.5, 0.0]))
    token_ids = torch.tensor([[1, 2, 0], [3, 3, 1]])  # (2, 3)
    lengths = torch.tensor([2, 3])
    logits = model(token_ids, lengths).logits[:, 0]
    # text 1: mean (2, 1), max (3, 4); text 2: mean (-3, 10/3), max (1, 6)
    expected = torch.tensor([2 + 10 + 300 + 4000 + 0.5, -3 + 100 / 3 + 100 + 6000 + 0.5])
    assert torch.allclose(logits, expected)


@pytest.mark.parametrize("pooling", ["mean", "max", "mean_max"])
def test_a_tiny_training_learns_which_word_decides_the_label(pooling):
    """Label 1 when word 5 is in the text, 0 otherwise: the pooled vectors separate that."""
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(4)
    texts, labels = [], []
    for n in range(200):
        words = torch.randint(6, 40, (int(torch.randint(2, 8, (1,), generator=generator)),),
                              generator=generator)  # fmt: skip
        if n % 2:
            words[int(torch.randint(0, len(words), (1,), generator=generator))] = 5
        texts.append(words)
        labels.append(n % 2)
    token_ids = pad_sequence(texts, batch_first=True)
    lengths = torch.tensor([len(t) for t in texts])
    y = torch.tensor(labels)
    model = _model(num_labels=2, pooling=pooling, head_hidden_size=0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(token_ids, lengths).logits, y)
        loss.backward()
        optimizer.step()
    predicted = model.eval()(token_ids, lengths).logits.argmax(dim=-1)
    assert (predicted == y).float().mean() > 0.97
