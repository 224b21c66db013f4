"""The Minimal Gated Unit (Zhou et al. 2016, "Minimal Gated Unit for Recurrent Neural
Networks", eqs. 8-10): a GRU whose reset and update gates are one forget gate f.

    f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
    g_t = tanh(W_h x_t + U_h (f_t * h_{t-1}) + b_h)              (the candidate ~h_t)
    h_t = (1 - f_t) * h_{t-1} + f_t * g_t

Shapes: B batch, T time steps, E input size, H hidden size.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.modules.recurrence import reset_uniform, script, zero_state


def _recurrence(
    xw: torch.Tensor, u: torch.Tensor, h: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """xw: (B, T, 2H) W x_t + b of every step, u: (H, 2H) [U_f; U_h] transposed, h: (B, H)
    -> (B, T, H), h_T."""
    hidden = u.size(0)
    u_f, u_h = u[:, :hidden], u[:, hidden:]  # each (H, H)
    states = []
    for t in range(xw.size(1)):
        x_f, x_h = xw[:, t].chunk(2, 1)  # each (B, H)
        f = torch.sigmoid(x_f + h @ u_f)  # (B, H)
        g = torch.tanh(x_h + (f * h) @ u_h)  # (B, H)
        h = (1.0 - f) * h + f * g  # (B, H)
        states.append(h)
    return torch.stack(states, 1), h  # (B, T, H)


_recurrence = script(_recurrence)


class MGU(nn.Module):
    """One layer, one direction; state (h,). Its f_t plays a GRU's update gate (1: take the
    candidate), so orthogonal initialisation gives it no forget-gate bias."""

    gates = ("z", "h")
    num_states = 1

    def __init__(self, *, input_size: int, hidden_size: int):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(2 * h, input_size))  # [W_f; W_h]
        self.weight_hh = nn.Parameter(torch.empty(2 * h, h))  # [U_f; U_h]
        self.bias = nn.Parameter(torch.empty(2 * h))  # [b_f; b_h]
        reset_uniform(self, hidden_size)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x: (B, T, E), state (h,) with h (B, H) -> (B, T, H), (h_T,)."""
        (h,) = state if state is not None else zero_state(x, self.hidden_size, 1)
        xw = nn.functional.linear(x, self.weight_ih, self.bias)  # (B, T, 2H)
        states, h = _recurrence(xw, self.weight_hh.t(), h)
        return states, (h,)
