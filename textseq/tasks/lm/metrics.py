"""Scoring a language model on a token stream: loss in nats per token, perplexity, bits per
character."""

from __future__ import annotations

import math

import torch

from textseq.errors import ConfigError
from textseq.progress import Progress
from textseq.tasks.lm.data import BPTTWindows, batchify


def nll_of(
    model, ids: torch.Tensor, *, batch_size: int, bptt: int, what: str | None = None
) -> tuple[float, int]:
    """(total negative log-likelihood in nats, number of tokens scored) of the (L,) stream
    `ids`, read as `batch_size` contiguous streams in windows of `bptt`, state carried.
    `what`: the name of a progress line counting the tokens scored (none when None)."""
    windows = BPTTWindows(batchify(ids, batch_size), bptt=bptt)
    model.eval()
    total, count, state = 0.0, 0, None
    tokens = windows.streams.size(0) * sum(windows.lengths())
    with torch.inference_mode(), Progress(what, total=tokens, unit="tokens") as shown:
        for inputs, targets in windows:
            logits, state = model(inputs, state)  # (B, T, V)
            total += float(
                torch.nn.functional.cross_entropy(
                    logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"
                )
            )
            count += targets.numel()
            shown.update(targets.numel())
    return total, count


def summarize_nll(total: float, count: int, *, character_level: bool) -> dict:
    """loss (nats per token) and perplexity, or bits per character, for `count` tokens."""
    if count == 0:
        raise ConfigError("no tokens to score")
    loss = total / count
    result = {"loss": round(loss, 6), "tokens": count}
    if character_level:
        result["bits_per_character"] = round(loss / math.log(2), 6)
    else:
        result["perplexity"] = round(math.exp(loss), 4)
    return result
