"""RNNEncoder: the mask-based path (the default) gives the packed path's outputs and
gradients."""

import pytest
import torch

from textseq.modules.rnn import CELLS, RNNEncoder


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_masked_path_equals_packed_path(cell, bidirectional):
    torch.manual_seed(0)
    encoder = RNNEncoder(
        input_size=5,
        hidden_size=4,
        num_layers=2,
        cell=cell,
        bidirectional=bidirectional,
        dropout=0.3,
        packed=True,
    ).eval()
    lengths = torch.tensor([7, 1, 4, 7, 2])
    x = torch.randn(5, 7, 5)
    x[torch.arange(7) >= lengths[:, None]] = 3.0  # padding that must never be read
    packed = encoder(x, lengths)
    masked = encoder.forward_masked(x, lengths)
    torch.testing.assert_close(masked, packed, atol=1e-6, rtol=1e-5)
    encoder.packed = False
    torch.testing.assert_close(encoder(x, lengths), packed, atol=1e-6, rtol=1e-5)


def test_masked_path_ignores_padding_and_batch_neighbours():
    torch.manual_seed(1)
    encoder = RNNEncoder(input_size=3, hidden_size=4, num_layers=1, cell="lstm").eval()
    sentence = torch.randn(1, 3, 3)
    alone = encoder.forward_masked(sentence, torch.tensor([3]))  # (1, 3, 8)
    batch = torch.randn(2, 6, 3)  # row 0: the sentence, then garbage padding
    batch[0, :3] = sentence[0]
    together = encoder.forward_masked(batch, torch.tensor([3, 6]))  # (2, 6, 8)
    torch.testing.assert_close(together[0, :3], alone[0])
    assert together[0, 3:].abs().sum() == 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_masked_path_trains_with_the_packed_paths_gradients(cell):
    """Training runs the masked path by default: the gradients of a loss over the real
    positions, for the input and every weight, are those of packed sequences."""
    torch.manual_seed(2)
    encoder = RNNEncoder(input_size=5, hidden_size=4, num_layers=2, cell=cell)
    assert not encoder.packed
    lengths = torch.tensor([6, 2, 5, 1])
    x = torch.randn(4, 6, 5)
    target = torch.randn(4, 6, 8)

    def gradients(packed: bool) -> list[torch.Tensor]:
        encoder.packed = packed
        encoder.zero_grad()
        inputs = x.clone().requires_grad_(True)
        (encoder(inputs, lengths) * target).sum().backward()
        return [inputs.grad, *(p.grad.clone() for p in encoder.parameters())]

    masked, packed = gradients(False), gradients(True)
    assert masked[0][1, 2:].abs().sum() == 0  # padding gets no gradient
    for from_masked, from_packed in zip(masked, packed, strict=True):
        torch.testing.assert_close(from_masked, from_packed, atol=1e-6, rtol=1e-5)
