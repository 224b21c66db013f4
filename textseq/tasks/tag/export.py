"""What `textseq export` writes for a tagger (see `textseq.export` for the writing and the
parity check).

The graph, with inputs of any batch size and length:

    word_ids (B, T), lengths (B,) [, char_ids (B, T, C)] [, casing_ids (B, T)]
        -> emissions (B, T, K), tags (B, T) int64

`char_ids` and `casing_ids` are inputs of models that use them. `tags` is a CRF tagger's
Viterbi path, computed in the graph (`viterbi_path`, compiled with `torch.jit.script` so its
loops run over any length), or a softmax tagger's argmax; padded positions repeat the last real
tag. Marginals, n-best paths and entity probabilities are not in the graph: they come from the
emissions and the CRF's scores in model.safetensors.

The parity check compares the tag marginals of every real token (forward-backward for a CRF,
softmax otherwise), and requires the exported graph's tags to equal the PyTorch decoder's path
over the graph's own emissions at every real token. A character BiLSTM runs on packed
sequences, which ONNX cannot export: such taggers export to TorchScript only.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn

from textseq.errors import ExportError
from textseq.modules.char_encoders import CharBiLSTM
from textseq.modules.crf import LinearChainCRF, viterbi_path
from textseq.tasks.base import ExportSubject
from textseq.tasks.tag.conll import TaggedSentence
from textseq.tasks.tag.data import TagCollator
from textseq.tasks.tag.datasets import load_tagged
from textseq.tasks.tag.predictor import TaggerPredictor


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's, in torch 2.13
        return torch.jit.script(viterbi_path)


def export_subject(
    predictor: TaggerPredictor, data: str, *, limit: int, batch_size: int
) -> ExportSubject:
    """The tagger's graph with the first `limit` sentences of `data` (a file or NAME:SPLIT)
    as held-out batches of `batch_size`."""
    model = predictor.model
    if model.word_features is not None or model.embedding is None:
        raise ExportError(
            f"{predictor.directory}: ONNX export covers taggers that read word embeddings, "
            f"characters and casing; this one has model.features {predictor.config.model.features}"
            " (load it with textseq.load, or serve it with textseq serve)"
        )
    output = model.output
    sentences = load_tagged(data, tag_set=predictor.config.data.tags)[:limit]
    if not sentences:
        raise ExportError(f"{data} holds no sentences for the parity check")
    dataset = predictor.encoder.dataset(
        [TaggedSentence(list(s.tokens)) for s in sentences], with_tags=False
    )
    chars = model.char_encoder is not None
    casing = model.casing_embedding is not None
    collate = TagCollator()
    batches, masks = [], []
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        inputs = [batch.word_ids, batch.lengths]  # (B, T), (B,)
        if chars:
            inputs.append(batch.char_ids)  # (B, T, C)
        if casing:
            inputs.append(batch.casing_ids)  # (B, T)
        batches.append(tuple(inputs))
        masks.append(batch.mask)  # (B, T)

    def probabilities(outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        """The tag marginals of every real token, (tokens, K), from the emissions (B, T, K)."""
        return output.marginals(outputs[0].float(), mask)[mask]  # (tokens, K)

    def labels(outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        """The graph's tag of every real token, (tokens,)."""
        return outputs[1][mask]  # (tokens,)

    def check(outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> None:
        """The graph's tags (B, T) must be the PyTorch decoder's path over the graph's own
        emissions (B, T, K) at every real token of mask (B, T)."""
        emissions, tags = outputs
        expected = output.decode(emissions.float(), mask)  # (B, T)
        wrong = int((expected != tags)[mask].sum())
        if wrong:
            raise ExportError(
                f"the exported graph's tags differ from decoding its own emissions at {wrong} "
                f"of {int(mask.sum())} tokens; nothing was written"
            )

    graph = TaggerGraph(model, chars=chars, casing=casing).eval()
    unsupported = {}
    if any(isinstance(m, CharBiLSTM) for m in graph.modules()):
        unsupported["onnx"] = (
            "this tagger's character BiLSTM runs on packed sequences, which ONNX cannot "
            "export; use --format torchscript (or a tagger with chars: cnn)"
        )
    input_names = ["word_ids", "lengths"] + ["char_ids"] * chars + ["casing_ids"] * casing
    axes = {
        "word_ids": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        "char_ids": {0: "batch", 1: "time", 2: "chars"},
        "casing_ids": {0: "batch", 1: "time"},
        "emissions": {0: "batch", 1: "time"},
        "tags": {0: "batch", 1: "time"},
    }
    output_names = ["emissions", "tags"]
    return ExportSubject(
        predictor=predictor,
        graph=graph,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes={name: axes[name] for name in input_names + output_names},
        batches=batches,
        masks=masks,
        probabilities=probabilities,
        labels=labels,
        check=check,
        unsupported=unsupported,
        viterbi_in_graph=graph.viterbi is not None,
        classes=predictor.tags,
        tokenizer=None if predictor.directory is None else predictor.directory / "tokenizer.json",
    )
