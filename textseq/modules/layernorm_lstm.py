"""The layer-normalised LSTM (Ba et al. 2016, "Layer Normalization", sec. 6, eqs. 20-22):
the input and the recurrent contributions to the gates are each normalised over the 4H
summed inputs, and so is the cell state before its output squashing.

    a_t = LN(W x_t; alpha_x) + LN(U h_{t-1}; alpha_h) + b     a_t = [a_i; a_f; a_g; a_o]
    c_t = sigmoid(a_f) * c_{t-1} + sigmoid(a_i) * tanh(a_g)
    h_t = sigmoid(a_o) * tanh(LN(c_t; alpha_c, beta_c))

    LN(z; alpha, beta) = alpha * (z - mean(z)) / sqrt(var(z) + eps) + beta, over z's features

The shifts beta of the two gate normalisations add to b, so they are folded into b. Gains
start at one and shifts at zero (Ba et al.).

Shapes: B batch, T time steps, E input size, H hidden size.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.recurrence import reset_uniform, script, zero_state

EPS = 1e-5


def _recurrence(
    xw: torch.Tensor,
    u: torch.Tensor,
    gain_hh: torch.Tensor,
    bias: torch.Tensor,
    gain_c: torch.Tensor,
    shift_c: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw: (B, T, 4H) LN(W x_t; alpha_x) of every step, u: (H, 4H) U transposed, gain_hh and
    bias: (4H,), gain_c and shift_c: (H,), h, c: (B, H) -> (B, T, H), h_T, c_T."""
    four_h = [u.size(1)]
    hidden = [u.size(0)]
    eps = 1e-5  # EPS (TorchScript reads no module globals)
    states = []
    for t in range(xw.size(1)):
        uh = nn.functional.layer_norm(h @ u, four_h, gain_hh, None, eps)  # (B, 4H)
        a_i, a_f, a_g, a_o = (xw[:, t] + uh + bias).chunk(4, 1)  # each (B, H)
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)  # (B, H)
        c_norm = nn.functional.layer_norm(c, hidden, gain_c, shift_c, eps)  # (B, H)
        h = torch.sigmoid(a_o) * torch.tanh(c_norm)  # (B, H)
        states.append(h)
    return torch.stack(states, 1), h, c  # (B, T, H)


_recurrence = script(_recurrence)


class LayerNormLSTM(nn.Module):
    """One layer, one direction; state (h, c)."""

    gates = ("i", "f", "g", "o")
    num_states = 2

    def __init__(self, *, input_size: int, hidden_size: int):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * h, input_size))  # W
        self.weight_hh = nn.Parameter(torch.empty(4 * h, h))  # U
        self.bias = nn.Parameter(torch.empty(4 * h))  # b (with the folded shifts)
        self.gain_ih = nn.Parameter(torch.empty(4 * h))  # alpha_x
        self.gain_hh = nn.Parameter(torch.empty(4 * h))  # alpha_h
        self.gain_c = nn.Parameter(torch.empty(h))  # alpha_c
        self.shift_c = nn.Parameter(torch.empty(h))  # beta_c
        reset_uniform(self, hidden_size)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x: (B, T, E), state (h, c) each (B, H) -> (B, T, H), (h_T, c_T)."""
        h, c = state if state is not None else zero_state(x, self.hidden_size, 2)
        xw = nn.functional.linear(x, self.weight_ih)  # (B, T, 4H)
        xw = nn.functional.layer_norm(xw, [xw.size(-1)], self.gain_ih, None, EPS)  # (B, T, 4H)
        states, h, c = _recurrence(
            xw, self.weight_hh.t(), self.gain_hh, self.bias, self.gain_c, self.shift_c, h, c
        )
        return states, (h, c)
