"""Knowledge distillation into a classifier: the teacher's logits on the training texts (a
targets file), the loss that mixes them with the gold labels, and the student's view of the
texts.

A targets file (written by `textseq distill`, read by the recipe when `distill.targets` is set)
is gzip'd JSON: the teacher's labels in output order, and per text its words, its gold label
(null for augmented copies, which only the teacher labels) and the teacher's logits.

    {"format": "textseq.teacher-logits", "version": 1, "teacher": {...}, "labels": [...],
     "texts": [...], "gold": [label | null, ...], "logits": [[z_1, ..., z_C], ...]}

The loss (Tang et al. 2019, eq. 1-2; Hinton et al. 2015):

    L = alpha * CE(y, z_s) + (1 - alpha) * L_distill(z_s, z_t)
    L_distill = ||z_s - z_t||^2 / C                        (mse, logits)
              = T^2 * KL(softmax(z_t / T) || softmax(z_s / T))   (kl)

with z_s the student's logits (B, C), z_t the teacher's (B, C); CE runs over the texts with a
gold label only.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textseq.atomic import write_atomically
from textseq.errors import DataError
from textseq.text.pipeline import TextPipeline
from textseq.text.vocab import UNK, Vocabulary

# A masked word: the teacher reads its tokenizer's mask token, the student <unk>.
MASK = "[MASK]"
TARGETS_FORMAT = "textseq.teacher-logits"
NO_LABEL = -1  # the label id of a text only the teacher labels


@dataclass
class TeacherTargets:
    """What a targets file holds: N texts, their gold labels (None: augmented) and the
    teacher's logits (N, C) over `labels`."""

    texts: list[str]
    gold: list[str | None]
    logits: torch.Tensor  # (N, C)
    labels: list[str]
    teacher: dict[str, Any]

    def save(self, path: Path) -> None:
        data = {
            "format": TARGETS_FORMAT,
            "version": 1,
            "teacher": self.teacher,
            "labels": self.labels,
            "texts": self.texts,
            "gold": self.gold,
            "logits": [[round(z, 5) for z in row] for row in self.logits.tolist()],
        }

        def write(temporary: Path) -> None:
            with gzip.open(temporary, "wt", encoding="utf-8") as handle:
                json.dump(data, handle)

        write_atomically(path, write)

    @classmethod
    def load(cls, path: str | Path) -> TeacherTargets:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: not a readable teacher-logits file ({error})") from None
        if data.get("format") != TARGETS_FORMAT:
            raise DataError(f"{path}: not a teacher-logits file (format {data.get('format')!r})")
        return cls(
            texts=data["texts"],
            gold=data["gold"],
            logits=torch.tensor(data["logits"], dtype=torch.float),
            labels=data["labels"],
            teacher=data["teacher"],
        )


def student_tokens(pipeline: TextPipeline, text: str) -> list[str]:
    """The student's tokens of a (possibly masked) text: each [MASK] becomes <unk>, the pieces
    between go through the pipeline as usual; truncated to its max_length, never empty."""
    pieces = text.split(MASK)
    tokens: list[str] = []
    for position, piece in enumerate(pieces):
        if position:
            tokens.append(UNK)
        tokens.extend(pipeline.tokenizer.tokenize(pipeline.cleaner(piece)))
    tokens = tokens or [UNK]
    return tokens if pipeline.max_length is None else tokens[: pipeline.max_length]


def distillation_set(
    targets: TeacherTargets,
    *,
    pipeline: TextPipeline,
    labels: Vocabulary,
    train_texts: list[str],
) -> tuple[list[list[int]], list[int], torch.Tensor]:
    """The student's training set from a targets file: token ids, label ids (NO_LABEL for
    augmented texts) and the teacher's logits (N, C) in the student's label order. Every text
    of `train_texts` (the configured training split) must be in the file."""
    if sorted(targets.labels) != sorted(labels.itos):
        raise DataError(
            f"the teacher's labels ({', '.join(targets.labels)}) are not the training data's "
            f"({', '.join(labels.itos)})"
        )
    missing = set(train_texts) - set(targets.texts)
    if missing:
        example = next(iter(missing))
        raise DataError(
            f"distill.targets has no teacher logits for {len(missing):,} training texts (e.g. "
            f"{example[:60]!r}); run textseq distill, which writes them for the configured data"
        )
    order = [targets.labels.index(label) for label in labels.itos]
    logits = targets.logits[:, order]  # (N, C) in the student's label order
    token_ids = [student_ids(pipeline, text) for text in targets.texts]
    label_ids = [NO_LABEL if g is None else labels.stoi[g] for g in targets.gold]
    return token_ids, label_ids, logits


def student_ids(pipeline: TextPipeline, text: str) -> list[int]:
    """The student's token ids of `text` (see `student_tokens`)."""
    return pipeline.vocab.encode(student_tokens(pipeline, text))


class DistillationLoss(nn.Module):
    """alpha * CE(gold) + (1 - alpha) * distillation(z_s, z_t); see the module docstring."""

    def __init__(
        self,
        *,
        teacher_logits: torch.Tensor,
        loss: str = "mse",
        temperature: float = 1.0,
        alpha: float = 0.0,
        class_weights: torch.Tensor | None = None,
    ):
        super().__init__()
        if loss not in ("mse", "kl"):
            raise ValueError(f"loss ({loss!r}) must be mse or kl")
        # (N, C) logits of every training text, looked up by the batch's dataset positions;
        # not a buffer, so checkpoints and published weights do not carry it.
        self.teacher_logits = teacher_logits
        self.kind = loss
        self.temperature = temperature
        self.alpha = alpha
        self.cross_entropy = nn.CrossEntropyLoss(weight=class_weights, ignore_index=NO_LABEL)

    def forward(
        self, logits: torch.Tensor, labels: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """logits (B, C) of the student, labels (B,) with NO_LABEL for augmented texts, index
        (B,) the texts' positions in the training set; a scalar."""
        z_t = self.teacher_logits[index.cpu()].to(logits.device)  # (B, C)
        if self.kind == "mse":
            distill = F.mse_loss(logits, z_t)
        else:
            t = self.temperature
            distill = (t * t) * F.kl_div(
                F.log_softmax(logits / t, dim=-1),
                F.log_softmax(z_t / t, dim=-1),
                reduction="batchmean",
                log_target=True,
            )
        if self.alpha == 0 or not bool((labels != NO_LABEL).any()):
            return (1 - self.alpha) * distill
        return self.alpha * self.cross_entropy(logits, labels) + (1 - self.alpha) * distill
