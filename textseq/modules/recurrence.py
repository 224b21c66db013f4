"""What the hand-written recurrent cells (peephole_lstm, cifg_lstm, layernorm_lstm, mgu,
nested_lstm) share: scripting their time loops, their zero state and their initialisation.

Each cell is one layer, one direction: `forward(x, state)` takes x (B, T, E) and a tuple of
(B, H) states (None: zeros) and returns the states at every step (B, T, H) and the final
state. The input projection W x_t of every step is one matrix product before the loop; the
loop itself, which only adds the recurrent product and the gate arithmetic, runs through
TorchScript, so no Python runs per time step.

Shapes: B batch, T time steps, E input size, H hidden size, G gate blocks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn


def script(function: Callable) -> Callable:
    """`function` compiled by TorchScript. torch 2.x announces TorchScript's deprecation in
    favour of torch.compile, whose CPU backend needs a C++ toolchain at run time and
    compiles every sequence length anew; TorchScript runs and differentiates a loop over
    time without either, after optimising it over its first calls in a process (seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(function)


def zero_state(x: torch.Tensor, hidden_size: int, count: int) -> tuple[torch.Tensor, ...]:
    """`count` zero states (B, H) for the batch of x (B, T, E)."""
    return tuple(x.new_zeros(x.size(0), hidden_size) for _ in range(count))


def reset_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's recurrent initialisation: every weight and bias of `module` (gains of
    layer normalisation excepted: those start at one, their shifts at zero) drawn from
    U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for name, parameter in module.named_parameters():
        if name.startswith("gain"):
            nn.init.ones_(parameter)
        elif name.startswith("shift"):
            nn.init.zeros_(parameter)
        else:
            nn.init.uniform_(parameter, -bound, bound)
