"""The scripted recurrent cells: each against a step-by-step reference written from its
paper's equations; the peephole LSTM with zero peepholes and the CIFG with a mirrored input
gate equal torch.nn.LSTM; in an RNNEncoder, padding never reaches a real token."""

import pytest
import torch
from torch import nn

from textseq.modules.cifg_lstm import CIFGLSTM
from textseq.modules.layernorm_lstm import LayerNormLSTM
from textseq.modules.mgu import MGU
from textseq.modules.nested_lstm import NestedLSTM
from textseq.modules.peephole_lstm import PeepholeLSTM
from textseq.modules.rnn import SCRIPTED_CELLS, RNNEncoder

sigmoid, tanh = torch.sigmoid, torch.tanh


def blocks(weight, count):
    return weight.chunk(count, 0)


def layer_norm(z, gain, shift=None, eps=1e-5):
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    out = gain * (z - mean) / torch.sqrt(var + eps)
    return out if shift is None else out + shift


def peephole_reference(cell, x):
    W_i, W_f, W_g, W_o = blocks(cell.weight_ih, 4)
    U_i, U_f, U_g, U_o = blocks(cell.weight_hh, 4)
    b_i, b_f, b_g, b_o = blocks(cell.bias, 4)
    p_i, p_f, p_o = cell.peephole
    h = c = x.new_zeros(x.size(0), cell.hidden_size)
    out = []
    for x_t in x.unbind(1):
        i = sigmoid(x_t @ W_i.T + h @ U_i.T + p_i * c + b_i)
        f = sigmoid(x_t @ W_f.T + h @ U_f.T + p_f * c + b_f)
        g = tanh(x_t @ W_g.T + h @ U_g.T + b_g)
        c = f * c + i * g
        o = sigmoid(x_t @ W_o.T + h @ U_o.T + p_o * c + b_o)
        h = o * tanh(c)
        out.append(h)
    return torch.stack(out, 1)


def cifg_reference(cell, x):
    W_i, W_g, W_o = blocks(cell.weight_ih, 3)
    U_i, U_g, U_o = blocks(cell.weight_hh, 3)
    b_i, b_g, b_o = blocks(cell.bias, 3)
    h = c = x.new_zeros(x.size(0), cell.hidden_size)
    out = []
    for x_t in x.unbind(1):
        i = sigmoid(x_t @ W_i.T + h @ U_i.T + b_i)
        g = tanh(x_t @ W_g.T + h @ U_g.T + b_g)
        c = (1 - i) * c + i * g
        h = sigmoid(x_t @ W_o.T + h @ U_o.T + b_o) * tanh(c)
        out.append(h)
    return torch.stack(out, 1)


def layernorm_reference(cell, x):
    h = c = x.new_zeros(x.size(0), cell.hidden_size)
    out = []
    for x_t in x.unbind(1):
        a = (
            layer_norm(x_t @ cell.weight_ih.T, cell.gain_ih)
            + layer_norm(h @ cell.weight_hh.T, cell.gain_hh)
            + cell.bias
        )
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        c = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)
        h = sigmoid(a_o) * tanh(layer_norm(c, cell.gain_c, cell.shift_c))
        out.append(h)
    return torch.stack(out, 1)


def mgu_reference(cell, x):
    W_f, W_h = blocks(cell.weight_ih, 2)
    U_f, U_h = blocks(cell.weight_hh, 2)
    b_f, b_h = blocks(cell.bias, 2)
    h = x.new_zeros(x.size(0), cell.hidden_size)
    out = []
    for x_t in x.unbind(1):
        f = sigmoid(x_t @ W_f.T + h @ U_f.T + b_f)
        h_tilde = tanh(x_t @ W_h.T + (f * h) @ U_h.T + b_h)
        h = (1 - f) * h + f * h_tilde
        out.append(h)
    return torch.stack(out, 1)


def nested_reference(cell, x):
    W_i, W_f, W_g, W_o = blocks(cell.weight_ih, 4)
    U_i, U_f, U_g, U_o = blocks(cell.weight_hh, 4)
    b_i, b_f, b_g, b_o = blocks(cell.bias, 4)
    iW_i, iW_f, iW_g, iW_o = blocks(cell.inner_weight_ih, 4)
    iU_i, iU_f, iU_g, iU_o = blocks(cell.inner_weight_hh, 4)
    ib_i, ib_f, ib_g, ib_o = blocks(cell.inner_bias, 4)
    h = c = inner_c = x.new_zeros(x.size(0), cell.hidden_size)
    out = []
    for x_t in x.unbind(1):
        i = sigmoid(x_t @ W_i.T + h @ U_i.T + b_i)
        f = sigmoid(x_t @ W_f.T + h @ U_f.T + b_f)
        g = tanh(x_t @ W_g.T + h @ U_g.T + b_g)
        o = sigmoid(x_t @ W_o.T + h @ U_o.T + b_o)
        x_in, h_in = i * g, f * c
        ii = sigmoid(x_in @ iW_i.T + h_in @ iU_i.T + ib_i)
        fi = sigmoid(x_in @ iW_f.T + h_in @ iU_f.T + ib_f)
        gi = tanh(x_in @ iW_g.T + h_in @ iU_g.T + ib_g)
        oi = sigmoid(x_in @ iW_o.T + h_in @ iU_o.T + ib_o)
        inner_c = fi * inner_c + ii * gi
        c = oi * tanh(inner_c)
        h = o * tanh(c)
        out.append(h)
    return torch.stack(out, 1)


REFERENCES = [
    (PeepholeLSTM, peephole_reference),
    (CIFGLSTM, cifg_reference),
    (LayerNormLSTM, layernorm_reference),
    (MGU, mgu_reference),
    (NestedLSTM, nested_reference),
]


@pytest.mark.parametrize("cell_class, reference", REFERENCES)
def test_cell_matches_its_papers_equations(cell_class, reference):
    torch.manual_seed(0)
    cell = cell_class(input_size=3, hidden_size=5).double()
    with torch.no_grad():  # non-trivial gains and shifts for the layer-normalised cell
        for name, parameter in cell.named_parameters():
            if name.startswith(("gain", "shift")):
                parameter.uniform_(0.5, 1.5)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    for _ in range(3):  # TorchScript's profiling runs optimise the graph after a few calls
        states, final = cell(x)
    expected = reference(cell, x)
    torch.testing.assert_close(states, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(final[0], expected[:, -1], atol=1e-6, rtol=0)


def lstm_like(input_size, hidden_size):
    torch.manual_seed(1)
    return nn.LSTM(input_size, hidden_size, batch_first=True).double()


def test_peephole_lstm_with_zero_peepholes_is_the_lstm():
    lstm = lstm_like(3, 4)
    cell = PeepholeLSTM(input_size=3, hidden_size=4).double()
    with torch.no_grad():
        cell.weight_ih.copy_(lstm.weight_ih_l0)
        cell.weight_hh.copy_(lstm.weight_hh_l0)
        cell.bias.copy_(lstm.bias_ih_l0 + lstm.bias_hh_l0)
        cell.peephole.zero_()
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    expected, (_, c_n) = lstm(x)
    states, (_, c) = cell(x)
    torch.testing.assert_close(states, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(c, c_n[0], atol=1e-6, rtol=0)


def test_cifg_is_the_lstm_whose_forget_gate_mirrors_its_input_gate():
    """1 - sigmoid(a) = sigmoid(-a): f_t = 1 - i_t is an LSTM forget gate with -W_i, -U_i,
    -b_i."""
    lstm = lstm_like(3, 4)
    cell = CIFGLSTM(input_size=3, hidden_size=4).double()
    with torch.no_grad():
        for ours, theirs in (
            (cell.weight_ih, lstm.weight_ih_l0),
            (cell.weight_hh, lstm.weight_hh_l0),
        ):
            i, g, o = ours.chunk(3, 0)
            theirs.copy_(torch.cat([i, -i, g, o]))
        i, g, o = cell.bias.chunk(3, 0)
        lstm.bias_ih_l0.copy_(torch.cat([i, -i, g, o]))
        lstm.bias_hh_l0.zero_()
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    expected, _ = lstm(x)
    states, _ = cell(x)
    torch.testing.assert_close(states, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", list(SCRIPTED_CELLS))
def test_padding_never_reaches_a_real_token(cell):
    """Stacked and bidirectional: a sentence's states are the same alone and beside a longer
    neighbour with garbage after it; padded positions are zero and get no gradient."""
    torch.manual_seed(2)
    encoder = RNNEncoder(input_size=3, hidden_size=4, num_layers=2, cell=cell, dropout=0.3)
    encoder.eval()
    sentence = torch.randn(1, 3, 3)
    alone = encoder(sentence, torch.tensor([3]))  # (1, 3, 8)
    batch = torch.randn(2, 6, 3) * 5  # row 0: the sentence, then garbage padding
    batch[0, :3] = sentence[0]
    batch.requires_grad_(True)
    together = encoder(batch, torch.tensor([3, 6]))  # (2, 6, 8)
    torch.testing.assert_close(together[0, :3], alone[0], atol=1e-6, rtol=1e-5)
    assert together[0, 3:].abs().sum() == 0
    together[0].sum().backward()
    assert batch.grad[0, 3:].abs().sum() == 0
    assert batch.grad[0, :3].abs().sum() > 0


@pytest.mark.parametrize("cell", ["peephole_lstm", "mgu", "nested_lstm"])
def test_streamed_windows_equal_one_pass(cell):
    """A language model's state carried from one window to the next gives the states of one
    pass over the whole stream."""
    torch.manual_seed(3)
    encoder = RNNEncoder(
        input_size=3, hidden_size=4, num_layers=2, cell=cell, bidirectional=False
    ).eval()
    x = torch.randn(2, 8, 3)
    whole, _ = encoder.stream(x)
    first, state = encoder.stream(x[:, :5])
    second, _ = encoder.stream(x[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(encoder(x, torch.tensor([8, 8])), whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "nested_lstm"])
def test_orthogonal_init(cell):
    torch.manual_seed(4)
    encoder = RNNEncoder(input_size=6, hidden_size=5, cell=cell, init="orthogonal")
    named = dict(encoder.named_parameters())
    recurrent = [p for name, p in named.items() if "weight_hh" in name]
    assert recurrent
    for weight in recurrent:
        for block in weight.detach().chunk(weight.size(0) // 5, 0):  # one per gate
            torch.testing.assert_close(block @ block.T, torch.eye(5), atol=1e-5, rtol=0)
    biases = [p for name, p in named.items() if "bias" in name and "bias_hh" not in name]
    for bias in biases:
        gates = bias.detach().chunk(bias.size(0) // 5)
        if cell == "gru":
            assert all(gate.abs().sum() == 0 for gate in gates)
        else:  # i, f, g, o: the forget gate's bias is one, the others zero
            assert [gate.unique().tolist() for gate in gates] == [[0.0], [1.0], [0.0], [0.0]]
