"""Contextual word features from a pretrained Hugging Face encoder, for word-level taggers
(Flair's `TransformerWordEmbeddings`; Akbik et al. 2018 stack such features with word and
character embeddings before a BiLSTM-CRF).

A sentence's words go through the encoder's own tokenizer (`align_words`: subword ids and,
for every subword, the word it came from); the encoder's hidden states of the chosen
`layers` are averaged and pooled back to one vector per word, from its first subword or the
mean of its subwords (`textseq.modules.subword_pooling`).

Frozen, the features of a sentence never change, so `FeatureCache` computes them once and
keeps them on disk (one safetensors file per sentence, named by a hash of the encoder, the
layers, the pooling and the words): later epochs read them instead of running the encoder.
Fine-tuned (`frozen=False`), the encoder is a submodule that trains, at its own learning rate
when the optimiser puts `backbone` in a group of its own (`textseq.optim.build_optimizer`).

The tag task stacks them with the other word features when `model.features` lists
`transformer` (docs/tagging.md).

Shapes: B batch, S subwords, T words, F features.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from textseq.atomic import write_atomically
from textseq.modules.subword_pooling import POOLINGS, mix_layers, pool_subwords
from textseq.progress import Progress


def align_words(
    tokenizer: Any, sentences: Sequence[Sequence[str]], *, max_length: int = 512
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Subword ids (B, S), their mask (B, S) and word_index (B, S) (-1: special or padding)
    of `sentences` (lists of words) under a fast Hugging Face `tokenizer`. Words past
    `max_length` subwords get no subword (their features are zero)."""
    encoded = tokenizer(
        [list(words) for words in sentences],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    word_index = torch.tensor(
        [
            [-1 if word is None else word for word in encoded.word_ids(row)]
            for row in range(len(sentences))
        ]
    )  # (B, S)
    return encoded["input_ids"], encoded["attention_mask"].bool(), word_index


class TransformerWordFeatures(nn.Module):
    """words -> contextual features (B, T, F) from `backbone` (an `AutoModel`)."""

    def __init__(
        self,
        *,
        backbone: nn.Module,
        layers: Sequence[int] = (-1,),
        pooling: str = "first",
        frozen: bool = True,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling ({pooling!r}) must be one of {', '.join(POOLINGS)}")
        self.backbone = backbone
        self.layers = tuple(layers)
        self.pooling = pooling
        self.frozen = frozen
        self.output_size = backbone.config.hidden_size
        if frozen:
            backbone.requires_grad_(False)
            backbone.eval()
        else:  # `from_pretrained` returns it in eval mode: its dropout would stay off
            backbone.train()

    def train(self, mode: bool = True) -> TransformerWordFeatures:
        super().train(mode)
        if self.frozen:  # a frozen encoder keeps its dropout off
            self.backbone.eval()
        return self

    def forward(
        self,
        subword_ids: torch.Tensor,
        subword_mask: torch.Tensor,
        word_index: torch.Tensor,
        num_words: int,
    ) -> torch.Tensor:
        """subword_ids, subword_mask, word_index: (B, S) -> word features (B, T, F)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.backbone(
                input_ids=subword_ids,
                attention_mask=subword_mask.long(),
                output_hidden_states=True,
            )
            states = mix_layers(out.hidden_states, self.layers)  # (B, S, F)
            return pool_subwords(states, word_index, num_words, self.pooling)  # (B, T, F)


class FeatureCache:
    """Frozen word features on disk, one file per sentence under `directory`; `key` names
    what produced them (encoder, layers, pooling), so features of another setting are never
    read."""

    def __init__(self, directory: str | Path, *, key: str):
        self.directory = Path(directory)
        self.key = key

    @classmethod
    def for_features(cls, directory: str | Path, features: TransformerWordFeatures, name: str):
        """The cache of `features` run on the encoder named `name` (its path or hub name)."""
        if not features.frozen:
            raise ValueError("only a frozen encoder's features can be cached")
        key = json.dumps([name, list(features.layers), features.pooling])
        return cls(directory, key=key)

    def path(self, words: Sequence[str]) -> Path:
        digest = hashlib.sha256(json.dumps([self.key, list(words)]).encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest}.safetensors"

    def features(
        self,
        features: TransformerWordFeatures,
        tokenizer: Any,
        sentences: Sequence[Sequence[str]],
    ) -> list[torch.Tensor]:
        """Each sentence's features (len(words), F): read from disk, or computed in one batch
        for those not there yet and written (atomically) for next time."""
        found: dict[int, torch.Tensor] = {}
        missing = []
        for i, words in enumerate(sentences):
            path = self.path(words)
            if path.is_file():
                found[i] = load_file(str(path))["features"]
            else:
                missing.append(i)
        if missing:
            batch = [sentences[i] for i in missing]
            ids, mask, word_index = align_words(tokenizer, batch)
            with torch.inference_mode():
                computed = features(ids, mask, word_index, max(len(w) for w in batch))
            for row, i in enumerate(missing):
                value = computed[row, : len(sentences[i])].clone().contiguous()  # (T_i, F)
                write_atomically(
                    self.path(sentences[i]),
                    lambda temporary, v=value: save_file({"features": v}, str(temporary)),
                )
                found[i] = value
        return [found[i] for i in range(len(sentences))]


def frozen_features(
    features: TransformerWordFeatures,
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    *,
    cache: FeatureCache | None = None,
    batch_size: int = 64,
    what: str = "features",
) -> list[torch.Tensor]:
    """Each sentence's features (len(words), F) from the frozen `features`, in batches of
    similar lengths (less padding), through `cache` when given; progress as `what`."""
    if not features.frozen:
        raise ValueError("only a frozen encoder's features can be computed beforehand")
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    result: list[torch.Tensor | None] = [None] * len(sentences)
    was_training = features.training
    features.eval()
    try:
        with Progress(what, total=len(sentences), unit="sentences") as progress:
            for start in range(0, len(order), batch_size):
                positions = order[start : start + batch_size]
                batch = [sentences[i] for i in positions]
                if cache is not None:
                    values = cache.features(features, tokenizer, batch)
                else:
                    ids, mask, word_index = align_words(tokenizer, batch)
                    with torch.inference_mode():
                        out = features(ids, mask, word_index, max(len(w) for w in batch))
                    values = [out[row, : len(w)].clone() for row, w in enumerate(batch)]
                for i, value in zip(positions, values, strict=True):
                    result[i] = value
                progress.update(len(positions))
    finally:
        features.train(was_training)
    return result  # type: ignore[return-value]
