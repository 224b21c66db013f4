"""Poolings never count padding; `last` returns the true final states of each direction."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from textseq.modules.pooling import (
    POOLINGS,
    LastStatePooling,
    MaxPooling,
    MeanPooling,
    build_pooling,
)
from textseq.modules.rnn import RNNEncoder


def _padded(sequences):
    lengths = torch.tensor([len(s) for s in sequences])
    states = pad_sequence(sequences, batch_first=True, padding_value=123.0)  # loud padding
    mask = torch.arange(states.size(1))[None] < lengths[:, None]
    return states, mask


def test_last_pooling_equals_final_states_of_a_two_layer_bidirectional_lstm():
    """h_n of nn.LSTM run on each unpadded sequence is the ground truth."""
    torch.manual_seed(0)
    encoder = RNNEncoder(input_size=5, hidden_size=4, num_layers=2, cell="lstm", bidirectional=True)
    encoder.eval()
    pooling = LastStatePooling(bidirectional=True)
    inputs = [torch.randn(n, 5) for n in (6, 2, 4, 1)]
    lengths = torch.tensor([len(x) for x in inputs])
    padded = pad_sequence(inputs, batch_first=True)
    mask = torch.arange(padded.size(1))[None] < lengths[:, None]
    pooled, weights = pooling(encoder(padded, lengths), mask)
    assert weights is None
    for row, x in enumerate(inputs):
        _, (h_n, _) = encoder.rnn(x[None])  # h_n: (layers * 2, 1, H)
        top_forward, top_backward = h_n[-2, 0], h_n[-1, 0]
        assert torch.allclose(pooled[row], torch.cat([top_forward, top_backward]), atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh"])
def test_last_pooling_unidirectional_is_state_at_last_real_token(cell):
    torch.manual_seed(0)
    encoder = RNNEncoder(input_size=3, hidden_size=4, num_layers=3, cell=cell, bidirectional=False)
    inputs = [torch.randn(n, 3) for n in (5, 3)]
    lengths = torch.tensor([5, 3])
    padded = pad_sequence(inputs, batch_first=True)
    mask = torch.arange(5)[None] < lengths[:, None]
    pooled, _ = LastStatePooling(bidirectional=False)(encoder(padded, lengths), mask)
    for row, x in enumerate(inputs):
        _, h_n = encoder.rnn(x[None])
        assert torch.allclose(pooled[row], h_n[-1, 0], atol=1e-6)


def test_masked_mean_and_max_equal_the_unpadded_computation():
    torch.manual_seed(0)
    sequences = [torch.randn(n, 3) - 50 for n in (4, 1, 3)]  # negative: padding must not win max
    states, mask = _padded(sequences)
    mean, _ = MeanPooling()(states, mask)
    maximum, _ = MaxPooling()(states, mask)
    for row, s in enumerate(sequences):
        assert torch.allclose(mean[row], s.mean(0))
        assert torch.equal(maximum[row], s.max(0).values)


@pytest.mark.parametrize("kind", ["attention", "self_attention", "multihead"])
def test_attention_weights_are_zero_on_padding_and_sum_to_one(kind):
    torch.manual_seed(0)
    pooling = build_pooling(kind, input_dim=8, bidirectional=True, attention_dim=6, num_heads=2)
    states, mask = _padded([torch.randn(n, 8) for n in (5, 2, 3)])
    pooled, weights = pooling(states, mask)
    assert pooled.shape == (3, 8)
    assert torch.all(weights[~mask] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(3), atol=1e-6)


@pytest.mark.parametrize("kind", POOLINGS)
def test_every_pooling_ignores_padding_values(kind):
    """Changing what sits in padded positions never changes the pooled vector."""
    torch.manual_seed(0)
    pooling = build_pooling(kind, input_dim=8, bidirectional=True, attention_dim=6, num_heads=2)
    states, mask = _padded([torch.randn(n, 8) for n in (5, 2, 3)])
    noisy = states.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), 8) * 1e3
    assert torch.allclose(pooling(states, mask)[0], pooling(noisy, mask)[0], atol=1e-6)


def test_unknown_pooling_is_rejected_with_choices():
    with pytest.raises(ValueError, match="attention"):
        build_pooling("avg", input_dim=4, bidirectional=False, attention_dim=4, num_heads=1)


def test_rnn_encoder_zeroes_padding_and_validates_cell():
    encoder = RNNEncoder(input_size=3, hidden_size=2, cell="gru")
    x = torch.randn(2, 4, 3)
    states = encoder(x, torch.tensor([4, 2]))
    assert states.shape == (2, 4, 4)
    assert torch.all(states[1, 2:] == 0)
    with pytest.raises(ValueError, match="lstm"):
        RNNEncoder(input_size=3, hidden_size=2, cell="transformer")
    assert isinstance(RNNEncoder(input_size=3, hidden_size=2, cell="rnn_relu").rnn, nn.RNN)
