"""The LSTM with coupled input and forget gates (CIFG; Greff et al. 2017, "LSTM: A Search
Space Odyssey", variant CIFG without peepholes): the cell forgets exactly as much as it
writes, f_t = 1 - i_t, one gate fewer than the LSTM.

    i_t = sigmoid(W_i x_t + U_i h_{t-1} + b_i)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = (1 - i_t) * c_{t-1} + i_t * g_t
    o_t = sigmoid(W_o x_t + U_o h_{t-1} + b_o)
    h_t = o_t * tanh(c_t)

Since 1 - sigmoid(a) = sigmoid(-a), this is the LSTM whose forget gate has weights and bias
-W_i, -U_i, -b_i (tested against torch.nn.LSTM so built).

Shapes: B batch, T time steps, E input size, H hidden size.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.recurrence import reset_uniform, script, zero_state


def _recurrence(
    xw: torch.Tensor, u: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw: (B, T, 3H) W x_t + b, u: (H, 3H) U transposed, h, c: (B, H) -> (B, T, H), h_T,
    c_T."""
    states = []
    for t in range(xw.size(1)):
        a_i, a_g, a_o = (xw[:, t] + h @ u).chunk(3, 1)  # each (B, H)
        i = torch.sigmoid(a_i)
        c = (1.0 - i) * c + i * torch.tanh(a_g)  # (B, H)
        h = torch.sigmoid(a_o) * torch.tanh(c)  # (B, H)
        states.append(h)
    return torch.stack(states, 1), h, c  # (B, T, H)


_recurrence = script(_recurrence)


class CIFGLSTM(nn.Module):
    """One layer, one direction; state (h, c). No forget gate of its own."""

    gates = ("i", "g", "o")
    num_states = 2

    def __init__(self, *, input_size: int, hidden_size: int):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * h, input_size))  # W
        self.weight_hh = nn.Parameter(torch.empty(3 * h, h))  # U
        self.bias = nn.Parameter(torch.empty(3 * h))  # b
        reset_uniform(self, hidden_size)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x: (B, T, E), state (h, c) each (B, H) -> (B, T, H), (h_T, c_T)."""
        h, c = state if state is not None else zero_state(x, self.hidden_size, 2)
        xw = nn.functional.linear(x, self.weight_ih, self.bias)  # (B, T, 3H)
        states, h, c = _recurrence(xw, self.weight_hh.t(), h, c)
        return states, (h, c)
