"""Recurrent encoders over padded batches, run as packed sequences so padding is never read,
or over unpadded streams with a state carried between calls (language models).

Shapes: B batch, T longest length, E input size, H hidden size, D directions (1 or 2),
L layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")

# An LSTM's state is (h, c), each (L*D, B, H); a GRU's or Elman RNN's is h alone.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def detach_state(state: State | None) -> State | None:
    """The same state cut from the graph that produced it (truncated BPTT: gradients stop at
    the window boundary while the values carry on)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class RNNEncoder(nn.Module):
    """A stacked, optionally bidirectional LSTM, GRU or Elman RNN (tanh or ReLU).

    `forward` returns the top layer's states at every position, `(B, T, D*H)`, with zeros at
    padded positions. Forward-direction features come first, backward second, as in PyTorch.
    """

    def __init__(
        self,
        *,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell ({cell!r}) must be one of {', '.join(CELLS)}")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(
                f"num_layers ({num_layers}) and hidden_size ({hidden_size}) must be positive"
            )
        # PyTorch applies `dropout` between layers only; with one layer it would warn and do
        # nothing, so it is left at zero there.
        inter_layer_dropout = dropout if num_layers > 1 else 0.0
        common = dict(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=inter_layer_dropout,
            batch_first=True,
        )
        if cell == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(**common)
        elif cell == "gru":
            self.rnn = nn.GRU(**common)
        else:
            self.rnn = nn.RNN(nonlinearity=cell.removeprefix("rnn_"), **common)
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, E), lengths: (B,) -> states (B, T, D*H)."""
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_states, _ = self.rnn(packed)
        states, _ = pad_packed_sequence(
            packed_states, batch_first=True, total_length=x.size(1)
        )  # (B, T, D*H)
        return states

    def stream(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T, E) unpadded, state: the one the previous window returned (None: zeros)
        -> states (B, T, D*H), the final state to pass to the next window."""
        states, state = self.rnn(x, state)  # (B, T, D*H)
        return states, state
