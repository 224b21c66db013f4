"""A trained language model loaded from its model directory: generate, perplexity, evaluate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from textseq.embedding_space import WordEmbeddings
from textseq.errors import DataError
from textseq.generation import generate_ids
from textseq.inference import check_inference_options, prepare_for_inference
from textseq.model_dir import load_weights
from textseq.tasks.lm.build import build_language_model, is_character_level
from textseq.tasks.lm.config import LMConfig
from textseq.tasks.lm.data import corpus_ids
from textseq.tasks.lm.metrics import nll_of, summarize_nll
from textseq.text.pipeline import TextPipeline, load_pipeline
from textseq.text.vocab import EOS


class LanguageModelPredictor:
    """What `textseq.load(DIR)` returns for a language model."""

    precision = "fp32"

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        pipeline: TextPipeline,
        config: LMConfig,
        directory: Path | None = None,
        quantize: str | None = None,
    ):
        check_inference_options(quantize, "fp32")
        self.model = prepare_for_inference(model, quantize=quantize)
        self.quantize = quantize
        self.pipeline = pipeline
        self.config = config
        self.directory = directory
        self.eos_index = pipeline.vocab.stoi[EOS]

    @classmethod
    def load(
        cls,
        directory: Path,
        config: LMConfig,
        *,
        quantize: str | None = None,
        precision: str = "fp32",
        onnx: str | Path | None = None,
    ) -> LanguageModelPredictor:
        """The language model in `directory`, whose config is `config`; `quantize="int8"`
        quantises its LSTM/GRU and Linear layers (see `textseq.inference`)."""
        if precision != "fp32":
            raise ValueError(
                f"precision ({precision!r}) is for classifiers and taggers; language models "
                "run in fp32 (or quantize='int8')"
            )
        if onnx is not None:
            raise ValueError(
                f"onnx ({onnx}) runs exported classifiers; {directory} holds a language model"
            )
        pipeline = load_pipeline(directory, config.text, max_length=None)
        model = build_language_model(config, vocab=pipeline.vocab)
        load_weights(model, directory)
        return cls(
            model=model, pipeline=pipeline, config=config, directory=directory, quantize=quantize
        )

    @property
    def character_level(self) -> bool:
        return is_character_level(self.config)

    def generate(
        self,
        prompt: str = "",
        *,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        num: int = 1,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[str]:
        """`num` continuations of `prompt` (each returned with the prompt in front), sampled
        with `temperature` (0: greedy), `top_k` and `top_p`; sample i uses seed `seed + i`,
        so a seed always gives the same texts. Generation of a sample ends after `max_tokens`
        tokens. `on_text(i, piece)` is called with each piece of text as it is generated."""
        if max_tokens < 0:
            raise ValueError(f"max_tokens ({max_tokens}) must be at least 0")
        if num < 1:
            raise ValueError(f"num ({num}) must be at least 1")
        prompt_lines = prompt.split("\n")
        prompt_tokens = self.pipeline.stream_tokens(prompt_lines)[:-1]  # no <eos> after it
        # Generation starts at a line boundary, as every line of the corpus does.
        prompt_ids = [self.eos_index, *self.pipeline.vocab.encode(prompt_tokens)]
        texts = []
        for index in range(num):
            generator = torch.Generator()
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed + index)
            pieces = [prompt]
            at_line_start = not prompt_tokens or prompt.endswith("\n")
            for token_id in generate_ids(
                self.model,
                prompt_ids,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
            ):
                piece, at_line_start = self._piece(token_id, at_line_start)
                pieces.append(piece)
                if on_text is not None:
                    on_text(index, piece)
            texts.append("".join(pieces))
        return texts

    def _piece(self, token_id: int, at_line_start: bool) -> tuple[str, bool]:
        """The text a generated token adds, and whether the next token starts a line."""
        if token_id == self.eos_index:
            return "\n", True
        token = self.pipeline.vocab.itos[token_id]
        if self.character_level or at_line_start:
            return token, False
        return " " + token, False

    def serve_metadata(self) -> dict[str, Any]:
        """What `textseq serve`'s GET /metadata reports besides the config."""
        return {"character_level": self.character_level}

    def serve_options(self) -> dict[str, tuple[int, str]]:
        """POST /generate takes `max_tokens` (100), capped by the server's --max-new-tokens."""
        return {"max_tokens": (100, "max_new_tokens")}

    def serve_problem(self, text: str) -> str | None:
        """None: any prompt can be continued."""
        return None

    def serve_texts(
        self, texts: list[str], *, batch_size: int, max_tokens: int
    ) -> list[dict[str, Any]]:
        """POST /generate's answer: `{"prompt", "text"}` per prompt, the text continued for
        up to `max_tokens` tokens (greedy: the same prompt always gets the same text)."""
        return [
            {
                "prompt": prompt,
                "text": self.generate(prompt, max_tokens=max_tokens, temperature=0)[0],
            }
            for prompt in texts
        ]

    def word_embeddings(self) -> WordEmbeddings:
        """The token embedding table (V, E) with the vocabulary that indexes it."""
        return WordEmbeddings(
            self.model.embedding.weight, self.pipeline.vocab, self.pipeline.spelling
        )

    def perplexity(self, text: str) -> float:
        """exp(mean negative log-likelihood per token) of `text`, read from a line start; every
        token is scored, including the `<eos>` that ends each line."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise DataError("the text is empty")
        ids = torch.cat([torch.tensor([self.eos_index]), corpus_ids(self.pipeline, lines)])
        total, count = nll_of(self.model, ids, batch_size=1, bptt=self.config.data.bptt)
        return float(torch.exp(torch.tensor(total / count)))

    def evaluate(self, lines: list[str], *, batch_size: int = 10) -> dict[str, Any]:
        """Loss (nats per token), perplexity (word level) or bits per character (character
        level), and the number of tokens scored, over a corpus read as `batch_size` contiguous
        streams with the state carried, as in validation."""
        ids = corpus_ids(self.pipeline, lines)
        batch_size = max(1, min(batch_size, ids.numel() // 2))
        bptt = self.config.data.bptt
        total, count = nll_of(self.model, ids, batch_size=batch_size, bptt=bptt, what="evaluate")
        return summarize_nll(total, count, character_level=self.character_level)
