"""A trained translation model loaded from its model directory: translate sentences (greedy
or beam search, n-best lists with scores), evaluate BLEU and chrF, and read out the
source x target attention of a translation.

BLEU is sacrebleu's corpus BLEU. On the official lower-cased tokenised references it is
computed with `tokenize="none"` (the hypothesis is the model's tokens joined by spaces), the
figure most Multi30k papers report. `bleu_raw` compares the same tokenised, lower-cased
hypothesis with the original (raw) references using sacrebleu's default 13a tokenizer, with
`lowercase=True`; no detokeniser is applied to the hypothesis (sacremoses is not a
dependency), so the figure is only indicative of a detokenised system's score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textseq.decoding import Hypothesis, beam_search, greedy_decode
from textseq.embedding_space import WordEmbeddings
from textseq.errors import DataError, UsageError
from textseq.explain import TranslationExplanation
from textseq.inference import check_inference_options, quantize_dynamic_int8
from textseq.limits import DEFAULT_LIMITS, InputLimits, apply_limits
from textseq.model_dir import load_weights
from textseq.progress import Progress
from textseq.tasks.translate.build import build_translator
from textseq.tasks.translate.config import TranslateConfig
from textseq.tasks.translate.data import ParallelEncoder, SentencePair
from textseq.tasks.translate.metrics import corpus_scores


class TranslatorPredictor:
    """What `textseq.load(DIR)` returns for a translation model."""

    precision = "fp32"

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        encoder: ParallelEncoder,
        config: TranslateConfig,
        directory: Path | None = None,
        quantize: str | None = None,
    ):
        check_inference_options(quantize, "fp32")
        # int8: the encoder's, the decoder's and the attention's LSTM/GRU/Linear layers
        # (textseq.inference); fp32 models run as trained.
        self.model = quantize_dynamic_int8(model) if quantize == "int8" else model.eval()
        self.quantize = quantize
        self.encoder = encoder
        self.config = config
        self.directory = directory
        self.limits: InputLimits = DEFAULT_LIMITS  # what `translate` holds inputs to

    @classmethod
    def load(
        cls,
        directory: Path,
        config: TranslateConfig,
        *,
        quantize: str | None = None,
        precision: str = "fp32",
        onnx: str | Path | None = None,
    ) -> TranslatorPredictor:
        """The translation model in `directory`, whose config is `config`; it runs in fp32, or
        with `quantize="int8"` its LSTM/GRU/Linear layers dynamically quantised. `onnx`: decode
        with the graphs of this folder, written by `textseq export DIR --format onnx`
        (`textseq.tasks.translate.onnx_model`; DIR/onnx.int8 with --quantize int8), in ONNX
        Runtime instead of the PyTorch model (translate, evaluate, explain's attention, serve;
        not neighbors)."""
        if precision != "fp32" or (onnx is not None and quantize is not None):
            raise ValueError(
                f"precision ({precision!r}) is not supported for translation models, which run "
                "in fp32 (or quantize='int8'); an ONNX export is quantised when exported "
                "(textseq export --quantize int8), not when loaded"
            )
        encoder = ParallelEncoder.load(
            directory, tokenizer=config.text.tokenizer, lowercase=config.text.lowercase
        )
        if onnx is not None:
            from textseq.tasks.translate.onnx_model import OnnxSeq2Seq  # the export extra

            model = OnnxSeq2Seq(onnx)
        else:
            model = build_translator(config, encoder)
            load_weights(model, directory)
        return cls(
            model=model, encoder=encoder, config=config, directory=directory, quantize=quantize
        )

    def word_embeddings(self) -> WordEmbeddings:
        """The source embedding table (V_src, E) with the source vocabulary."""
        if not isinstance(self.model, torch.nn.Module):
            raise UsageError("an ONNX export has no embedding table: load the model without onnx")
        normalise = str.lower if self.encoder.lowercase else None
        return WordEmbeddings(self.model.src_embedding.weight, self.encoder.src_vocab, normalise)

    # --- decoding ------------------------------------------------------------------------

    def hypotheses(
        self,
        texts: Sequence[str],
        *,
        beam_size: int | None = None,
        nbest: int = 1,
        batch_size: int = 64,
        return_attention: bool = False,
    ) -> list[list[Hypothesis]]:
        """The `nbest` best hypotheses of every source text, best first (greedy search when
        the beam size is 1), decoded in batches of similar source lengths."""
        beam_size = self.config.decoding.beam_size if beam_size is None else beam_size
        if beam_size < 1:
            raise ValueError(f"beam_size ({beam_size}) must be at least 1")
        if not 1 <= nbest <= beam_size:
            raise ValueError(f"nbest ({nbest}) must be between 1 and the beam size ({beam_size})")
        ids = [self.encoder.encode_source(text) for text in texts]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        d = self.config.decoding
        common = dict(
            sos_index=self.encoder.sos_index,
            eos_index=self.encoder.eos_index,
            max_length_a=d.max_length_a,
            max_length_b=d.max_length_b,
            forbidden=self.encoder.forbidden,
            return_attention=return_attention,
        )
        results: list[list[Hypothesis]] = [[] for _ in texts]
        what = "greedy decoding" if beam_size == 1 else f"beam-{beam_size} decoding"
        progress = Progress(what, total=len(order), unit="sentences")
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            sources = [torch.tensor(ids[i]) for i in positions]
            src = torch.nn.utils.rnn.pad_sequence(
                sources, batch_first=True, padding_value=self.encoder.pad_index
            )  # (B, S)
            lengths = torch.tensor([len(s) for s in sources])  # (B,)
            if beam_size == 1:
                found = [[h] for h in greedy_decode(self.model, src, lengths, **common)]
            else:
                found = beam_search(
                    self.model,
                    src,
                    lengths,
                    beam_size=beam_size,
                    alpha=d.length_penalty,
                    nbest=nbest,
                    **common,
                )
            for position, hypotheses in zip(positions, found, strict=True):
                results[position] = hypotheses
            progress.update(len(positions))
        progress.close()
        return results

    def to_text(self, hypothesis: Hypothesis) -> str:
        return self.encoder.detokenize(self.encoder.decode_target(hypothesis.tokens))

    def translate(
        self,
        texts: Sequence[str],
        *,
        beam_size: int | None = None,
        nbest: int = 1,
        batch_size: int = 64,
    ) -> list[dict[str, Any]]:
        """One dict per text: `source`, `translation`, `score` (log-probability divided by
        the length penalty; the plain log-probability for greedy search), `log_prob`, and
        with `nbest` > 1, `nbest`: [{"translation", "score", "log_prob"}], best first."""
        for index, text in enumerate(texts):
            if not text.strip():
                raise DataError(f"input {index + 1} is empty")
        apply_limits(texts, self.limits, noun="input")  # over 100,000 characters: refused
        found = self.hypotheses(texts, beam_size=beam_size, nbest=nbest, batch_size=batch_size)
        results = []
        for text, hypotheses in zip(texts, found, strict=True):
            best = hypotheses[0]
            result: dict[str, Any] = {
                "source": text,
                "translation": self.to_text(best),
                "score": round(best.score, 4),
                "log_prob": round(best.log_prob, 4),
            }
            if nbest > 1:
                result["nbest"] = [
                    {
                        "translation": self.to_text(h),
                        "score": round(h.score, 4),
                        "log_prob": round(h.log_prob, 4),
                    }
                    for h in hypotheses
                ]
            results.append(result)
        return results

    # --- evaluation ----------------------------------------------------------------------

    def serve_metadata(self) -> dict[str, Any]:
        """What `textseq serve`'s GET /metadata reports besides the config: the decoding."""
        d = self.config.decoding
        return {
            "beam_size": d.beam_size,
            "max_length": f"{d.max_length_a:g} x source tokens + {d.max_length_b}",
        }

    def serve_options(self) -> dict[str, tuple[int, str]]:
        """POST /translate takes a `beam_size`, capped by the server's --max-beam."""
        return {"beam_size": (self.config.decoding.beam_size, "max_beam")}

    def serve_problem(self, text: str) -> str | None:
        """None: any text with content (the server checks that) can be translated."""
        return None

    def serve_texts(
        self, texts: list[str], *, batch_size: int, beam_size: int
    ) -> list[dict[str, Any]]:
        """POST /translate's answer: what `translate` returns for `texts`."""
        return self.translate(texts, beam_size=beam_size, batch_size=batch_size)

    def evaluate(
        self,
        pairs: Sequence[SentencePair],
        *,
        beam_size: int | None = None,
        raw_references: Sequence[str] | None = None,
        bleu_tokenize: str = "none",
        batch_size: int = 64,
    ) -> dict[str, Any]:
        """BLEU and chrF of greedy decoding and, when the beam size is above 1, of beam
        search, side by side; `bleu_raw` against `raw_references` when given."""
        beam_size = self.config.decoding.beam_size if beam_size is None else beam_size
        lower = self.config.text.lowercase
        references = [p.tgt.lower() if lower else p.tgt for p in pairs]
        sources = [p.src for p in pairs]
        result: dict[str, Any] = {"n": len(pairs)}
        for name, size in (("greedy", 1), ("beam", beam_size)):
            if name == "beam" and beam_size == 1:
                continue
            started = time.perf_counter()
            found = self.hypotheses(sources, beam_size=size, batch_size=batch_size)
            seconds = time.perf_counter() - started
            texts = [self.to_text(hypotheses[0]) for hypotheses in found]
            scores = corpus_scores(texts, references, tokenize=bleu_tokenize)
            row: dict[str, Any] = {"beam_size": size}
            if size > 1:
                row["length_penalty"] = self.config.decoding.length_penalty
            row.update(bleu=scores["bleu"], chrf=scores["chrf"])
            if raw_references is not None:
                from sacrebleu.metrics import BLEU

                row["bleu_raw"] = round(
                    BLEU(lowercase=True, force=True)
                    .corpus_score(texts, [list(raw_references)])
                    .score,
                    2,
                )
            row["sentences_per_second"] = round(len(pairs) / max(seconds, 1e-9), 1)
            result[name] = row
        result["bleu_signature"] = corpus_scores(["a"], ["a"], tokenize=bleu_tokenize)[
            "bleu_signature"
        ]
        if raw_references is not None:
            result["bleu_raw_note"] = (
                "tokenised lower-cased hypothesis vs raw references, sacrebleu 13a, "
                "lowercase=True; no detokeniser applied"
            )
        return result

    # --- attention -----------------------------------------------------------------------

    def explain(self, text: str) -> TranslationExplanation:
        """The greedy translation of `text` with its attention, for `textseq explain`."""
        found = self.attention(text)
        layers = found.get("layers")
        return TranslationExplanation(
            source=found["source"],
            translation=found["translation"],
            source_tokens=found["source_tokens"],
            target_tokens=found["target_tokens"],
            weights=np.asarray(found["weights"], dtype=float),
            layers=None if layers is None else [np.asarray(x, dtype=float) for x in layers],
        )

    def attention(self, text: str) -> dict[str, Any]:
        """The greedy translation of `text` with its attention: `source_tokens`,
        `target_tokens` (with `<eos>`), and `weights` [target][source] (recurrent models) or
        `layers` [layer][head][target][source] of cross-attention (Transformers)."""
        tokens = self.encoder.tokens(text)
        if not tokens:
            raise DataError("cannot translate an empty text")
        source_tokens = [t if t in self.encoder.src_vocab.stoi else f"{t} (<unk>)" for t in tokens]
        (hypothesis,) = self.hypotheses([text], beam_size=1, return_attention=True)[0]
        target_tokens = [*self.encoder.decode_target(hypothesis.tokens), "<eos>"]
        result: dict[str, Any] = {
            "source": text,
            "translation": self.to_text(hypothesis),
            "source_tokens": source_tokens,
            "target_tokens": target_tokens,
        }
        cross = getattr(self.model, "cross_attention", None)
        if cross is not None:  # a Transformer: every layer's and head's cross-attention
            ids = torch.tensor([self.encoder.encode_source(text)])
            target = torch.tensor([[self.encoder.sos_index, *hypothesis.tokens]])
            with torch.inference_mode():
                layers = cross(ids, torch.tensor([ids.size(1)]), target)  # L x (1, N, T, S)
            result["layers"] = [layer[0].tolist() for layer in layers]
            result["weights"] = torch.stack(layers).mean(dim=(0, 2))[0].tolist()  # (T, S)
        else:
            result["weights"] = hypothesis.attention.tolist()  # (T, S)
        return result
