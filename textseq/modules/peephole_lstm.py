"""The LSTM with peephole connections (Gers & Schmidhuber 2000), in the form of Graves
(2013, eqs. 7-11): the gates also read the cell state, through diagonal weights p.

    i_t = sigmoid(W_i x_t + U_i h_{t-1} + p_i * c_{t-1} + b_i)
    f_t = sigmoid(W_f x_t + U_f h_{t-1} + p_f * c_{t-1} + b_f)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = sigmoid(W_o x_t + U_o h_{t-1} + p_o * c_t + b_o)      (the new cell state)
    h_t = o_t * tanh(c_t)

The gate blocks are stacked i, f, g, o as in torch.nn.LSTM, so with p = 0 this is
torch.nn.LSTM (tested).

Shapes: B batch, T time steps, E input size, H hidden size.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.recurrence import reset_uniform, script, zero_state


def _recurrence(
    xw: torch.Tensor, u: torch.Tensor, p: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw: (B, T, 4H) W x_t + b of every step, u: (H, 4H) U transposed, p: (3, H) peepholes
    p_i, p_f, p_o, h, c: (B, H) -> h_1..h_T (B, T, H), h_T, c_T."""
    states = []
    for t in range(xw.size(1)):
        a_i, a_f, a_g, a_o = (xw[:, t] + h @ u).chunk(4, 1)  # each (B, H)
        i = torch.sigmoid(a_i + p[0] * c)
        f = torch.sigmoid(a_f + p[1] * c)
        c = f * c + i * torch.tanh(a_g)  # (B, H)
        o = torch.sigmoid(a_o + p[2] * c)
        h = o * torch.tanh(c)  # (B, H)
        states.append(h)
    return torch.stack(states, 1), h, c  # (B, T, H)


_recurrence = script(_recurrence)


class PeepholeLSTM(nn.Module):
    """One layer, one direction; state (h, c)."""

    gates = ("i", "f", "g", "o")
    num_states = 2

    def __init__(self, *, input_size: int, hidden_size: int):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * h, input_size))  # W
        self.weight_hh = nn.Parameter(torch.empty(4 * h, h))  # U
        self.bias = nn.Parameter(torch.empty(4 * h))  # b
        self.peephole = nn.Parameter(torch.empty(3, h))  # p_i, p_f, p_o
        reset_uniform(self, hidden_size)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x: (B, T, E), state (h, c) each (B, H) -> (B, T, H), (h_T, c_T)."""
        h, c = state if state is not None else zero_state(x, self.hidden_size, 2)
        xw = nn.functional.linear(x, self.weight_ih, self.bias)  # (B, T, 4H)
        states, h, c = _recurrence(xw, self.weight_hh.t(), self.peephole, h, c)
        return states, (h, c)
