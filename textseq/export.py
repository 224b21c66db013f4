"""`textseq export DIR --format onnx|torchscript [--quantize int8]`: a trained model as one
self-contained graph file, checked against the PyTorch model before it is kept.
(`--format hf`, a Hugging Face folder for classifiers with a pretrained encoder, is written and
checked by the task's adapter, `write_hub_folder` in `textseq.tasks.classify.hub`.)

What the graph computes is the task's part: its export adapter (`Task.exporter`, e.g.
`textseq.tasks.classify.export`, `textseq.tasks.tag.export`) wraps the model in a graph module
and names its inputs and outputs, their dynamic axes (any batch size and length), the held-out
batches and how the parity check reads the outputs (`ExportSubject`). A task without an adapter
is refused in one line naming the verbs it has. Here is what every task shares: writing the
file, int8 quantisation, the parity check and timing, the report.

ONNX cannot export packed sequences, so recurrent encoders are exported through their
mask-based path (`RNNEncoder.forward_masked`, the same outputs), with the legacy TorchScript
-based exporter, which handles LSTM/GRU as ONNX's own LSTM/GRU ops; TorchScript traces the
packed path as it is. `--quantize int8` exports the dynamically quantised model
(`textseq.inference`) for TorchScript, and quantises the fp32 ONNX graph with ONNX Runtime's
dynamic quantisation (MatMul, LSTM/GRU weights in int8) for ONNX.

An ONNX file describes itself: its metadata (`metadata_props`) holds the task, the labels or
tags in output order, the textseq version, the model's config (JSON) and its inputs and
outputs, and the tokenizer.json that gives its token ids (the model directory's portable one,
`textseq.text.portable`, or a pretrained encoder's own) is written beside it, so that a program
with only onnxruntime, tokenizers and numpy can use it (`benchmarks/onnx_consumer.py`).

The parity check runs the exported file (ONNX Runtime, or torch.jit.load) and the fp32
PyTorch model on held-out inputs (the model's validation data, or `data=`), in batches of a
different size than the one the graph was traced with, and compares the probabilities the
adapter derives from each (a classifier's softmax, a tagger's marginals). The largest
difference must be within the tolerance, and the adapter's own check must pass (a tagger's
in-graph tags equal to decoding its emissions), else nothing is written: the file is written
under a temporary name and renamed into place only after the check
(`textseq.atomic.write_atomically`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from textseq.atomic import write_atomically
from textseq.errors import ExportError
from textseq.inference import (
    OnnxRunner,
    check_inference_options,
    prepare_for_inference,
    use_masked_recurrence,
)
from textseq.progress import Progress
from textseq.tasks import check_verb, load_predictor, task_of
from textseq.tasks.base import ExportBundle, ExportSubject
from textseq.text.portable import FILENAME as TOKENIZER_FILE
from textseq.version import __version__

FORMATS = ("onnx", "torchscript", "hf")
# Largest allowed probability difference from the fp32 PyTorch model. fp32 exports differ
# only by rounding, which a CRF's forward-backward over a long sentence can amplify beyond 1e-4
# (ONNX Runtime's LSTM kernel sums in another order; the CoNLL-2003 tagger's figure is in
# benchmarks/results, "Inference speed"), so 1e-3; an export fault moves probabilities by far
# more. int8 changes the arithmetic, so its exports
# are held to a looser bound (still far below a flipped label on any but borderline inputs).
TOLERANCE = {None: 1e-3, "int8": 0.1}
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


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
    viterbi_in_graph: bool = False  # the graph decodes a CRF's Viterbi path (taggers)
    token_id_mismatches: int | None = None  # hf: texts whose ids differ from textseq's

    def summary(self) -> str:
        """One line for the log."""
        return (
            "parity on {inputs} held-out inputs: largest probability difference "
            "{max_prob_diff:.3g} (tolerance {tolerance:g}), labels agree {label_agreement:.2%}; "
            "latency per batch of {batch_size}: PyTorch fp32 {torch_ms_per_batch:.1f} ms, "
            "export {export_ms_per_batch:.1f} ms; Viterbi decoding in the graph: "
            "{viterbi_in_graph}"
        ).format(**self.to_dict())

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
            **(
                {}
                if self.token_id_mismatches is None
                else {"token_id_mismatches": self.token_id_mismatches}
            ),
        }


@dataclass
class BundleReport:
    """What `export_model` wrote and measured for a model exported as several graphs (an
    `ExportBundle`): the folder, its files, and the adapter's parity figures."""

    path: Path  # the folder
    format: str
    quantize: str | None
    task: str
    files: list[str]
    tolerance: float
    parity: dict[str, Any]  # what the bundle's check measured

    def summary(self) -> str:
        """One line for the log."""
        figures = ", ".join(
            f"{key} {value}" for key, value in self.parity.items() if not isinstance(value, dict)
        )
        return f"wrote {', '.join(self.files)} to {self.path}; parity: {figures}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "quantize": self.quantize,
            "task": self.task,
            "files": self.files,
            "tolerance": self.tolerance,
            **self.parity,
        }


# --- the two formats -----------------------------------------------------------------------


def _write_onnx(subject: ExportSubject, path: Path, *, quantize: str | None) -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError(
            "ONNX export needs onnx and onnxruntime: pip install 'textseq[export]'"
        ) from None
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
                dynamic_axes=subject.dynamic_axes,
                opset_version=17,
                dynamo=False,
            )
    finally:
        use_masked_recurrence(subject.graph, False)
    if quantize == "int8":
        try:
            _quantize_int8(fp32_path, path)
        finally:
            fp32_path.unlink(missing_ok=True)


# int8 ONNX: what ONNX Runtime's dynamic quantisation is asked to do (see `_quantize_int8`)
INT8_OPS = ("MatMul", "Gather", "LSTM", "Conv")


def _quantize_int8(fp32_path: Path, path: Path) -> None:
    """The fp32 graph at `fp32_path`, dynamically quantised to int8 at `path`.

    Dynamic quantisation stores weights in int8 and quantises each MatMul's input to uint8
    batch by batch with one scale for the whole tensor. Three choices keep a fine-tuned
    Transformer (MiniLM on SST-2 dev: largest probability difference 0.36 with ONNX Runtime's
    defaults, over the 0.1 tolerance) within the tolerance (benchmarks/results/notebook.md,
    "int8 MiniLM ONNX"):

    - weights per output channel (`per_channel`): one scale per column instead of one per
      matrix, which a matrix whose columns differ in range (attention and feed-forward
      projections) needs most (0.36 -> 0.12);
    - the down-projections stay fp32 (`down_projections`): a MatMul that narrows its input at
      least twofold, the feed-forward's second layer (4H -> H); its input, the GELU of the
      4H-wide layer, has a long tail of large values that one uint8 scale per batch cannot
      hold without flattening the small ones (0.12 -> 0.085);
    - only ops in `INT8_OPS` (MatMul, embedding lookups, LSTM, convolutions): not ONNX
      Runtime's `Transpose`, and MatMuls of two activations (attention scores) stay fp32
      (`MatMulConstBOnly`).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = down_projections(onnx.load(str(fp32_path)))
    quantize_dynamic(
        str(fp32_path),
        str(path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(INT8_OPS),
        nodes_to_exclude=keep,
        extra_options={"MatMulConstBOnly": True},
    )


def down_projections(model) -> list[str]:
    """Names of the MatMul nodes of an ONNX `model` whose weight (a constant B of shape
    (K, N)) narrows its input at least twofold, K >= 2N: a Transformer's feed-forward output
    layers (1536 -> 384 in MiniLM), attention pooling's score projections."""
    weights = {tensor.name: tuple(tensor.dims) for tensor in model.graph.initializer}
    names = []
    for node in model.graph.node:
        shape = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if shape is not None and len(shape) == 2 and shape[0] >= 2 * shape[1]:
            names.append(node.name)
    return names


def _write_torchscript(subject: ExportSubject, path: Path, *, quantize: str | None) -> None:
    graph = subject.graph
    if quantize:
        graph = prepare_for_inference(graph, quantize=quantize)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values
        traced = torch.jit.trace(graph, subject.batches[0], check_trace=False, strict=False)
    torch.jit.save(traced, str(path))


def onnx_metadata(subject: ExportSubject, task: str) -> dict[str, str]:
    """What an ONNX file says about itself (`metadata_props`, all strings; JSON where a value
    is a list or mapping); `textseq.tokenizer` names the tokenizer.json beside the file, where
    the model has one."""
    metadata = {
        "textseq.task": task,
        "textseq.version": __version__,
        "textseq.labels": json.dumps(subject.classes, ensure_ascii=False),
        "textseq.inputs": json.dumps(subject.input_names),
        "textseq.outputs": json.dumps(subject.output_names),
        "textseq.config": json.dumps(subject.predictor.config.to_dict(), ensure_ascii=False),
    }
    if subject.tokenizer is not None and subject.tokenizer.is_file():
        metadata["textseq.tokenizer"] = TOKENIZER_FILE
    return metadata


def _describe_onnx(path: Path, metadata: dict[str, str]) -> None:
    """Writes `metadata` into the ONNX file at `path` (its `metadata_props`)."""
    import onnx

    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, str(path))


def _runner(format: str, path: Path):
    if format == "onnx":
        return OnnxRunner(path, threads=torch.get_num_threads())
    module = torch.jit.load(str(path))
    return module.eval()


# --- the parity check ----------------------------------------------------------------------


def _timed(function, batches, what: str | None = None) -> tuple[list[Any], float]:
    """`function`'s outputs on `batches` and its mean milliseconds per batch; `what` names a
    progress line (on stderr, see textseq.progress) counting the inputs run."""
    total = sum(len(batch[0]) for batch in batches)
    outputs, started = [], time.perf_counter()
    with torch.inference_mode(), Progress(what, total=total, unit="inputs") as shown:
        for batch in batches:
            outputs.append(function(*batch))
            shown.update(len(batch[0]))
    return outputs, 1000 * (time.perf_counter() - started) / max(len(batches), 1)


def _as_tensors(outputs: Any) -> tuple[torch.Tensor, ...]:
    """A graph's outputs as a tuple of tensors, whether it returned one tensor or several, as
    PyTorch tensors or (ONNX Runtime) arrays."""
    several = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return tuple(torch.as_tensor(x) for x in several)


class Parity(NamedTuple):
    """What the parity check measured over the held-out batches."""

    max_prob_diff: float  # largest |p_export - p_torch| over compared items and classes
    label_agreement: float  # share of compared items whose labels agree
    torch_ms: float  # per batch, the fp32 PyTorch graph
    export_ms: float  # per batch, the exported file


def _parity(subject: ExportSubject, format: str, path: Path) -> Parity:
    """Runs the file at `path` and the PyTorch graph on the subject's batches and compares."""
    runner = _runner(format, path)
    _timed(runner, subject.batches[:1])  # warm-up
    _timed(subject.graph, subject.batches[:1])
    exported, export_ms = _timed(runner, subject.batches, f"parity check: {format}")
    reference, torch_ms = _timed(subject.graph, subject.batches, "parity check: PyTorch")
    largest, agree, total = 0.0, 0, 0
    with torch.no_grad():
        for ours, theirs, mask in zip(reference, exported, subject.masks, strict=True):
            ours, theirs = _as_tensors(ours), _as_tensors(theirs)
            subject.check(theirs, mask)
            p = subject.probabilities(ours, mask)  # (N, C)
            q = subject.probabilities(theirs, mask)  # (N, C)
            largest = max(largest, float((p - q).abs().max()))
            agreed = subject.labels(ours, mask) == subject.labels(theirs, mask)  # (N,)
            agree += int(agreed.sum())
            total += agreed.numel()
    return Parity(largest, agree / max(total, 1), torch_ms, export_ms)


# --- several graphs in one folder ----------------------------------------------------------


def _export_bundle(
    bundle: ExportBundle, folder: Path, *, task: str, quantize: str | None, tolerance: float
) -> BundleReport:
    """Writes every graph of `bundle` (ONNX, described like a single graph, plus the graph's
    own metadata) and its files into a temporary folder beside `folder`, runs the bundle's
    check on them, and only then moves the files into `folder`: a failed check leaves
    nothing behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        names = []
        for part in bundle.graphs:
            # The one-graph writer and description, on a subject holding just this graph.
            subject = ExportSubject(
                predictor=bundle.predictor,
                graph=part.graph,
                input_names=part.input_names,
                output_names=part.output_names,
                dynamic_axes=part.dynamic_axes,
                batches=[part.example],
                masks=[],
                probabilities=lambda outputs, mask: None,
                labels=lambda outputs, mask: None,
            )
            path = temporary / f"{part.name}{SUFFIX['onnx']}"
            _write_onnx(subject, path, quantize=quantize)
            _describe_onnx(path, {**onnx_metadata(subject, task), **part.metadata})
            names.append(path.name)
        for file in bundle.files:
            shutil.copyfile(file, temporary / file.name)
            names.append(file.name)
        parity = bundle.check(temporary, tolerance)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(temporary / name, folder / name)  # each file whole, old or new
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return BundleReport(
        path=folder,
        format="onnx",
        quantize=quantize,
        task=task,
        files=names,
        tolerance=tolerance,
        parity=parity,
    )


# --- the entry point -----------------------------------------------------------------------


def default_export_path(directory: Path, format: str, quantize: str | None) -> Path:
    """DIR/model[.int8].onnx or DIR/model[.int8].torchscript.pt (DIR/hf/ for hf)."""
    if format == "hf":
        return directory / "hf"
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
) -> ExportReport | BundleReport:
    """Exports the model in `directory` and returns what the parity check measured; raises
    ExportError (and writes nothing) when the exported file's probabilities differ from the
    PyTorch model's by more than `tolerance` on `limit` held-out inputs from `data` (default:
    the model's validation data), and TextseqError when the model's task is not exported."""
    if format not in FORMATS:
        raise ValueError(f"format ({format!r}) must be one of {', '.join(FORMATS)}")
    check_inference_options(quantize, "fp32")
    if limit < 1 or batch_size < 1:
        raise ValueError(f"limit ({limit}) and batch_size ({batch_size}) must be positive")
    directory = Path(directory)
    tolerance = TOLERANCE[quantize] if tolerance is None else tolerance
    path = Path(out) if out is not None else default_export_path(directory, format, quantize)
    if format == "hf" and quantize:
        raise ValueError("--format hf writes the fp32 weights; --quantize applies to onnx")
    predictor = load_predictor(directory)
    task = task_of(predictor)
    check_verb(task, "export", directory)
    # The reference, and what TorchScript traces: the packed path (the masked path equals it).
    use_masked_recurrence(predictor.model, False)
    spec = data or predictor.config.data.val
    if spec is None:
        raise ExportError(
            f"{directory}'s config holds validation data out of train; pass --data SPEC "
            "(a file or NAME:SPLIT) for the parity check's held-out inputs"
        )
    if format == "hf":
        hub = (limit, batch_size, tolerance)
        return _export_hub(predictor, task.name, task.exporter, path, spec, *hub)
    subject = task.export_subject(predictor, spec, limit=limit, batch_size=batch_size)
    if format in subject.unsupported:
        raise ExportError(subject.unsupported[format])
    if isinstance(subject, ExportBundle):  # several graphs, written into one folder
        default = subject.default_out + (f".{quantize}" if quantize else "")  # onnx[.int8]
        folder = Path(out) if out is not None else directory / default
        return _export_bundle(
            subject, folder, task=task.name, quantize=quantize, tolerance=tolerance
        )
    # Trace with a batch of another size and length than the checked ones, so the check
    # also proves the axes are dynamic.
    first = subject.batches[0]
    subject.batches.insert(0, tuple(x[:3] for x in first))
    subject.masks.insert(0, subject.masks[0][:3])
    inputs = sum(m.size(0) for m in subject.masks)
    measured: list[Parity] = []

    def write_checked(temporary: Path) -> None:
        # Looked up here, not bound once, so that tests can replace a writer.
        writers = {"onnx": _write_onnx, "torchscript": _write_torchscript}
        writers[format](subject, temporary, quantize=quantize)
        if format == "onnx":
            _describe_onnx(temporary, onnx_metadata(subject, task.name))
        parity = _parity(subject, format, temporary)
        if not parity.max_prob_diff <= tolerance:
            raise ExportError(
                f"the exported model's probabilities differ from the PyTorch model's by up to "
                f"{parity.max_prob_diff:.3g} (tolerance {tolerance:g}) on {inputs} held-out "
                f"inputs; nothing was written to {path}"
            )
        measured.append(parity)

    # Checked before it is renamed into place: a failed check leaves nothing behind.
    write_atomically(path, write_checked)
    (parity,) = measured
    tokenizer, beside = subject.tokenizer, path.parent / TOKENIZER_FILE
    wanted = format == "onnx" and tokenizer is not None and tokenizer.is_file()
    if wanted and beside.resolve() != tokenizer.resolve():
        write_atomically(beside, lambda temporary: shutil.copyfile(tokenizer, temporary))
    return ExportReport(
        path=path,
        format=format,
        quantize=quantize,
        task=task.name,
        inputs=inputs,
        max_prob_diff=parity.max_prob_diff,
        label_agreement=parity.label_agreement,
        tolerance=tolerance,
        torch_ms_per_batch=parity.torch_ms,
        export_ms_per_batch=parity.export_ms,
        batch_size=batch_size,
        viterbi_in_graph=subject.viterbi_in_graph,
    )


def _export_hub(
    predictor, task: str, exporter: str | None, path: Path, data: str, limit, batch_size, tolerance
) -> ExportReport:
    """`--format hf`: the task's export adapter writes and checks the folder
    (`write_hub_folder`, e.g. `textseq.tasks.classify.hub`)."""
    import importlib

    write = (
        getattr(importlib.import_module(exporter), "write_hub_folder", None) if exporter else None
    )
    if write is None:
        raise ExportError(
            f"--format hf exports classifiers with a pretrained encoder; {task} models are "
            "exported with --format onnx or torchscript"
        )
    parity = write(
        predictor, path, data=data, limit=limit, batch_size=batch_size, tolerance=tolerance
    )
    return ExportReport(
        path=path,
        format="hf",
        quantize=None,
        task=task,
        inputs=parity.texts,
        max_prob_diff=parity.max_prob_diff,
        label_agreement=parity.label_agreement,
        tolerance=tolerance,
        torch_ms_per_batch=parity.torch_ms,
        export_ms_per_batch=parity.export_ms,
        batch_size=batch_size,
        token_id_mismatches=parity.id_mismatches,
    )
