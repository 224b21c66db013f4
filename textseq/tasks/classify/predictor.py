"""A trained classifier loaded from its model directory: predict and evaluate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from textseq.data.readers import TextExample, apply_label_map
from textseq.data.sources import examples_from_memory
from textseq.embedding_space import WordEmbeddings
from textseq.errors import DataError, ModelDirError, TextseqError
from textseq.explain import Explanation, explain_texts
from textseq.inference import (
    OnnxClassifier,
    autocast,
    check_inference_options,
    prepare_for_inference,
)
from textseq.limits import DEFAULT_LIMITS, InputLimits, apply_limits, model_limits
from textseq.model_dir import load_weights
from textseq.progress import Progress
from textseq.tasks.classify.build import build_model, load_text_pipeline
from textseq.tasks.classify.config import Config
from textseq.text.pipeline import TextPipeline
from textseq.text.pretrained import encoder_from_saved_config
from textseq.text.vocab import UNK, Vocabulary

ATTENTION_POOLINGS = ("attention", "self_attention", "multihead")


class TextClassifierPredictor:
    """What `textseq.load(DIR)` returns for a classification model."""

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        pipeline: TextPipeline,
        labels: Vocabulary,
        config: Config,
        directory: Path | None = None,
        quantize: str | None = None,
        precision: str = "fp32",
    ):
        check_inference_options(quantize, precision)
        # An nn.Module, or an exported graph's runner (textseq.inference.OnnxClassifier)
        self.model = (
            prepare_for_inference(model, quantize=quantize)
            if isinstance(model, torch.nn.Module)
            else model
        )
        self.pipeline = pipeline
        self.label_vocab = labels
        self.config = config
        self.directory = directory
        self.quantize = quantize
        self.precision = precision
        # The caps `predict` holds texts to (textseq.limits), with the model's own token cap
        # (`max_tokens`) added; the CLI and the server set theirs.
        self.limits: InputLimits = DEFAULT_LIMITS

    @classmethod
    def load(
        cls,
        directory: Path,
        config: Config,
        *,
        quantize: str | None = None,
        precision: str = "fp32",
        onnx: str | Path | None = None,
    ) -> TextClassifierPredictor:
        """The classifier in `directory`, whose config is `config`; `quantize="int8"` or
        `precision="bf16"` choose how it runs (see `textseq.inference`). `onnx`: run this
        file, written by `textseq export DIR --format onnx`, in ONNX Runtime instead of the
        PyTorch model (predict and evaluate; not explain or neighbors)."""
        pipeline = load_text_pipeline(directory, config)
        labels = Vocabulary.load(directory / "labels.json")
        backbone = None
        if config.model.encoder.type == "pretrained":
            backbone = encoder_from_saved_config(directory)
        model = build_model(config, vocab=pipeline.vocab, num_labels=len(labels), backbone=backbone)
        load_weights(model, directory)
        if onnx is not None:
            if quantize is not None or precision != "fp32":
                raise ValueError(
                    "onnx runs the exported file as it is: quantise it with textseq export "
                    "--quantize int8, not at load time"
                )
            if not Path(onnx).is_file():
                raise ModelDirError(f"no such ONNX file: {onnx}")
            model = OnnxClassifier(onnx)
        return cls(
            model=model,
            pipeline=pipeline,
            labels=labels,
            config=config,
            directory=directory,
            quantize=quantize,
            precision=precision,
        )

    @property
    def labels(self) -> list[str]:
        return list(self.label_vocab.itos)

    @property
    def has_attention(self) -> bool:
        return self.config.model.pooling.type in ATTENTION_POOLINGS

    def predict(
        self, texts: Sequence[str], *, explain: bool = False, batch_size: int = 256
    ) -> list[dict[str, Any]]:
        """One dict per text: `{"text", "label", "probs": {label: p}}`, plus `"attention":
        [[token, weight], ...]` with `explain=True` (attention-pooling models only)."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts; wrap a single text in a list")
        if explain and not self.has_attention:
            raise ValueError(
                f"this model pools with {self.config.model.pooling.type!r}, which has no "
                f"attention weights; explain needs one of {', '.join(ATTENTION_POOLINGS)}"
            )
        for position, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"text {position + 1} is empty; every text needs some content")
        limits, count_tokens = model_limits(self, self.limits)
        texts = apply_limits(texts, limits, count_tokens=count_tokens).texts  # or InputTooLarge
        return self._predict(texts, explain=explain, batch_size=batch_size)

    def _predict(
        self, texts: Sequence[str], *, explain: bool, batch_size: int
    ) -> list[dict[str, Any]]:
        """`predict` of texts already checked and held to the caps."""
        if explain:
            tokens = [self.pipeline.tokens(text) for text in texts]
            ids = [self.pipeline.vocab.encode(t) for t in tokens]
        else:
            ids = self.encode(texts)
        probabilities, attention = self._run(ids, batch_size=batch_size, keep_attention=explain)
        best, table = probabilities.argmax(dim=-1).tolist(), probabilities.tolist()
        labels, itos = self.labels, self.label_vocab.itos
        results = []
        for index, text in enumerate(texts):
            result: dict[str, Any] = {
                "text": text,
                "label": itos[best[index]],
                "probs": {
                    label: round(p, 6) for label, p in zip(labels, table[index], strict=True)
                },
            }
            if explain:
                weights = attention[index]
                result["attention"] = [
                    [token, round(float(w), 6)]
                    for token, w in zip(tokens[index], weights, strict=True)
                ]
            results.append(result)
        return results

    @property
    def max_tokens(self) -> int | None:
        """The most tokens of a text the model reads (its `data.max_length`), or None."""
        return self.pipeline.max_length

    def count_tokens(self, text: str) -> int:
        """The tokens of `text` before the model's truncation."""
        return len(self.pipeline.tokenizer.tokenize(self.pipeline.cleaner(text)))

    def serve_metadata(self) -> dict[str, Any]:
        """What `textseq serve`'s GET /metadata reports besides the config: the labels, in
        output order (see textseq.tasks.base.Servable)."""
        return {"labels": self.labels}

    def serve_options(self) -> dict[str, tuple[int, str]]:
        """No options: /predict takes only texts (see textseq.tasks.base.Servable)."""
        return {}

    def serve_problem(self, text: str) -> str | None:
        """None: any text with content (the server checks that) can be classified."""
        return None

    def serve_texts(self, texts: list[str], *, batch_size: int) -> list[dict[str, Any]]:
        """`textseq serve`'s answer to POST /predict: what `predict` returns for `texts`,
        which the server has checked and held to its own caps (textseq.limits)."""
        return self._predict(texts, explain=False, batch_size=batch_size)

    def explain(self, text: str, *, method: str = "gradient-x-input") -> Explanation:
        """Why the model labels `text` as it does: tokens, label, probabilities, saliency per
        token (`method`: gradient-x-input, or ig for integrated gradients through Captum),
        and the attention weights the model has (pooling weights; per-layer, per-head maps
        for Transformer encoders). See `textseq.explain`."""
        if not isinstance(text, str):
            raise TypeError("explain takes one text; use explain_many for a list")
        return self.explain_many([text], method=method)[0]

    def explain_many(
        self, texts: Sequence[str], *, method: str = "gradient-x-input"
    ) -> list[Explanation]:
        """`explain` for several texts at once (run as one padded batch)."""
        return explain_texts(self.model, self.pipeline, self.label_vocab, texts, method=method)

    def word_embeddings(self) -> WordEmbeddings:
        """The embedding table (V, E) with the vocabulary that indexes it: a pretrained
        encoder's input embeddings with its tokenizer's vocabulary, else the model's own."""
        try:
            # A pretrained classifier's table is its backbone's input embeddings, which some
            # Hugging Face models do not expose; an exported graph's runner has none at all.
            table = self.model.embedding
        except (AttributeError, NotImplementedError):
            raise TextseqError(
                f"{self.directory}: this model's word-embedding table cannot be reached "
                f"({type(self.model).__name__} does not expose it)"
            ) from None
        return WordEmbeddings(table.weight, self.pipeline.vocab, self.pipeline.spelling)

    def neighbors(self, word: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words nearest to `word` by cosine similarity in the embedding table, with
        their similarities (the word itself and specials excluded). See
        `textseq.embedding_space.nearest_neighbors`."""
        return self.word_embeddings().neighbors(word, k=k)

    def logits(self, texts: Sequence[str], *, batch_size: int = 256) -> torch.Tensor:
        """The model's logits (N, C), in `labels` order: what a student distils."""
        logits, _ = self._run(self.encode(texts), batch_size=batch_size, softmax=False)
        return logits

    def predict_labels(
        self, examples: Sequence[TextExample], *, batch_size: int = 256
    ) -> torch.Tensor:
        """Predicted label ids, (N,)."""
        ids = self.encode([e.text for e in examples])
        probabilities, _ = self._run(ids, batch_size=batch_size)
        return probabilities.argmax(dim=-1)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of each text: cleaned, tokenised, truncated and looked up in one pass
        per text (never empty)."""
        clean, tokenize = self.pipeline.cleaner, self.pipeline.tokenizer.tokenize
        stoi, unk = self.pipeline.vocab.stoi, self.pipeline.vocab.unk_index
        limit = self.pipeline.max_length
        ids = []
        for text in texts:
            tokens = tokenize(clean(text))[:limit] or [UNK]
            ids.append([stoi.get(token, unk) for token in tokens])
        return ids

    def batches(
        self, ids: list[list[int]], *, batch_size: int
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """Padded batches of `ids` in length order (sorted once, so a batch holds texts of
        similar lengths): (positions in `ids`, token_ids (B, T), lengths (B,))."""
        pad = self.pipeline.vocab.pad_index
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            longest = len(ids[rows[-1]])
            token_ids = torch.tensor([ids[i] + [pad] * (longest - len(ids[i])) for i in rows])
            lengths = torch.tensor([len(ids[i]) for i in rows])  # (B,)
            yield rows, token_ids, lengths  # (B, T), (B,)

    @torch.inference_mode()
    def _run(
        self,
        ids: list[list[int]],
        *,
        batch_size: int,
        keep_attention: bool = False,
        softmax: bool = True,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        probabilities = torch.empty(len(ids), len(self.label_vocab))
        attention: list[torch.Tensor] = [torch.empty(0)] * len(ids)
        with Progress("classify", total=len(ids)) as progress:
            for rows, token_ids, lengths in self.batches(ids, batch_size=batch_size):
                with autocast(self.precision):
                    output = self.model(token_ids, lengths)
                logits = output.logits.float()  # (B, C)
                probabilities[rows] = torch.softmax(logits, dim=-1) if softmax else logits
                if keep_attention and output.attention is not None:
                    for row, index in enumerate(rows):
                        attention[index] = output.attention[row, : lengths[row]]
                progress.update(len(rows))
        return probabilities, attention

    def evaluate(
        self,
        examples: Sequence[TextExample] | Any,
        *,
        batch_size: int = 256,
        label_map: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
        (rows: true label, columns: predicted label, in `labels` order).

        `examples`: `TextExample`s, or rows in memory (a list of (text, label) pairs or dicts,
        a pandas DataFrame, a `datasets.Dataset`; see `textseq.data.sources`). `label_map`
        renames the data's labels (`{"0": "negative"}`) before they are checked against the
        model's."""
        from torchmetrics.functional.classification import (
            multiclass_accuracy,
            multiclass_confusion_matrix,
            multiclass_f1_score,
            multiclass_precision,
            multiclass_recall,
        )

        if not (
            isinstance(examples, Sequence) and all(isinstance(e, TextExample) for e in examples)
        ):
            examples = examples_from_memory(examples)
        examples = apply_label_map(examples, label_map)
        if not examples:
            raise DataError("there are no examples to evaluate")
        truth = []
        for example in examples:
            if example.label is None:
                raise DataError("example has no label", path=example.source, line=example.line)
            if example.label not in self.label_vocab:
                raise DataError(
                    f"label {example.label!r} is not one this model knows "
                    f"({', '.join(self.labels)})",
                    path=example.source,
                    line=example.line,
                )
            truth.append(self.label_vocab.stoi[example.label])
        target = torch.tensor(truth)
        predicted = self.predict_labels(examples, batch_size=batch_size)
        k = len(self.label_vocab)
        options = dict(num_classes=k, average="none", zero_division=0)
        precision = multiclass_precision(predicted, target, **options)
        recall = multiclass_recall(predicted, target, **options)
        f1 = multiclass_f1_score(predicted, target, **options)
        support = torch.bincount(target, minlength=k)
        return {
            "n": len(examples),
            "accuracy": float(
                multiclass_accuracy(predicted, target, num_classes=k, average="micro")
            ),
            "macro_f1": float(
                multiclass_f1_score(
                    predicted, target, num_classes=k, average="macro", zero_division=0
                )
            ),
            "per_class": {
                label: {
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                    "support": int(support[i]),
                }
                for i, label in enumerate(self.labels)
            },
            "labels": self.labels,
            "confusion_matrix": multiclass_confusion_matrix(
                predicted, target, num_classes=k
            ).tolist(),
        }
