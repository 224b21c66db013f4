"""What `textseq export` writes for a classifier (see `textseq.export` for the writing and the
parity check).

The graph, for RNN encoders with any pooling and the from-scratch Transformer, with inputs of
any batch size and length:

    token_ids (B, T) int64, lengths (B,) int64 -> logits (B, C) [, attention (B, T)]

`attention` is an output of attention poolings only. The token ids come from the model
directory's vocab.json and text pipeline, as `textseq.load(DIR)` makes them, and as the
portable tokenizer.json gives them: the word-level pipeline's (`textseq.text.portable`), or a
pretrained encoder's own with textseq's cleaning before its normalizer ([CLS] and [SEP]
included; `textseq.tasks.classify.hub.portable_tokenizer`). The parity
check compares the class probabilities (the softmax of the logits).

`--format hf` (classifiers with a pretrained encoder): `write_hub_folder`, in
`textseq.tasks.classify.hub`.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from textseq.data.batching import Collator
from textseq.errors import ExportError
from textseq.tasks.base import ExportSubject
from textseq.tasks.classify.data import load_examples
from textseq.tasks.classify.hub import portable_tokenizer, write_hub_folder  # --format hf
from textseq.tasks.classify.predictor import TextClassifierPredictor


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


def probabilities(outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    """The class probabilities (B, C) of the logits (B, C), outputs[0]."""
    return torch.softmax(outputs[0].float(), dim=-1)  # (B, C)


def labels(outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    """The predicted class of every text, (B,)."""
    return probabilities(outputs, mask).argmax(dim=-1)  # (B,)


def export_subject(
    predictor: TextClassifierPredictor, data: str, *, limit: int, batch_size: int
) -> ExportSubject:
    """The classifier's graph with the first `limit` texts of `data` (a file or NAME:SPLIT)
    as held-out batches of `batch_size`."""
    texts = [e.text for e in load_examples(data, label_column=None)][:limit]
    if not texts:
        raise ExportError(f"{data} holds no texts for the parity check")
    vocab = predictor.pipeline.vocab
    # A text with no tokens left still needs one position in its row: id 0 stands in.
    ids = [vocab.encode(predictor.pipeline.tokens(t)) or [0] for t in texts]
    collate = Collator(vocab.pad_index)
    batches, masks = [], []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        batch = collate([(i, torch.tensor(x), None) for i, x in enumerate(chunk)])
        batches.append((batch.token_ids, batch.lengths))  # (B, T), (B,)
        masks.append(batch.mask)  # (B, T)
    with_attention = predictor.has_attention
    output_names = ["logits", "attention"] if with_attention else ["logits"]
    axes = {
        "token_ids": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        "logits": {0: "batch"},
    }
    if with_attention:
        axes["attention"] = {0: "batch", 1: "time"}
    return ExportSubject(
        predictor=predictor,
        graph=ClassifierGraph(predictor.model, with_attention=with_attention).eval(),
        input_names=["token_ids", "lengths"],
        output_names=output_names,
        dynamic_axes=axes,
        batches=batches,
        masks=masks,
        probabilities=probabilities,
        labels=labels,
        classes=list(predictor.labels),
        tokenizer=_tokenizer_file(predictor),
    )


__all__ = ["export_subject", "write_hub_folder"]


def _tokenizer_file(predictor: TextClassifierPredictor) -> Path | None:
    if predictor.directory is None:
        return None
    if predictor.config.model.encoder.type == "pretrained":
        # The encoder's own file lacks textseq's cleaning (HTML, URLs, whitespace): the file
        # written beside the graph has it, as the Hub-style folder's has.
        folder = Path(tempfile.mkdtemp(prefix="textseq-tokenizer-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # copied beside the file
        portable_tokenizer(predictor).save(str(folder / "tokenizer.json"))
        return folder / "tokenizer.json"
    return predictor.directory / "tokenizer.json"
