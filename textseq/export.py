"""`textseq export DIR --format onnx|torchscript [--quantize int8]`: a trained classifier or
tagger as one self-contained graph file, checked against the PyTorch model before it is kept.

What the graph computes, with inputs of any batch size and length (dynamic axes):

- classifiers (RNN encoders with any pooling, the from-scratch Transformer): `token_ids`
  (B, T) int64 and `lengths` (B,) int64 -> `logits` (B, C), plus `attention` (B, T) for
  attention poolings. The token ids come from the model directory's vocab.json and text
  pipeline, as `textseq.load(DIR)` makes them.
- taggers: `word_ids` (B, T), `lengths` (B,), and `char_ids` (B, T, C) / `casing_ids` (B, T)
  when the model uses them -> `emissions` (B, T, K) and `tags` (B, T) int64: a CRF tagger's
  Viterbi path, computed in the graph (`viterbi_path`, compiled with `torch.jit.script` so
  its loops run over any length), or a softmax tagger's argmax. Padded positions repeat the
  last real tag. Marginals, n-best paths and entity probabilities are not in the graph: they
  come from the emissions and the CRF's scores in model.safetensors.

ONNX cannot export packed sequences, so recurrent encoders are exported through their
mask-based path (`RNNEncoder.forward_masked`, the same outputs), with the legacy TorchScript
-based exporter, which handles LSTM/GRU as ONNX's own LSTM/GRU ops; TorchScript traces the
packed path as it is. `--quantize int8` exports the dynamically quantised model
(`textseq.inference`) for TorchScript, and quantises the fp32 ONNX graph with ONNX Runtime's
dynamic quantisation (MatMul, LSTM/GRU weights in int8) for ONNX.

The parity check runs the exported file (ONNX Runtime, or torch.jit.load) and the fp32
PyTorch model on held-out inputs (the model's validation data, or `data=`), in batches of a
different size than the one the graph was traced with, and compares probabilities (the
classifier's softmax, the tagger's CRF or softmax marginals). The largest difference must be
within the tolerance, and a tagger graph's `tags` must equal the PyTorch decoder's path over
the graph's own emissions at every real token, else nothing is written. Files are written
under a `.partial` name and renamed into place.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from textseq.errors import TextseqError
from textseq.inference import OnnxRunner, use_masked_recurrence
from textseq.modules.crf import LinearChainCRF, viterbi_path

FORMATS = ("onnx", "torchscript")
# Largest allowed probability difference from the fp32 PyTorch model. fp32 exports differ
# only by rounding, which a CRF's forward-backward over a long sentence can amplify: 1.2e-4 for
# the CoNLL-2003 CRF tagger (ONNX Runtime's LSTM kernel sums in another order), so 1e-3;
# an export fault moves probabilities by far more. int8 changes the arithmetic, so its exports
# are held to a looser bound (still far below a flipped label on any but borderline inputs).
TOLERANCE = {None: 1e-3, "int8": 0.1}
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


class ExportError(TextseqError):
    """An export that cannot be made or failed its parity check (nothing was written)."""


@dataclass
class ExportReport:
    """What `export_model` wrote and measured."""

    path: Path
    format: str
    quantize: str | None
    task: str
    inputs: int  # held-out examples in the parity check
    max_prob_diff: float  # largest |p_export - p_torch| over examples and classes/tags
    label_agreement: float  # share of predicted labels (tags) that agree
    tolerance: float
    torch_ms_per_batch: float  # fp32 PyTorch model, mean over the check's batches
    export_ms_per_batch: float  # the exported file, same batches
    batch_size: int
    viterbi_in_graph: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "quantize": self.quantize,
            "task": self.task,
            "inputs": self.inputs,
            "max_prob_diff": self.max_prob_diff,
            "label_agreement": self.label_agreement,
            "tolerance": self.tolerance,
            "torch_ms_per_batch": round(self.torch_ms_per_batch, 3),
            "export_ms_per_batch": round(self.export_ms_per_batch, 3),
            "batch_size": self.batch_size,
            "viterbi_in_graph": self.viterbi_in_graph,
        }


# --- what the graph computes ---------------------------------------------------------------


class ClassifierGraph(nn.Module):
    """A classifier's exported computation: (token_ids, lengths) -> logits[, attention]."""

    def __init__(self, model: nn.Module, *, with_attention: bool):
        super().__init__()
        self.model = model
        self.with_attention = with_attention

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor):
        output = self.model(token_ids, lengths)
        if self.with_attention:
            return output.logits, output.attention  # (B, C), (B, T)
        return output.logits  # (B, C)


class TaggerGraph(nn.Module):
    """A tagger's exported computation: (word_ids, lengths[, char_ids][, casing_ids]) ->
    emissions (B, T, K), tags (B, T)."""

    def __init__(self, model: nn.Module, *, chars: bool, casing: bool):
        super().__init__()
        self.model = model
        self.chars = chars
        self.casing = casing
        # Compiled, so that tracing records the Viterbi loops themselves rather than the
        # steps of the traced batch's length.
        self.viterbi = _scripted_viterbi() if isinstance(model.output, LinearChainCRF) else None

    def forward(self, word_ids: torch.Tensor, lengths: torch.Tensor, *extra: torch.Tensor):
        extra_inputs = list(extra)
        char_ids = extra_inputs.pop(0) if self.chars else None
        casing_ids = extra_inputs.pop(0) if self.casing else None
        emissions = self.model(word_ids, lengths, char_ids, casing_ids)  # (B, T, K)
        positions = torch.arange(word_ids.size(1), device=word_ids.device)  # (T,)
        mask = positions.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        if self.viterbi is None:
            tags = self.model.output.decode(emissions, mask)  # (B, T)
        else:
            tags = self.viterbi(emissions, mask, *self.model.output.scores())  # (B, T)
        return emissions, tags


@functools.cache
def _scripted_viterbi():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's, in torch 2.13
        return torch.jit.script(viterbi_path)


# --- held-out inputs -----------------------------------------------------------------------


@dataclass
class Subject:
    """The model being exported, as the export needs it."""

    task: str
    predictor: Any
    graph: nn.Module  # fp32, eval
    input_names: list[str]
    output_names: list[str]
    batches: list[tuple[torch.Tensor, ...]]  # held-out inputs, graph argument order
    masks: list[torch.Tensor]  # (B, T) real tokens of each batch


def _subject(directory: Path, *, data: str | None, limit: int, batch_size: int) -> Subject:
    import textseq

    predictor = textseq.load(directory)
    # The reference, and what TorchScript traces: the packed path (the masked path equals it).
    use_masked_recurrence(predictor.model, False)
    config = predictor.config
    task = getattr(config, "task", "classify")
    if task == "lm":
        raise ExportError(
            f"{directory} holds a language model; export is for classifiers and taggers"
        )
    spec = data or config.data.val
    if spec is None:
        raise ExportError(
            f"{directory}'s config holds validation data out of train; pass --data SPEC "
            "(a file or NAME:SPLIT) for the parity check's held-out inputs"
        )
    if task == "tag":
        return _tagger_subject(predictor, spec, limit=limit, batch_size=batch_size)
    return _classifier_subject(predictor, spec, limit=limit, batch_size=batch_size)


def _classifier_subject(predictor, spec: str, *, limit: int, batch_size: int) -> Subject:
    from textseq.data.batching import Collator
    from textseq.tasks.classify.data import load_examples

    if predictor.config.model.encoder.type == "pretrained":
        raise ExportError(
            "export handles the rnn and transformer encoders; this model has a pretrained "
            "(Hugging Face) encoder"
        )
    texts = [e.text for e in load_examples(spec, label_column=None)][:limit]
    if not texts:
        raise ExportError(f"{spec} holds no texts for the parity check")
    ids = [predictor.pipeline.vocab.encode(predictor.pipeline.tokens(t)) or [0] for t in texts]
    collate = Collator(predictor.pipeline.vocab.pad_index)
    batches, masks = [], []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        batch = collate([(i, torch.tensor(x), None) for i, x in enumerate(chunk)])
        batches.append((batch.token_ids, batch.lengths))
        masks.append(batch.mask)
    with_attention = predictor.has_attention
    return Subject(
        task="classify",
        predictor=predictor,
        graph=ClassifierGraph(predictor.model, with_attention=with_attention).eval(),
        input_names=["token_ids", "lengths"],
        output_names=["logits", "attention"] if with_attention else ["logits"],
        batches=batches,
        masks=masks,
    )


def _tagger_subject(predictor, spec: str, *, limit: int, batch_size: int) -> Subject:
    from textseq.tasks.tag.conll import TaggedSentence
    from textseq.tasks.tag.data import TagCollator
    from textseq.tasks.tag.datasets import load_tagged

    model = predictor.model
    sentences = load_tagged(spec, tag_set=predictor.config.data.tags)[:limit]
    if not sentences:
        raise ExportError(f"{spec} holds no sentences for the parity check")
    dataset = predictor.encoder.dataset(
        [TaggedSentence(list(s.tokens)) for s in sentences], with_tags=False
    )
    chars = model.char_encoder is not None
    casing = model.casing_embedding is not None
    collate = TagCollator()
    batches, masks = [], []
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        inputs = [batch.word_ids, batch.lengths]
        if chars:
            inputs.append(batch.char_ids)
        if casing:
            inputs.append(batch.casing_ids)
        batches.append(tuple(inputs))
        masks.append(batch.mask)
    names = ["word_ids", "lengths"] + ["char_ids"] * chars + ["casing_ids"] * casing
    return Subject(
        task="tag",
        predictor=predictor,
        graph=TaggerGraph(model, chars=chars, casing=casing).eval(),
        input_names=names,
        output_names=["emissions", "tags"],
        batches=batches,
        masks=masks,
    )


def _probabilities(subject: Subject, outputs, mask: torch.Tensor) -> torch.Tensor:
    """What the parity check compares: class probabilities (B, C) or tag marginals (B, T, K)."""
    first = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    first = torch.as_tensor(first).float()
    if subject.task == "tag":
        return subject.predictor.model.output.marginals(first, mask)  # (B, T, K)
    return torch.softmax(first, dim=-1)  # (B, C)


# --- the two formats -----------------------------------------------------------------------


def _dynamic_axes(subject: Subject) -> dict[str, dict[int, str]]:
    axes = {name: {0: "batch", 1: "time"} for name in subject.input_names}
    axes["lengths"] = {0: "batch"}
    if "char_ids" in axes:
        axes["char_ids"] = {0: "batch", 1: "time", 2: "chars"}
    axes[subject.output_names[0]] = (
        {0: "batch"}
        if subject.task == "classify"
        else {
            0: "batch",
            1: "time",
        }
    )
    for name in ("attention", "tags"):
        if name in subject.output_names:
            axes[name] = {0: "batch", 1: "time"}
    return axes


def _write_onnx(subject: Subject, path: Path, *, quantize: str | None) -> None:
    import warnings

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError(
            "ONNX export needs onnx and onnxruntime: pip install 'textseq[export]'"
        ) from None
    from textseq.modules.char_encoders import CharBiLSTM

    if any(isinstance(m, CharBiLSTM) for m in subject.graph.modules()):
        raise ExportError(
            "this tagger's character BiLSTM runs on packed sequences, which ONNX cannot "
            "export; use --format torchscript (or a tagger with chars: cnn)"
        )
    use_masked_recurrence(subject.graph, True)
    example = subject.batches[0]
    fp32_path = path.with_name(path.name + ".fp32") if quantize else path
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                subject.graph,
                example,
                str(fp32_path),
                input_names=subject.input_names,
                output_names=subject.output_names,
                dynamic_axes=_dynamic_axes(subject),
                opset_version=17,
                dynamo=False,
            )
    finally:
        use_masked_recurrence(subject.graph, False)
    if quantize == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        try:
            quantize_dynamic(str(fp32_path), str(path), weight_type=QuantType.QInt8)
        finally:
            fp32_path.unlink(missing_ok=True)


def _write_torchscript(subject: Subject, path: Path, *, quantize: str | None) -> None:
    import warnings

    from textseq.inference import prepare_for_inference

    graph = subject.graph
    if quantize:
        graph = prepare_for_inference(graph, quantize=quantize)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values
        traced = torch.jit.trace(graph, subject.batches[0], check_trace=False, strict=False)
    torch.jit.save(traced, str(path))


def _runner(format: str, path: Path):
    if format == "onnx":
        return OnnxRunner(path, threads=torch.get_num_threads())
    module = torch.jit.load(str(path))
    return module.eval()


def _timed(function, batches) -> tuple[list[Any], float]:
    outputs, started = [], time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            outputs.append(function(*batch))
    return outputs, 1000 * (time.perf_counter() - started) / max(len(batches), 1)


def _parity(subject: Subject, format: str, path: Path) -> tuple[float, float, float, float]:
    """(max probability difference, label agreement, torch ms/batch, export ms/batch)."""
    runner = _runner(format, path)
    _timed(runner, subject.batches[:1])  # warm-up
    _timed(subject.graph, subject.batches[:1])
    exported, export_ms = _timed(runner, subject.batches)
    reference, torch_ms = _timed(subject.graph, subject.batches)
    largest, agree, total = 0.0, 0, 0
    with torch.no_grad():
        for ours, theirs, mask in zip(reference, exported, subject.masks, strict=True):
            p = _probabilities(subject, ours, mask)
            q = _probabilities(subject, theirs, mask)
            if subject.task == "tag":
                p, q = p[mask], q[mask]  # (tokens, K)
                emissions, tags = (torch.as_tensor(x) for x in theirs)  # (B, T, K), (B, T)
                _check_graph_tags(subject, emissions, tags, mask)
                agree += int((ours[1][mask] == tags[mask]).sum())
            else:
                agree += int((p.argmax(-1) == q.argmax(-1)).sum())
            largest = max(largest, float((p - q).abs().max()))
            total += p.size(0)
    return largest, agree / max(total, 1), torch_ms, export_ms


def _check_graph_tags(
    subject: Subject, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
) -> None:
    """The exported graph's tags (B, T) must be the PyTorch decoder's path over the graph's
    own emissions (B, T, K) at every real token of mask (B, T)."""
    expected = subject.predictor.model.output.decode(emissions.float(), mask)  # (B, T)
    wrong = int((expected != tags)[mask].sum())
    if wrong:
        raise ExportError(
            f"the exported graph's tags differ from decoding its own emissions at {wrong} of "
            f"{int(mask.sum())} tokens; nothing was written"
        )


# --- the entry point -----------------------------------------------------------------------


def default_export_path(directory: Path, format: str, quantize: str | None) -> Path:
    """DIR/model[.int8].onnx or DIR/model[.int8].torchscript.pt."""
    return directory / f"model{'.' + quantize if quantize else ''}{SUFFIX[format]}"


def export_model(
    directory: str | Path,
    *,
    format: str,
    quantize: str | None = None,
    out: str | Path | None = None,
    data: str | None = None,
    limit: int = 512,
    batch_size: int = 64,
    tolerance: float | None = None,
) -> ExportReport:
    """Exports the model in `directory` and returns what the parity check measured; raises
    ExportError (and writes nothing) when the exported file's probabilities differ from the
    PyTorch model's by more than `tolerance` on `limit` held-out inputs from `data` (default:
    the model's validation data)."""
    from textseq.inference import check_inference_options

    if format not in FORMATS:
        raise ValueError(f"format ({format!r}) must be one of {', '.join(FORMATS)}")
    check_inference_options(quantize, "fp32")
    if limit < 1 or batch_size < 1:
        raise ValueError(f"limit ({limit}) and batch_size ({batch_size}) must be positive")
    directory = Path(directory)
    tolerance = TOLERANCE[quantize] if tolerance is None else tolerance
    path = Path(out) if out is not None else default_export_path(directory, format, quantize)
    subject = _subject(directory, data=data, limit=limit, batch_size=batch_size)
    # Trace with a batch of another size and length than the checked ones, so the check
    # also proves the axes are dynamic.
    first = subject.batches[0]
    subject.batches.insert(0, tuple(x[:3] for x in first))
    subject.masks.insert(0, subject.masks[0][:3])
    inputs = sum(m.size(0) for m in subject.masks)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        writers = {"onnx": _write_onnx, "torchscript": _write_torchscript}
        writers[format](subject, partial, quantize=quantize)
        diff, agreement, torch_ms, export_ms = _parity(subject, format, partial)
        if not diff <= tolerance:
            raise ExportError(
                f"the exported model's probabilities differ from the PyTorch model's by up to "
                f"{diff:.3g} (tolerance {tolerance:g}) on {inputs} held-out inputs; nothing "
                f"was written to {path}"
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return ExportReport(
        path=path,
        format=format,
        quantize=quantize,
        task=subject.task,
        inputs=inputs,
        max_prob_diff=diff,
        label_agreement=agreement,
        tolerance=tolerance,
        torch_ms_per_batch=torch_ms,
        export_ms_per_batch=export_ms,
        batch_size=batch_size,
        viterbi_in_graph=getattr(subject.graph, "viterbi", None) is not None,
    )
