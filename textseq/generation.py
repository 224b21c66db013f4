"""Decoding a language model: greedy, temperature, top-k and nucleus (top-p) sampling, as plain
functions (the model knows nothing about them).

- Temperature (Ackley, Hinton and Sejnowski 1985): sample from softmax(z / T); T -> 0 is greedy.
- Top-k (Fan, Lewis and Dauphin 2018): sample among the k most probable tokens only.
- Nucleus / top-p (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration",
  section 3.1): sample among the smallest set of most probable tokens whose total probability
  reaches p.

Shapes: V vocabulary, T context length.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """logits: (..., V) -> the same with all but the k largest set to -inf (ties at the k-th
    value are kept)."""
    if k < 1:
        raise ValueError(f"top_k ({k}) must be at least 1")
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """logits: (..., V) -> the same with every token outside the nucleus set to -inf: the
    nucleus is the smallest set of most probable tokens whose probability sum reaches p."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p ({p}) must be in (0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)  # (..., V)
    before = torch.cumsum(probs, dim=-1) - probs  # (..., V) mass of the tokens ranked above
    # A token is kept while the mass before it is still short of p; the first is always kept.
    drop_sorted = before >= p  # (..., V)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocab order
    return logits.masked_fill(drop, float("-inf"))


def next_token(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> int:
    """A token id drawn from `logits` (V,): greedy (argmax) when temperature is 0, else a sample
    from softmax(logits / temperature) restricted by top-k, then top-p."""
    if temperature < 0:
        raise ValueError(f"temperature ({temperature}) must be at least 0")
    if temperature == 0:
        return int(torch.argmax(logits))
    logits = logits.float() / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)  # (V,)
    return int(torch.multinomial(probs, 1, generator=generator))


@contextmanager
def _without_onednn():
    """oneDNN's RNN kernel re-lays out the weights on every call, which costs more than the
    step itself when one token is fed at a time (about half the time of an LSTM step here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a notice about TF32 on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            yield


@torch.inference_mode()
def generate_ids(
    model: torch.nn.Module,
    prompt: Sequence[int],
    *,
    max_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    stop: int | None = None,
) -> Iterator[int]:
    """Yields up to `max_tokens` new token ids continuing `prompt` (at least one id), one at a
    time as they are chosen, stopping early after `stop` if given.

    A recurrent model (`model.is_recurrent`) reads the prompt once and then one token per step,
    carrying its state; any other model re-reads the last `model.context_size` tokens each step.
    """
    if not prompt:
        raise ValueError("the prompt must hold at least one token id")
    model.eval()
    recurrent = getattr(model, "is_recurrent", False)
    context_size = getattr(model, "context_size", None)
    tokens = list(prompt)
    state = None
    feed = torch.tensor([tokens])  # (1, T)
    for _ in range(max_tokens):
        if not recurrent and context_size is not None:
            feed = feed[:, -context_size:]  # (1, <= context)
        with _without_onednn():
            logits, state = model(feed, state if recurrent else None)  # (1, T, V)
        token = next_token(
            logits[0, -1], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
        )
        yield token
        if stop is not None and token == stop:
            return
        tokens.append(token)
        feed = torch.tensor([[token]]) if recurrent else torch.tensor([tokens])  # (1, T)
