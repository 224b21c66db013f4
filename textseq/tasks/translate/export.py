"""What `textseq export DIR --format onnx` writes for a translation model (see `textseq.export`
for the writing): two graphs that run together, in the folder DIR/onnx (or --out), with
everything a consumer needs beside them.

    encoder.onnx       src (B, S), src_lengths (B,) -> encoded.*, state.*
    decoder_step.onnx  y_prev (B,), state.*, encoded.* -> logits (B, V), next.*, alphas (B, S)
    tokenizer.json, tgt_tokenizer.json   the source and target word-level pipelines as Hugging
                       Face tokenizers (for word-level models; a BPE model's own tokenizer)
    vocab.json, tgt_vocab.json

The graphs are the model's own `encode`, `start` and `step` (the step interface of
`textseq.decoding`), with the dataclasses they pass flattened into named tensors: a recurrent
model's `encoded.memory`, `encoded.mask`, `encoded.projected` (the attention's keys, projected
once) and state `state.hidden` [, `state.cell`], `state.feed`; a Transformer's
`encoded.keys_values.<layer>.<0 key|1 value>` (every layer's cross-attention keys and values,
projected once) and its key/value cache `state.past.<layer>.<0|1>` (B, N, t, Dh), which each
step returns one position longer as `next.past.<layer>.<0|1>`. Every axis that varies with the
batch, the source length or the prefix length is dynamic: found by tracing each graph at two
source lengths and two prefix lengths and naming the axes that changed.

Decoding is not in the graphs: `textseq.load(DIR, onnx=FOLDER)` runs textseq's own greedy
and beam search (`textseq.decoding`) over the two sessions (`OnnxSeq2Seq`). Each file's
metadata holds the task, textseq version and config like every ONNX export, plus its role,
the special token ids, the ids decoding must never produce, and the tokenizer and vocabulary
files.

The parity check translates the held-out sources (the validation split, or --data: a named
split or a file of source sentences, one per line) with the PyTorch model and the exported
graphs, greedy and with the config's beam: the next-token probabilities along PyTorch's greedy
translation must agree within the tolerance at every step of every sentence; the report gives
that difference, how many translations are identical, BLEU of both (with references) and the
sentences per second of both.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from textseq.decoding import StepModel
from textseq.errors import DataError, ExportError
from textseq.inference import use_masked_recurrence
from textseq.tasks.base import ExportBundle, ExportGraph
from textseq.tasks.translate.data import load_parallel, parse_named_parallel
from textseq.tasks.translate.metrics import bleu_tokenize, corpus_scores
from textseq.tasks.translate.onnx_model import (
    DECODER_STEP,
    ENCODED,
    ENCODER,
    NEXT,
    STATE,
    OnnxSeq2Seq,
)
from textseq.tasks.translate.predictor import TranslatorPredictor

# Files of the model directory copied beside the graphs, when it has them.
BESIDE = ("tokenizer.json", "tgt_tokenizer.json", "vocab.json", "tgt_vocab.json")


# --- named tensors <-> the model's dataclasses ------------------------------------------------


def leaves(obj: Any, prefix: str) -> list[tuple[str, torch.Tensor]]:
    """Every tensor in `obj` (tensors, dataclasses, lists and tuples, nested; None skipped)
    with a dotted name: `leaves(state, "state.")` -> [("state.hidden", ...), ...]."""
    if isinstance(obj, torch.Tensor):
        return [(prefix.rstrip("."), obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        named = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    elif isinstance(obj, list | tuple):
        named = [(str(i), item) for i, item in enumerate(obj)]
    elif obj is None:
        return []
    else:
        raise TypeError(f"cannot export a {type(obj).__name__} between graphs ({prefix})")
    return [leaf for name, value in named for leaf in leaves(value, f"{prefix}{name}.")]


def rebuild(template: Any, tensors: Iterator[torch.Tensor]) -> Any:
    """`template` with its tensors replaced, in `leaves` order, by the next of `tensors`."""
    if isinstance(template, torch.Tensor):
        return next(tensors)
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        values = {
            f.name: rebuild(getattr(template, f.name), tensors)
            for f in dataclasses.fields(template)
        }
        return dataclasses.replace(template, **values)
    if isinstance(template, list | tuple):
        return type(template)(rebuild(item, tensors) for item in template)
    return template


# --- the two graphs ----------------------------------------------------------------------


class EncoderGraph(nn.Module):
    """(src (B, S), src_lengths (B,)) -> the leaves of `encode`'s memory, then of `start`'s
    state."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        encoded = self.model.encode(src, src_lengths)
        state = self.model.start(encoded)
        return tuple(t for _, t in leaves(encoded, ENCODED) + leaves(state, STATE))


class DecoderStepGraph(nn.Module):
    """(y_prev (B,), state leaves..., encoded leaves...) -> logits (B, V), the next state's
    leaves, alphas (B, S): one `step`, with the dataclasses rebuilt from the templates'
    structure."""

    def __init__(self, model: nn.Module, *, state: Any, encoded: Any):
        super().__init__()
        self.model = model
        self.state_template = state
        self.encoded_template = encoded
        self.n_state = len(leaves(state, STATE))

    def forward(self, y_prev: torch.Tensor, *flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = rebuild(self.state_template, iter(flat[: self.n_state]))
        encoded = rebuild(self.encoded_template, iter(flat[self.n_state :]))
        logits, next_state, alphas = self.model.step(y_prev, state, encoded)  # (B, V), (B, S)
        return (logits, *(t for _, t in leaves(next_state, NEXT)), alphas)


def _changed_axes(first: list[torch.Tensor], second: list[torch.Tensor]) -> list[set[int]]:
    """For each pair of same-named tensors of two runs, the axes whose sizes differ."""
    return [
        {axis for axis, (a, b) in enumerate(zip(x.shape, y.shape, strict=True)) if a != b}
        for x, y in zip(first, second, strict=True)
    ]


def _example_source(vocab_size: int, batch: int, length: int) -> tuple[torch.Tensor, ...]:
    """A traced batch: (B, S) ids of ordinary words, lengths S, S-1, ... (at least 1)."""
    generator = torch.Generator().manual_seed(length)
    src = torch.randint(4, max(vocab_size, 5), (batch, length), generator=generator)  # (B, S)
    lengths = (length - torch.arange(batch)).clamp(min=1)  # (B,)
    for i, n in enumerate(lengths.tolist()):
        src[i, n:] = 0  # <pad>
    return src, lengths


def _after_steps(model: nn.Module, src, lengths, steps: int):
    """The encoded memory and the state after `steps` decoder steps (on made-up tokens: the
    traced shapes are what matters)."""
    encoded = model.encode(src, lengths)
    state = model.start(encoded)
    y_prev = torch.full((src.size(0),), 4, dtype=torch.long)  # (B,) the first word's id
    for _ in range(steps):
        _, state, _ = model.step(y_prev, state, encoded)
    return encoded, state, y_prev


def build_graphs(model: nn.Module, *, src_vocab_size: int) -> list[ExportGraph]:
    """The encoder and decoder-step graphs of `model` (eval mode), their names, dynamic axes
    and traced examples."""
    use_masked_recurrence(model, True)  # ONNX cannot export packed sequences
    with torch.inference_mode():
        short, long = (_example_source(src_vocab_size, 3, n) for n in (5, 7))
        enc_short, enc_long = EncoderGraph(model)(*short), EncoderGraph(model)(*long)
        encoded, state_1, _ = _after_steps(model, *long, steps=1)
        _, state_2, y_prev = _after_steps(model, *long, steps=2)
    encoded_names = [n for n, _ in leaves(encoded, ENCODED)]
    state_names = [n for n, _ in leaves(state_2, STATE)]
    encoder_outputs = encoded_names + state_names
    source_axes = _changed_axes(list(enc_short), list(enc_long))
    prefix_axes = _changed_axes(
        [t for _, t in leaves(state_1, STATE)], [t for _, t in leaves(state_2, STATE)]
    )
    axes: dict[str, dict[int, str]] = {"src": {0: "batch", 1: "src_len"}}
    axes["src_lengths"] = {0: "batch"}
    for name, changed in zip(encoder_outputs, source_axes, strict=True):
        axes[name] = {0: "batch", **{a: "src_len" for a in changed}}
    for name, changed in zip(state_names, prefix_axes, strict=True):
        axes[name] = {0: "batch", **{a: "past_len" for a in changed}}
        axes[NEXT + name[len(STATE) :]] = {0: "batch", **{a: "next_len" for a in changed}}
    axes.update(y_prev={0: "batch"}, logits={0: "batch"}, alphas={0: "batch", 1: "src_len"})
    step_inputs = ["y_prev", *state_names, *encoded_names]
    step_outputs = ["logits", *(NEXT + n[len(STATE) :] for n in state_names), "alphas"]
    # The first state (a Transformer's empty cache) and the state after two steps have the
    # same structure; the step is traced after two, so that the traced cache is not empty.
    step_example = (
        y_prev,
        *(t for _, t in leaves(state_2, STATE)),
        *(t for _, t in leaves(encoded, ENCODED)),
    )
    return [
        ExportGraph(
            name=Path(ENCODER).stem,
            graph=EncoderGraph(model).eval(),
            input_names=["src", "src_lengths"],
            output_names=encoder_outputs,
            dynamic_axes={n: axes[n] for n in ["src", "src_lengths", *encoder_outputs]},
            example=short,
        ),
        ExportGraph(
            name=Path(DECODER_STEP).stem,
            graph=DecoderStepGraph(model, state=state_2, encoded=encoded).eval(),
            input_names=step_inputs,
            output_names=step_outputs,
            dynamic_axes={n: axes[n] for n in step_inputs + step_outputs},
            example=step_example,
        ),
    ]


# --- the parity check ----------------------------------------------------------------------


@torch.inference_mode()
def forced_probabilities(
    model: StepModel,
    src: torch.Tensor,  # (B, S)
    lengths: torch.Tensor,  # (B,)
    tokens: torch.Tensor,  # (B, T-1)
    *,
    sos_index: int,
) -> torch.Tensor:
    """The next-token probabilities (B, T, V) of `model` fed <sos> then `tokens` (teacher
    forcing along a given translation): row t is p(y_t | y_<t, x)."""
    encoded = model.encode(src, lengths)
    state = model.start(encoded)
    y_prev = torch.full((src.size(0),), sos_index, dtype=torch.long)  # (B,)
    rows = []
    for t in range(tokens.size(1) + 1):
        logits, state, _ = model.step(y_prev, state, encoded)  # (B, V)
        rows.append(torch.softmax(logits.float(), dim=-1))
        if t < tokens.size(1):
            y_prev = tokens[:, t]
    return torch.stack(rows, dim=1)  # (B, T, V)


def _sources(predictor: TranslatorPredictor, data: str) -> tuple[list[str], list[str] | None]:
    """The held-out source sentences of `data` (a named split, with its references, or a file
    of source sentences, one per line)."""
    config = predictor.config.data
    if parse_named_parallel(data) is not None:
        pairs = load_parallel(data, direction=config.direction, variant=config.variant)
        lower = predictor.config.text.lowercase
        return [p.src for p in pairs], [p.tgt.lower() if lower else p.tgt for p in pairs]
    path = Path(data)
    if not path.is_file():
        raise DataError(
            f"{data}: neither a named parallel split (e.g. multi30k:val) nor a file of source "
            "sentences"
        )
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line], None


def _parity(
    predictor: TranslatorPredictor,
    exported: OnnxSeq2Seq,
    sources: list[str],
    references: list[str] | None,
    *,
    batch_size: int,
    tolerance: float,
) -> dict[str, Any]:
    """Translates `sources` with both models and compares (see the module docstring)."""
    onnx_predictor = TranslatorPredictor(
        model=exported, encoder=predictor.encoder, config=predictor.config
    )
    measured: dict[str, Any] = {"sentences": len(sources)}
    beams = sorted({1, predictor.config.decoding.beam_size})
    greedy_tokens = None
    for beam in beams:
        row: dict[str, Any] = {"beam_size": beam}
        texts = {}
        for name, model in (("torch", predictor), ("onnx", onnx_predictor)):
            started = time.perf_counter()
            found = model.hypotheses(sources, beam_size=beam, batch_size=batch_size)
            seconds = time.perf_counter() - started
            texts[name] = [model.to_text(h[0]) for h in found]
            row[f"{name}_sentences_per_second"] = round(len(sources) / max(seconds, 1e-9), 1)
            if beam == 1 and name == "torch":
                greedy_tokens = [h[0].tokens for h in found]
        row["identical"] = sum(a == b for a, b in zip(texts["torch"], texts["onnx"], strict=True))
        if references is not None:
            for name in ("torch", "onnx"):
                tokenize = bleu_tokenize(predictor.config, named=True)  # as evaluate does
                row[f"{name}_bleu"] = corpus_scores(texts[name], references, tokenize=tokenize)[
                    "bleu"
                ]
        measured["greedy" if beam == 1 else "beam"] = row
    largest = 0.0
    encoder = predictor.encoder
    for start in range(0, len(sources), batch_size):
        ids = [torch.tensor(encoder.encode_source(s)) for s in sources[start : start + batch_size]]
        src = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=encoder.pad_index)
        lengths = torch.tensor([len(i) for i in ids])  # (B,)
        paths = greedy_tokens[start : start + batch_size]
        longest = max(len(p) for p in paths)
        tokens = torch.full((len(paths), longest), encoder.eos_index, dtype=torch.long)
        for i, path in enumerate(paths):
            tokens[i, : len(path)] = torch.tensor(path, dtype=torch.long)  # (B, T-1)
        sos = encoder.sos_index
        p = forced_probabilities(predictor.model, src, lengths, tokens, sos_index=sos)
        q = forced_probabilities(exported, src, lengths, tokens, sos_index=sos)  # (B, T, V)
        steps = torch.arange(longest + 1)[None, :] <= torch.tensor([len(x) for x in paths])[:, None]
        largest = max(largest, float((p - q).abs().amax(dim=-1)[steps].max()))  # real steps
    measured["max_prob_diff"] = largest
    if not largest <= tolerance:
        raise ExportError(
            f"the exported graphs' next-token probabilities differ from the PyTorch model's by "
            f"up to {largest:.3g} (tolerance {tolerance:g}) along the greedy translations of "
            f"{len(sources)} held-out sentences; nothing was written"
        )
    return measured


# --- the adapter -----------------------------------------------------------------------------


def export_subject(
    predictor: TranslatorPredictor, data: str, *, limit: int, batch_size: int
) -> ExportBundle:
    """The translation model's two graphs, with the first `limit` sentences of `data` as the
    parity check's held-out sources, translated in batches of `batch_size`."""
    model = predictor.model.eval()
    sources, references = _sources(predictor, data)
    sources = sources[:limit]
    references = None if references is None else references[:limit]
    if not sources:
        raise ExportError(f"{data} holds no sentences for the parity check")
    encoder = predictor.encoder
    described = {
        "textseq.special_ids": json.dumps(
            {
                "pad": encoder.pad_index,
                "unk": encoder.unk_index,
                "sos": encoder.sos_index,
                "eos": encoder.eos_index,
            }
        ),
        "textseq.forbidden": json.dumps(list(encoder.forbidden)),
        "textseq.tokenizers": json.dumps({"source": BESIDE[0], "target": BESIDE[1]}),
        "textseq.vocabularies": json.dumps({"source": BESIDE[2], "target": BESIDE[3]}),
        "textseq.graphs": json.dumps({"encoder": ENCODER, "decoder_step": DECODER_STEP}),
    }
    graphs = build_graphs(model, src_vocab_size=len(encoder.src_vocab))
    for graph in graphs:
        graph.metadata = {**described, "textseq.role": graph.name}
    directory = predictor.directory
    files = (
        [] if directory is None else [directory / f for f in BESIDE if (directory / f).is_file()]
    )

    def check(folder: Path, tolerance: float) -> dict[str, Any]:
        exported = OnnxSeq2Seq(folder, threads=torch.get_num_threads())
        use_masked_recurrence(model, True)  # the reference runs as a loaded predictor does
        return _parity(
            predictor, exported, sources, references, batch_size=batch_size, tolerance=tolerance
        )

    return ExportBundle(
        predictor=predictor,
        graphs=graphs,
        check=check,
        files=files,
        unsupported={
            "torchscript": (
                "translation models export to ONNX only (an encoder and a decoder-step graph, "
                "decoded by textseq.load(DIR, onnx=FOLDER)); use --format onnx"
            )
        },
    )
