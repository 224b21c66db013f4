"""How a loaded model runs on the CPU: dynamic int8 quantisation and bf16 autocast, chosen at
load time (`textseq.load(DIR, quantize="int8", precision="bf16")`, `--quantize int8` on
`predict` and `evaluate`). The one home for both, used by every predictor.

- `quantize="int8"`: dynamic quantisation (Jacob et al. 2018; PyTorch's
  `torch.ao.quantization.quantize_dynamic`). The weights of every LSTM, GRU and Linear layer
  are stored as int8 with one scale per tensor; activations are quantised on the fly, batch
  by batch, so nothing needs calibration data. Embedding tables, layer norms, convolutions and
  the CRF stay in fp32. The model shrinks about 4x in those layers and their matrix products
  run in int8 (fbgemm/x86 kernels).
- `precision="bf16"`: the forward pass runs under `torch.autocast("cpu", torch.bfloat16)`, so
  matrix products use bf16 (fast on CPUs with AVX-512 BF16 or AMX); outputs are cast back to
  fp32 before the softmax.

Recurrent encoders of fp32 and bf16 models run through their mask-based path
(`RNNEncoder.forward_masked`: the same outputs as packed sequences, tested), as in training.
int8 models run the packed path, which the quantised LSTM/GRU modules implement.

The two are alternatives: a quantised model runs its int8 layers as int8 whatever the
precision, so asking for both is refused.

The option names and their check are what the command line needs to build its parser, so this
module imports PyTorch in the functions that run a model, not at its top.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

    from textseq.models.classifier import ClassifierOutput

QUANTIZATIONS = ("int8",)
PRECISIONS = ("fp32", "bf16")


def check_inference_options(quantize: str | None, precision: str) -> None:
    """ValueError naming the bad value when `quantize` or `precision` is not one we run."""
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(
            f"quantize ({quantize!r}) must be None or one of {', '.join(QUANTIZATIONS)}"
        )
    if precision not in PRECISIONS:
        raise ValueError(f"precision ({precision!r}) must be one of {', '.join(PRECISIONS)}")
    if quantize is not None and precision != "fp32":
        raise ValueError(
            f"quantize ({quantize!r}) and precision ({precision!r}) are alternatives: an int8 "
            "model's quantised layers run in int8 whatever the precision"
        )


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """`model` with every nn.LSTM, nn.GRU and nn.Linear replaced by its dynamically quantised
    int8 counterpart (a new module; `model` itself is left as it was). Eval mode only."""
    import torch
    from torch import nn
    from torch.ao.quantization import quantize_dynamic

    if "x86" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; the eager API still works.
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(
            model.eval(), {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8, inplace=False
        )
    # The quantised LSTM/GRU modules run packed sequences, not the masked path's per-layer
    # calls into the float kernels.
    use_masked_recurrence(quantized, False)
    return quantized


def use_masked_recurrence(model: nn.Module, masked: bool = True) -> None:
    """Switches every RNNEncoder in `model` to its mask-based path (or back to packing)."""
    from textseq.modules.rnn import RNNEncoder

    for module in model.modules():
        if isinstance(module, RNNEncoder):
            module.packed = not masked


def prepare_for_inference(model: nn.Module, *, quantize: str | None = None) -> nn.Module:
    """The model a predictor runs: in eval mode, quantised when asked, else with masked
    recurrence."""
    model = model.eval()
    if quantize == "int8":
        return quantize_dynamic_int8(model)
    use_masked_recurrence(model, True)
    return model


def is_quantized(model: nn.Module) -> bool:
    """True when some layer of `model` is a dynamically quantised module."""
    return any(
        type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules()
    )


@contextlib.contextmanager
def autocast(precision: str) -> Iterator[None]:
    """The context a forward pass of the given precision runs in (nothing for fp32)."""
    if precision == "bf16":
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield


class OnnxRunner:
    """An exported ONNX file run by ONNX Runtime, called like the graph it came from."""

    def __init__(self, path: str | Path, *, threads: int | None = None):
        import onnxruntime  # the export extra

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        import torch

        feed = {name: x.numpy() for name, x in zip(self.input_names, inputs, strict=True)}
        return [torch.from_numpy(out) for out in self.session.run(None, feed)]


class OnnxClassifier:
    """An exported classifier run by ONNX Runtime, called like the PyTorch classifier:
    (token_ids, lengths) -> ClassifierOutput. What `textseq.load(DIR, onnx=FILE)` runs."""

    def __init__(self, path: str | Path, *, threads: int | None = None):
        import torch

        self.runner = OnnxRunner(path, threads=threads or torch.get_num_threads())

    def __call__(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        from textseq.models.classifier import ClassifierOutput

        outputs = self.runner(token_ids, lengths)
        return ClassifierOutput(outputs[0], outputs[1] if len(outputs) > 1 else None)
