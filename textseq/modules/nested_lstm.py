"""The nested LSTM (Moniz & Krueger 2017, "Nested LSTMs", sec. 3.1): the outer LSTM's
memory update c_t = f_t * c_{t-1} + i_t * g_t is replaced by an inner LSTM whose input is
the outer cell's write i_t * g_t and whose "previous hidden state" is the kept memory
f_t * c_{t-1}; the inner LSTM's output is the outer cell state.

    outer     i_t = sigmoid(W_i x_t + U_i h_{t-1} + b_i)
              f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
              g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
              o_t = sigmoid(W_o x_t + U_o h_{t-1} + b_o)
    inner     ~x_t = i_t * g_t,   ~h_{t-1} = f_t * c_{t-1}
              [~i; ~f; ~g; ~o] = ~W ~x_t + ~U ~h_{t-1} + ~b   (sigmoid, sigmoid, tanh, sigmoid)
              ~c_t = ~f_t * ~c_{t-1} + ~i_t * ~g_t
              c_t = ~h_t = ~o_t * tanh(~c_t)
    output    h_t = o_t * tanh(c_t)

tanh is the inner output activation (the paper leaves sigma~_h a choice). The state is
(h, c, ~c).

Shapes: B batch, T time steps, E input size, H hidden size.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.recurrence import reset_uniform, script, zero_state


def _recurrence(
    xw: torch.Tensor,
    u: torch.Tensor,
    inner_w: torch.Tensor,
    inner_u: torch.Tensor,
    inner_b: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    inner_c: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw: (B, T, 4H) W x_t + b, u, inner_w, inner_u: (H, 4H) U, ~W, ~U transposed,
    inner_b: (4H,), h, c, inner_c: (B, H) -> (B, T, H), h_T, c_T, ~c_T."""
    states = []
    for t in range(xw.size(1)):
        a_i, a_f, a_g, a_o = (xw[:, t] + h @ u).chunk(4, 1)  # each (B, H)
        x_inner = torch.sigmoid(a_i) * torch.tanh(a_g)  # ~x_t (B, H)
        h_inner = torch.sigmoid(a_f) * c  # ~h_{t-1} (B, H)
        b_i, b_f, b_g, b_o = (x_inner @ inner_w + h_inner @ inner_u + inner_b).chunk(4, 1)
        inner_c = torch.sigmoid(b_f) * inner_c + torch.sigmoid(b_i) * torch.tanh(b_g)  # (B, H)
        c = torch.sigmoid(b_o) * torch.tanh(inner_c)  # c_t = ~h_t (B, H)
        h = torch.sigmoid(a_o) * torch.tanh(c)  # (B, H)
        states.append(h)
    return torch.stack(states, 1), h, c, inner_c  # (B, T, H)


_recurrence = script(_recurrence)


class NestedLSTM(nn.Module):
    """One layer, one direction; state (h, c, ~c). `inner_*` are the inner LSTM's ~W, ~U,
    ~b, gate blocks ordered as the outer ones."""

    gates = ("i", "f", "g", "o")
    num_states = 3

    def __init__(self, *, input_size: int, hidden_size: int):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * h, input_size))  # W
        self.weight_hh = nn.Parameter(torch.empty(4 * h, h))  # U
        self.bias = nn.Parameter(torch.empty(4 * h))  # b
        self.inner_weight_ih = nn.Parameter(torch.empty(4 * h, h))  # ~W
        self.inner_weight_hh = nn.Parameter(torch.empty(4 * h, h))  # ~U
        self.inner_bias = nn.Parameter(torch.empty(4 * h))  # ~b
        reset_uniform(self, hidden_size)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x: (B, T, E), state (h, c, ~c) each (B, H) -> (B, T, H), (h_T, c_T, ~c_T)."""
        h, c, inner_c = state if state is not None else zero_state(x, self.hidden_size, 3)
        xw = nn.functional.linear(x, self.weight_ih, self.bias)  # (B, T, 4H)
        states, h, c, inner_c = _recurrence(
            xw,
            self.weight_hh.t(),
            self.inner_weight_ih.t(),
            self.inner_weight_hh.t(),
            self.inner_bias,
            h,
            c,
            inner_c,
        )
        return states, (h, c, inner_c)
