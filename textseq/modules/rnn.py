"""Recurrent encoders over padded batches, or over unpadded streams with a state carried
between calls (language models).

Padded batches run one of two paths with the same outputs and gradients (tested):

- masked (the default, `RNNEncoder.forward_masked`): each layer and direction is one call of
  PyTorch's fused recurrence over the whole padded batch (for an LSTM on the CPU, oneDNN's
  kernel). The forward direction reads the padded batch as it is (padding comes after
  the real tokens, so it never reaches them), and the backward direction reads every sequence
  reversed within its own length, which puts its padding last too; states at padded positions
  are zeroed. Plain tensor ops, so exporters such as ONNX handle it.
- packed (`packed=True`): `pack_padded_sequence`, so padding is never computed at all, but on
  the CPU PyTorch runs packed sequences through its own step-by-step kernel, which is why the
  masked path is the default: it trains faster even when half of a batch is padding (the
  figures are in benchmarks/results/notebook.md, "Training throughput").

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
        packed: bool = False,
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
        # True: run padded batches as packed sequences; False: the mask-based path (see the
        # module's docstring). Inference switches it per model (`textseq.inference`).
        self.packed = packed

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, E), lengths: (B,) -> states (B, T, D*H)."""
        if not self.packed:
            return self.forward_masked(x, lengths)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        # The zero initial state, given explicitly: a traced graph (TorchScript export) then
        # takes the batch size from x instead of baking in the traced batch's.
        h0 = x.new_zeros(self.num_layers * self.num_directions, x.size(0), self.hidden_size)
        packed_states, _ = self.rnn(packed, (h0, h0) if self.cell == "lstm" else h0)
        states, _ = pad_packed_sequence(
            packed_states, batch_first=True, total_length=x.size(1)
        )  # (B, T, D*H)
        return states

    def forward_masked(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The same as `forward` without packed sequences: x (B, T, E), lengths (B,) -> states
        (B, T, D*H), zeros at padded positions. Each layer and direction runs as its own
        one-layer, one-direction recurrence over the whole padded batch."""
        positions = torch.arange(x.size(1), device=x.device)  # (T,)
        mask = positions < lengths[:, None]  # (B, T)
        # Where position t of the reversed sequence comes from: length-1-t for real tokens,
        # t itself for padding (left where it is).
        source = torch.where(mask, lengths[:, None] - 1 - positions, positions)  # (B, T)
        layer_input = x  # (B, T, E)
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.rnn.dropout > 0:
                layer_input = nn.functional.dropout(layer_input, p=self.rnn.dropout)
            directions = []
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                if direction == 0:
                    directions.append(self._one_direction(layer_input, suffix))  # (B, T, H)
                else:
                    reversed_input = _gather_time(layer_input, source)  # (B, T, E')
                    states = self._one_direction(reversed_input, suffix)  # (B, T, H)
                    directions.append(_gather_time(states, source))  # (B, T, H), re-reversed
            layer_input = torch.cat(directions, dim=-1)  # (B, T, D*H)
        return layer_input * mask.unsqueeze(-1).to(layer_input.dtype)  # (B, T, D*H)

    def _one_direction(self, x: torch.Tensor, suffix: str) -> torch.Tensor:
        """One layer, one direction of `self.rnn` (weights named with `suffix`, e.g. `_l1`,
        `_l0_reverse`) from zero state over x (B, T, E') -> (B, T, H)."""
        weights = [
            getattr(self.rnn, f"{name}{suffix}")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        h0 = x.new_zeros(1, x.size(0), self.hidden_size)  # (1, B, H)
        # The same kernels nn.LSTM/GRU/RNN call, for a single layer and direction.
        if self.cell == "lstm":
            states, _, _ = torch._VF.lstm(x, (h0, h0), weights, True, 1, 0.0, False, False, True)
        elif self.cell == "gru":
            states, _ = torch._VF.gru(x, h0, weights, True, 1, 0.0, False, False, True)
        elif self.cell == "rnn_tanh":
            states, _ = torch._VF.rnn_tanh(x, h0, weights, True, 1, 0.0, False, False, True)
        else:
            states, _ = torch._VF.rnn_relu(x, h0, weights, True, 1, 0.0, False, False, True)
        return states  # (B, T, H)

    def stream(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T, E) unpadded, state: the one the previous window returned (None: zeros)
        -> states (B, T, D*H), the final state to pass to the next window."""
        states, state = self.rnn(x, state)  # (B, T, D*H)
        return states, state


def _gather_time(x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """x (B, T, F) with its time steps rearranged: out[b, t] = x[b, source[b, t]]."""
    index = source.unsqueeze(-1).expand(-1, -1, x.size(-1))  # (B, T, F)
    return torch.gather(x, 1, index)  # (B, T, F)
