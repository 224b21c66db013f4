"""An exported translation model run by ONNX Runtime through the step interface of
`textseq.decoding` (`encode`, `start`, `step`), so that greedy and beam search are textseq's
own functions, not copies: what `textseq.load(DIR, onnx=FOLDER)` decodes with.

The folder `textseq export DIR --format onnx` writes (`textseq.tasks.translate.export`):

    encoder.onnx       src (B, S) int64, src_lengths (B,) int64
                         -> encoded.* (what every decoder step reads: the memory, its mask,
                            the projected keys or each layer's cross-attention keys and
                            values) and state.* (the decoder's state before the first step)
    decoder_step.onnx  y_prev (B,) int64, state.*, encoded.*
                         -> logits (B, V), next.* (the state after this step), alphas (B, S)

A recurrent model's state is its hidden (and cell) states and the fed-back attentional state;
a Transformer's is every decoder layer's self-attention keys and values of the prefix (its
key/value cache, (B, N, t, Dh), t growing by one each step). Every tensor is batch first, so
beam search reorders a state with one `index_select`, whichever graph it came from.

Shapes: B batch (or batch x beam), S source length, V target vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textseq.errors import ModelDirError
from textseq.inference import OnnxRunner

ENCODER = "encoder.onnx"
DECODER_STEP = "decoder_step.onnx"
ENCODED, STATE, NEXT = "encoded.", "state.", "next."

Tensors = dict[str, torch.Tensor]


def graph_files(folder: str | Path) -> tuple[Path, Path]:
    """The encoder and decoder-step files of an export folder; ModelDirError naming what is
    missing."""
    folder = Path(folder)
    if folder.is_file() and folder.name in (ENCODER, DECODER_STEP):
        folder = folder.parent  # the folder of either file will do
    files = folder / ENCODER, folder / DECODER_STEP
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ModelDirError(
            f"{folder} is not a translation model's ONNX export (no {', '.join(missing)}); "
            "write one with: textseq export DIR --format onnx"
        )
    return files


class OnnxSeq2Seq:
    """The encoder and decoder-step graphs of an export folder behind `encode`, `start` and
    `step` (see `textseq.decoding.StepModel`); encoded memories and states are dicts of
    batch-first tensors, named as the graphs' inputs."""

    def __init__(self, folder: str | Path, *, threads: int | None = None):
        encoder, step = graph_files(folder)
        threads = threads or torch.get_num_threads()
        self.encoder = OnnxRunner(encoder, threads=threads)
        self.decoder = OnnxRunner(step, threads=threads)
        meta = self.encoder.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(meta)
        self.step_inputs = set(self.decoder.input_names)
        self.step_outputs = [o.name for o in self.decoder.session.get_outputs()]
        self.encoder_outputs = [o.name for o in self.encoder.session.get_outputs()]

    @property
    def config(self) -> dict[str, Any]:
        """The model's config as the export recorded it."""
        return json.loads(self.metadata.get("textseq.config", "{}"))

    def eval(self) -> OnnxSeq2Seq:
        """Nothing to switch: the graphs were exported in eval mode."""
        return self

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> dict[str, Tensors]:
        """src (B, S), src_lengths (B,) -> {"encoded": ..., "state": the first state}; both
        are carried together so that beam search's expansion to B*K rows reaches both."""
        outputs = self.encoder.session.run(
            None, {"src": _array(src), "src_lengths": _array(src_lengths)}
        )
        named = dict(zip(self.encoder_outputs, outputs, strict=True))
        return {
            "encoded": {k: torch.from_numpy(v) for k, v in named.items() if k.startswith(ENCODED)},
            "state": {k: torch.from_numpy(v) for k, v in named.items() if k.startswith(STATE)},
        }

    def start(self, encoded: dict[str, Tensors]) -> Tensors:
        return encoded["state"]

    def step(
        self, y_prev: torch.Tensor, state: Tensors, encoded: dict[str, Tensors]
    ) -> tuple[torch.Tensor, Tensors, torch.Tensor]:
        """y_prev (B,) -> logits (B, V), the next state, attention weights (B, S)."""
        feed = {"y_prev": _array(y_prev)}
        for name, tensor in (*state.items(), *encoded["encoded"].items()):
            if name in self.step_inputs:  # an exporter drops inputs a graph does not read
                feed[name] = _array(tensor)
        outputs = self.decoder.session.run(None, feed)
        named = dict(zip(self.step_outputs, outputs, strict=True))
        next_state = {
            STATE + k[len(NEXT) :]: torch.from_numpy(v)
            for k, v in named.items()
            if k.startswith(NEXT)
        }
        return torch.from_numpy(named["logits"]), next_state, torch.from_numpy(named["alphas"])


def _array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy())
