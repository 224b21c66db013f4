"""A trained tagger loaded from its model directory: tag sentences, with entity spans and
their confidences, per-token tag marginals, n-best tag sequences, and evaluation.

Confidences come from the output layer's own probabilities: a token's is the marginal
probability p(y_t = tag | x) of its predicted tag (forward-backward for a CRF, softmax
otherwise); an entity's is the probability that the sentence's tag sequence contains exactly
that entity (the CRF's mass of every sequence with those tags at those positions and no
continuation after them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textseq.embedding_space import WordEmbeddings
from textseq.errors import DataError, ModelDirError
from textseq.explain import TagExplanation
from textseq.inference import autocast, check_inference_options, prepare_for_inference
from textseq.limits import DEFAULT_LIMITS, InputLimits, apply_limits
from textseq.model_dir import load_weights
from textseq.models.tagger import SequenceTagger
from textseq.progress import Progress
from textseq.tasks.tag.build import build_tagger
from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.conll import TaggedSentence
from textseq.tasks.tag.data import TagCollator, TagEncoder
from textseq.tasks.tag.metrics import entity_scores, token_accuracy
from textseq.text.pretrained import PretrainedTokenizer, encoder_from_saved_config
from textseq.text.tags import Span, convert, spans_of
from textseq.text.tokenizers import create_tokenizer


class TaggerPredictor:
    """What `textseq.load(DIR)` returns for a tagger."""

    def __init__(
        self,
        *,
        model: SequenceTagger,
        encoder: TagEncoder,
        config: TagConfig,
        directory: Path | None = None,
        quantize: str | None = None,
        precision: str = "fp32",
        subword_tokenizer: Any = None,
    ):
        check_inference_options(quantize, precision)
        if model.word_features is not None and subword_tokenizer is None:
            raise ValueError("a tagger with transformer features needs its subword tokenizer")
        self.subword_tokenizer = subword_tokenizer  # the contextual encoder's (Hugging Face)
        self.model = prepare_for_inference(model, quantize=quantize)
        self.quantize = quantize
        self.precision = precision
        self.limits: InputLimits = DEFAULT_LIMITS  # what `predict` holds texts to
        self.encoder = encoder
        self.config = config
        self.directory = directory
        self.scheme = config.model.scheme
        self.tokenizer = create_tokenizer(config.text.tokenizer)

    @classmethod
    def load(
        cls,
        directory: Path,
        config: TagConfig,
        *,
        quantize: str | None = None,
        precision: str = "fp32",
        onnx: str | Path | None = None,
    ) -> TaggerPredictor:
        """The tagger in `directory`, whose config is `config`; `quantize="int8"` or
        `precision="bf16"` choose how its encoder runs (see `textseq.inference`; the CRF
        always runs in fp32)."""
        if onnx is not None:
            raise ValueError(f"onnx ({onnx}) runs exported classifiers; {directory} holds a tagger")
        encoder = TagEncoder.load(
            directory, lowercase=config.text.lowercase, scheme=config.model.scheme
        )
        backbone, subword_tokenizer = None, None
        if "transformer" in config.model.features:
            backbone = encoder_from_saved_config(directory)
            subword_tokenizer = PretrainedTokenizer.load_saved(directory).tokenizer
        model = build_tagger(config, encoder, backbone=backbone)
        load_weights(model, directory)
        return cls(
            model=model,
            encoder=encoder,
            config=config,
            directory=directory,
            quantize=quantize,
            precision=precision,
            subword_tokenizer=subword_tokenizer,
        )

    @property
    def tags(self) -> list[str]:
        """The model's tags, in output order (in the modelled scheme)."""
        return list(self.encoder.tags.itos)

    def tokenize(self, text: str) -> list[str]:
        """Raw text as tokens, split by the configured tokenizer, casing kept."""
        return self.tokenizer.tokenize(text)

    def word_embeddings(self) -> WordEmbeddings:
        """The word embedding table (V, E) with the word vocabulary that indexes it (the
        character and casing embeddings are not part of it)."""
        if self.model.embedding is None:
            raise ModelDirError(
                f"{self.directory}: this tagger has no word embedding (model.features "
                f"{self.config.model.features})"
            )
        normalise = str.lower if self.encoder.lowercase else None
        return WordEmbeddings(self.model.embedding.weight, self.encoder.words, normalise)

    # --- running the model ---------------------------------------------------------------

    def _batches(self, token_lists: Sequence[Sequence[str]], batch_size: int):
        """(positions, batch, emissions) for the sentences, longest first within batches."""
        if any(len(tokens) == 0 for tokens in token_lists):
            raise DataError("cannot tag an empty sentence")
        dataset = self.encoder.dataset(
            [TaggedSentence(list(t)) for t in token_lists],
            with_tags=False,
            with_words=self.model.word_features is not None,
        )
        order = sorted(range(len(dataset)), key=lambda i: -dataset.lengths[i])
        collate = TagCollator(self.subword_tokenizer)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                positions = order[start : start + batch_size]
                batch = collate([dataset[i] for i in positions])
                with autocast(self.precision):
                    emissions = self.model(
                        batch.word_ids,
                        batch.lengths,
                        batch.char_ids,
                        batch.casing_ids,
                        subwords=batch.subwords,
                    )  # (B, T, K)
                emissions = emissions.float()  # (B, T, K), the CRF runs in fp32
                yield positions, batch, emissions

    def tag_ids(self, token_lists: Sequence[Sequence[str]], *, batch_size: int = 256):
        """The decoded tag ids of every sentence (Viterbi for a CRF)."""
        results: list[list[int]] = [[] for _ in token_lists]
        with Progress("tag", total=len(token_lists), unit="sentences") as progress:
            for positions, batch, emissions in self._batches(token_lists, batch_size):
                paths = self.model.output.decode(emissions, batch.mask)  # (B, T)
                for b, position in enumerate(positions):
                    results[position] = paths[b, : len(token_lists[position])].tolist()
                progress.update(len(positions))
        return results

    def predict(
        self,
        inputs: Sequence[str | Sequence[str]],
        *,
        nbest: int = 1,
        batch_size: int = 256,
    ) -> list[dict[str, Any]]:
        """Tags each input (raw text, tokenised here, or a list of tokens): one dict per input
        with `tokens`, `tags` (BIO for entity tags), `confidences` (each token's marginal
        probability of its tag) and, for entity tags, `entities`: [{"text", "type", "start",
        "end", "confidence"}] with token positions [start, end). With `nbest` > 1 (CRF only)
        also `nbest`: [{"tags", "score"}], best first."""
        if nbest < 1:
            raise ValueError(f"nbest ({nbest}) must be at least 1")
        apply_limits([x for x in inputs if isinstance(x, str)], self.limits)
        token_lists = [self.tokenize(x) if isinstance(x, str) else list(x) for x in inputs]
        for index, tokens in enumerate(token_lists):
            if not tokens:
                raise DataError(f"input {index + 1} has no tokens")
        results: list[dict[str, Any]] = [{} for _ in token_lists]
        output = self.model.output
        for positions, batch, emissions in self._batches(token_lists, batch_size):
            mask = batch.mask  # (B, T)
            paths, scores = output.nbest(emissions, mask, n=nbest)  # (B, N, T), (B, N)
            marginals = output.marginals(emissions, mask)  # (B, T, K)
            for b, position in enumerate(positions):
                tokens = token_lists[position]
                n = len(tokens)
                ids = paths[b, 0, :n].tolist()
                names = [self.encoder.tags.itos[i] for i in ids]
                result: dict[str, Any] = {
                    "tokens": tokens,
                    "tags": self._as_bio(names),
                    "confidences": [round(float(marginals[b, t, i]), 6) for t, i in enumerate(ids)],
                }
                if self.scheme != "plain":
                    spans = spans_of(names, self.scheme)
                    confidences = self._span_confidences(emissions[b, :n], spans)
                    result["entities"] = [
                        {
                            "text": " ".join(tokens[span.start : span.end]),
                            "type": span.type,
                            "start": span.start,
                            "end": span.end,
                            "confidence": round(confidence, 6),
                        }
                        for span, confidence in zip(spans, confidences, strict=True)
                    ]
                if nbest > 1:
                    result["nbest"] = [
                        {
                            "tags": self._as_bio(
                                [self.encoder.tags.itos[i] for i in paths[b, k, :n].tolist()]
                            ),
                            "score": round(float(scores[b, k]), 4),
                        }
                        for k in range(nbest)
                        if torch.isfinite(scores[b, k])
                    ]
                results[position] = result
        return results

    def _as_bio(self, names: list[str]) -> list[str]:
        if self.scheme in ("plain", "bio"):
            return names
        return convert(names, source=self.scheme, target="bio")

    def _span_confidences(self, emissions: torch.Tensor, spans: list[Span]) -> list[float]:
        """p(the tag sequence holds exactly `span`) for each span of one sentence, with
        emissions (T, K), computed together as a batch of restricted partition functions."""
        if not spans:
            return []
        length, num_tags = emissions.shape
        stoi = self.encoder.tags.stoi
        allowed = torch.ones(len(spans), length, num_tags, dtype=torch.bool)  # (S, T, K)
        for s, (kind, start, end) in enumerate(spans):
            if self.scheme == "iobes":
                wanted = (
                    [f"S-{kind}"]
                    if end - start == 1
                    else [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 2) + [f"E-{kind}"]
                )
                continuation = [f"I-{kind}", f"E-{kind}"]
            else:
                wanted = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
                continuation = [f"I-{kind}"]
            for offset, tag in enumerate(wanted):
                allowed[s, start + offset] = False
                allowed[s, start + offset, stoi[tag]] = True
            if end < length:  # the entity ends here: nothing may continue it
                for tag in continuation:
                    allowed[s, end, stoi[tag]] = False
        mask = torch.ones(len(spans), length, dtype=torch.bool)  # (S, T)
        expanded = emissions.unsqueeze(0).expand(len(spans), -1, -1)  # (S, T, K)
        log_p = self.model.output.sequence_log_probability(expanded, mask, allowed)  # (S,)
        return log_p.exp().tolist()

    def marginals(self, tokens: str | Sequence[str]) -> tuple[list[str], list[str], torch.Tensor]:
        """(tokens, tag names, probabilities (tokens x tags)): p(y_t = tag | sentence) for
        every token and tag; each row sums to 1. Raw text is tokenised first. `explain` wraps
        it with the predicted tags for `textseq explain`."""
        token_list = self.tokenize(tokens) if isinstance(tokens, str) else list(tokens)
        for _, batch, emissions in self._batches([token_list], 1):
            matrix = self.model.output.marginals(emissions, batch.mask)[0]  # (T, K)
            return token_list, self.tags, matrix.float()
        raise DataError("no tokens")

    def explain(self, text: str | Sequence[str]) -> TagExplanation:
        """The per-token tag marginals of one sentence with its predicted tags (what
        `textseq explain` prints, or draws as a heatmap with `.save("FILE.png")`)."""
        tokens, tag_names, matrix = self.marginals(text)
        tags = self.predict([tokens])[0]["tags"]
        return TagExplanation(tokens, tags, list(tag_names), matrix.numpy())

    # --- serving (`textseq serve`, see textseq.tasks.base.Servable) -------------------------

    def serve_metadata(self) -> dict[str, Any]:
        """What GET /metadata reports besides the config: the tags, in output order, as
        `labels`."""
        return {"labels": self.tags}

    def serve_options(self) -> dict[str, tuple[int, str]]:
        """No options: /predict takes only texts (see textseq.tasks.base.Servable)."""
        return {}

    def serve_problem(self, text: str) -> str | None:
        """Why `text` cannot be tagged ("has no tokens"), or None."""
        return None if self.tokenize(text) else "has no tokens"

    def serve_texts(self, texts: list[str], *, batch_size: int) -> list[dict[str, Any]]:
        """POST /predict's answer: what `predict` returns for the raw `texts`."""
        return self.predict(texts, batch_size=batch_size)

    # --- evaluation ----------------------------------------------------------------------

    def evaluate(
        self, sentences: Sequence[TaggedSentence], *, batch_size: int = 256
    ) -> dict[str, Any]:
        """Entity-level precision, recall and F1 (overall and per type, seqeval) for entity
        tags; token accuracy always; the number of sentences and tokens, and the tagging speed
        (sentences per second, decoding included)."""
        for sentence in sentences:
            if sentence.tags is None:
                raise DataError("evaluation needs tagged sentences", path=sentence.source)
        started = time.perf_counter()
        predicted_ids = self.tag_ids([s.tokens for s in sentences], batch_size=batch_size)
        seconds = time.perf_counter() - started
        itos = self.encoder.tags.itos
        predicted = [self._as_bio([itos[i] for i in ids]) for ids in predicted_ids]
        gold = [list(s.tags) for s in sentences]
        result: dict[str, Any] = {
            "n": len(sentences),
            "tokens": sum(len(s) for s in sentences),
            "accuracy": round(token_accuracy(gold, predicted), 6),
        }
        if self.scheme != "plain":
            result.update(entity_scores(gold, predicted))
        result["sentences_per_second"] = round(len(sentences) / max(seconds, 1e-9), 1)
        return result
