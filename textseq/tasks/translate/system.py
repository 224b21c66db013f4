"""The translation system: a sequence-to-sequence model plus its loss, teacher-forcing
schedule, validation BLEU and optimiser."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from textseq.decoding import beam_search, greedy_decode
from textseq.distributed import gathered
from textseq.optim import OptimSettings, configure_task_optimizers
from textseq.tasks.translate.data import Seq2SeqBatch
from textseq.tasks.translate.metrics import corpus_scores

SCHEDULES = ("none", "linear", "exponential", "inverse_sigmoid")


def teacher_forcing_ratio(
    epoch: int, *, start: float, schedule: str, k: float, minimum: float
) -> float:
    """The chance of feeding the reference token in epoch `epoch` (from 0), decayed as in
    scheduled sampling (Bengio et al. 2015, section 2.4): linear `start - k e`, exponential
    `start k^e`, inverse sigmoid `start k / (k + exp(e / k))`; never below `minimum` (unless
    `start` is)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule ({schedule!r}) must be one of {', '.join(SCHEDULES)}")
    if schedule == "none":
        return start
    if schedule == "linear":
        ratio = start - k * epoch
    elif schedule == "exponential":
        ratio = start * k**epoch
    else:
        ratio = start * k / (k + math.exp(epoch / k))
    return max(min(minimum, start), ratio)


def sequence_loss(
    logits: torch.Tensor,  # (B, T, V)
    targets: torch.Tensor,  # (B, T)
    *,
    pad_index: int,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, int]:
    """Cross-entropy summed over the real (non-padding) target tokens, and their number."""
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),  # (B*T, V)
        targets.reshape(-1),  # (B*T,)
        ignore_index=pad_index,
        label_smoothing=label_smoothing,
        reduction="sum",
    )
    return loss, int((targets != pad_index).sum())


class TranslationTask(pl.LightningModule):
    """Trains a sequence-to-sequence model with per-token cross-entropy (optionally label
    smoothed), padding never counted. Logged: train_loss; val_loss (plain cross-entropy,
    teacher forced), val_ppl, and val_bleu / val_chrf of greedy (or beam) translations of the
    validation sources against `val_references`."""

    def __init__(
        self,
        model: nn.Module,
        *,
        pad_index: int,
        sos_index: int,
        eos_index: int,
        forbidden: tuple[int, ...],
        to_text: Callable[[list[int]], str],
        val_references: Sequence[str],
        bleu_tokenize: str = "13a",
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        scheduled_sampling: str = "none",
        scheduled_sampling_k: float = 0.1,
        teacher_forcing_min: float = 0.5,
        val_beam_size: int = 1,
        length_penalty: float = 0.6,
        max_length_a: float = 1.5,
        max_length_b: int = 10,
        optim: OptimSettings,
    ):
        super().__init__()
        self.model = model
        self.pad_index = pad_index
        self.sos_index = sos_index
        self.eos_index = eos_index
        self.forbidden = forbidden
        self.to_text = to_text
        self.val_references = list(val_references)
        self.bleu_tokenize = bleu_tokenize
        self.label_smoothing = label_smoothing
        self.teacher_forcing = teacher_forcing
        self.scheduled_sampling = scheduled_sampling
        self.scheduled_sampling_k = scheduled_sampling_k
        self.teacher_forcing_min = teacher_forcing_min
        self.val_beam_size = val_beam_size
        self.length_penalty = length_penalty
        self.max_length_a = max_length_a
        self.max_length_b = max_length_b
        self.optim = optim
        self._val_loss: list[tuple[float, int]] = []
        self._hypotheses: dict[int, str] = {}
        self.teacher_forcing_at(0)  # checks the schedule's name now, not at the first step

    def teacher_forcing_at(self, epoch: int) -> float:
        """The chance of feeding the reference token in epoch `epoch` (from 0)."""
        return teacher_forcing_ratio(
            epoch,
            start=self.teacher_forcing,
            schedule=self.scheduled_sampling,
            k=self.scheduled_sampling_k,
            minimum=self.teacher_forcing_min,
        )

    def current_teacher_forcing(self) -> float:
        return self.teacher_forcing_at(self.current_epoch)

    def forward(self, batch: Seq2SeqBatch, teacher_forcing: float = 1.0) -> torch.Tensor:
        kwargs = {"teacher_forcing": teacher_forcing} if teacher_forcing < 1.0 else {}
        return self.model(batch.src, batch.src_lengths, batch.tgt_in, **kwargs)  # (B, T, V)

    def training_step(self, batch: Seq2SeqBatch, batch_index: int) -> torch.Tensor:
        logits = self(batch, self.current_teacher_forcing())  # (B, T, V)
        total, tokens = sequence_loss(
            logits, batch.tgt_out, pad_index=self.pad_index, label_smoothing=self.label_smoothing
        )
        loss = total / max(tokens, 1)
        self.log(
            "train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch)
        )
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_loss, self._hypotheses = [], {}

    def validation_step(self, batch: Seq2SeqBatch, batch_index: int) -> None:
        logits = self(batch)  # (B, T, V)
        total, tokens = sequence_loss(logits, batch.tgt_out, pad_index=self.pad_index)
        self._val_loss.append((float(total), tokens))
        for index, ids in zip(batch.index.tolist(), self.decode(batch), strict=True):
            self._hypotheses[index] = self.to_text(ids)

    def decode(self, batch: Seq2SeqBatch) -> list[list[int]]:
        common = dict(
            sos_index=self.sos_index,
            eos_index=self.eos_index,
            max_length_a=self.max_length_a,
            max_length_b=self.max_length_b,
            forbidden=self.forbidden,
        )
        if self.val_beam_size == 1:
            hypotheses = greedy_decode(self.model, batch.src, batch.src_lengths, **common)
            return [h.tokens for h in hypotheses]
        beams = beam_search(
            self.model,
            batch.src,
            batch.src_lengths,
            beam_size=self.val_beam_size,
            alpha=self.length_penalty,
            **common,
        )
        return [hypotheses[0].tokens for hypotheses in beams]

    def on_validation_epoch_end(self) -> None:
        # Each DDP process validated its share of the batches: score them all, once.
        val_loss = gathered(self._val_loss)
        hypotheses = dict(gathered(list(self._hypotheses.items())))
        tokens = sum(n for _, n in val_loss)
        loss = sum(total for total, _ in val_loss) / max(tokens, 1)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_ppl", math.exp(min(loss, 50.0)))
        indices = sorted(hypotheses)
        if indices:
            scores = corpus_scores(
                [hypotheses[i] for i in indices],
                [self.val_references[i] for i in indices],
                tokenize=self.bleu_tokenize,
            )
            self.log("val_bleu", scores["bleu"], prog_bar=True)
            self.log("val_chrf", scores["chrf"])

    def configure_optimizers(self):
        return configure_task_optimizers(self, self.optim)
