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

The cells PyTorch has no kernel for (`peephole_lstm`, `cifg_lstm`, `layernorm_lstm`, `mgu`,
`nested_lstm`, one file each in this package) always run the masked path, one scripted time
loop per layer and direction (`textseq.modules.recurrence`).

`init="orthogonal"` replaces PyTorch's uniform initialisation: each gate's recurrent block
orthogonal (Saxe et al. 2014), each gate's input block Xavier-uniform (Glorot & Bengio 2010),
biases zero except the forget gate's, one (Jozefowicz et al. 2015), where the cell has one.

Shapes: B batch, T longest length, E input size, H hidden size, D directions (1 or 2),
L layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textseq.modules.cifg_lstm import CIFGLSTM
from textseq.modules.layernorm_lstm import LayerNormLSTM
from textseq.modules.mgu import MGU
from textseq.modules.nested_lstm import NestedLSTM
from textseq.modules.peephole_lstm import PeepholeLSTM

# The cells written here, each one layer and one direction (see textseq.modules.recurrence).
SCRIPTED_CELLS: dict[str, type[nn.Module]] = {
    "peephole_lstm": PeepholeLSTM,
    "cifg_lstm": CIFGLSTM,
    "layernorm_lstm": LayerNormLSTM,
    "mgu": MGU,
    "nested_lstm": NestedLSTM,
}
CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu", *SCRIPTED_CELLS)
INITS = ("default", "orthogonal")
# Gate blocks of PyTorch's own cells, in the order of their stacked weights.
_TORCH_GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

# An LSTM's state is (h, c), each (L*D, B, H); a GRU's or Elman RNN's is h alone; a scripted
# cell's is its own state tensors, (h, c, ~c) for the nested LSTM.
State = torch.Tensor | tuple[torch.Tensor, ...]


def detach_state(state: State | None) -> State | None:
    """The same state cut from the graph that produced it (truncated BPTT: gradients stop at
    the window boundary while the values carry on)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class RNNEncoder(nn.Module):
    """A stacked, optionally bidirectional LSTM, GRU, Elman RNN (tanh or ReLU) or one of the
    scripted cells (`SCRIPTED_CELLS`).

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
        init: str = "default",
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell ({cell!r}) must be one of {', '.join(CELLS)}")
        if init not in INITS:
            raise ValueError(f"init ({init!r}) must be one of {', '.join(INITS)}")
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
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions
        self.dropout = inter_layer_dropout
        if cell in SCRIPTED_CELLS:
            # One layer and direction each, named as nn.LSTM's weights are suffixed.
            self.layers = nn.ModuleDict(
                {
                    f"l{layer}{suffix}": SCRIPTED_CELLS[cell](
                        input_size=input_size if layer == 0 else self.output_size,
                        hidden_size=hidden_size,
                    )
                    for layer in range(num_layers)
                    for suffix in ("", "_reverse")[: self.num_directions]
                }
            )
        elif cell == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(**common)
        elif cell == "gru":
            self.rnn = nn.GRU(**common)
        else:
            self.rnn = nn.RNN(nonlinearity=cell.removeprefix("rnn_"), **common)
        # True: run padded batches as packed sequences; False: the mask-based path (see the
        # module's docstring). Inference switches it per model (`textseq.inference`); the
        # scripted cells run the masked path either way.
        self.packed = packed
        if init == "orthogonal":
            self.initialise_orthogonal()

    def initialise_orthogonal(self) -> None:
        """Recurrent gate blocks orthogonal, input gate blocks Xavier-uniform, biases zero and
        the forget gate's one (see the module's docstring)."""
        if self.cell in SCRIPTED_CELLS:
            modules = [(layer, layer.gates) for layer in self.layers.values()]
        else:
            modules = [(self.rnn, _TORCH_GATES.get(self.cell, ("h",)))]
        for module, gates in modules:
            forget = gates.index("f") if "f" in gates else None
            for name, parameter in module.named_parameters():
                blocks = parameter.data.chunk(len(gates), 0)  # one per gate
                if "weight_hh" in name:
                    for block in blocks:
                        nn.init.orthogonal_(block)
                elif "weight_ih" in name:
                    for block in blocks:
                        nn.init.xavier_uniform_(block)
                elif "bias" in name:
                    nn.init.zeros_(parameter)
                    # PyTorch's cells have two biases that add up: one of them carries the 1.
                    if forget is not None and "bias_hh" not in name:
                        nn.init.ones_(blocks[forget])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, E), lengths: (B,) -> states (B, T, D*H)."""
        if not self.packed or self.cell in SCRIPTED_CELLS:
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
            if layer > 0 and self.training and self.dropout > 0:
                layer_input = nn.functional.dropout(layer_input, p=self.dropout)
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
        if self.cell in SCRIPTED_CELLS:
            states, _ = self.layers[suffix.removeprefix("_")](x)
            return states  # (B, T, H)
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
        if self.cell not in SCRIPTED_CELLS:
            states, state = self.rnn(x, state)  # (B, T, D*H)
            return states, state
        return self._stream_scripted(x, state)

    def _stream_scripted(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """`stream` for the scripted cells, one direction: the state is nn.LSTM's layout,
        each of the cell's state tensors (L, B, H), a lone tensor for a one-state cell."""
        if self.bidirectional:
            raise ValueError("streaming runs unidirectional encoders only")
        if isinstance(state, torch.Tensor):
            state = (state,)
        finals = []
        layer_input = x  # (B, T, E)
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                layer_input = nn.functional.dropout(layer_input, p=self.dropout)
            layer_state = None if state is None else tuple(s[layer] for s in state)  # (B, H)
            layer_input, final = self.layers[f"l{layer}"](layer_input, layer_state)  # (B, T, H)
            finals.append(final)
        stacked = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))  # (L, B, H)
        return layer_input, stacked[0] if len(stacked) == 1 else stacked


def _gather_time(x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """x (B, T, F) with its time steps rearranged: out[b, t] = x[b, source[b, t]]."""
    index = source.unsqueeze(-1).expand(-1, -1, x.size(-1))  # (B, T, F)
    return torch.gather(x, 1, index)  # (B, T, F)
