"""Decoding a sequence-to-sequence model: greedy search and batched beam search, as plain
functions over a small step interface that the recurrent and Transformer models share:

    encoded = model.encode(src, src_lengths)          # anything with batch-first tensors
    state = model.start(encoded)                      # batch-first tensors (dataclass/tuple)
    logits, state, alphas = model.step(y_prev, state, encoded)   # (B, V), state, (B, S)

Beam search keeps the whole batch in one tensor of B*K hypotheses. At each step every live
hypothesis is extended by every token; of the 2K best candidates per sentence, those that end
in `<eos>` among the first K are set aside as finished, and the K best that do not end in
`<eos>` stay alive. A sentence is done when K hypotheses have finished; at the maximum length
`<eos>` is forced. Finished hypotheses are ranked by log P(y|x) / lp(y), the length penalty of
Wu et al. (2016, eq. 14): lp(y) = ((5 + |y|) / 6)^alpha, with |y| counting `<eos>`.
The maximum length is `a * source length + b` target tokens (`<eos>` included).

Shapes: B batch, K beam size, V target vocabulary, S source length, t steps decoded so far.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class StepModel(Protocol):
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Any: ...

    def start(self, encoded: Any) -> Any: ...

    def step(
        self, y_prev: torch.Tensor, state: Any, encoded: Any
    ) -> tuple[torch.Tensor, Any, torch.Tensor]: ...


@dataclass
class Hypothesis:
    tokens: list[int]  # target ids, without <sos>, without <eos>
    score: float  # log P(tokens + <eos> | source), or the length-normalised score (beam)
    log_prob: float  # log P(tokens + <eos> | source)
    attention: torch.Tensor | None = None  # (len(tokens) + 1, S) weights of each step


def select_batch(obj: Any, index: torch.Tensor) -> Any:
    """`obj` with every tensor's dimension 0 indexed by `index` (tensors, tuples, lists,
    dicts and dataclasses, nested); anything else unchanged."""
    if isinstance(obj, torch.Tensor):
        return obj.index_select(0, index)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(
            obj,
            **{f.name: select_batch(getattr(obj, f.name), index) for f in dataclasses.fields(obj)},
        )
    if isinstance(obj, tuple | list):
        return type(obj)(select_batch(item, index) for item in obj)
    if isinstance(obj, dict):
        return {key: select_batch(value, index) for key, value in obj.items()}
    return obj


def max_lengths(src_lengths: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """(B,) the most target tokens (with <eos>) each sentence may get: floor(a * S + b)."""
    if a < 0 or b < 1:
        raise ValueError(f"max length a ({a}) must be >= 0 and b ({b}) >= 1")
    return (src_lengths.float() * a + b).floor().long().clamp(min=1)


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016), eq. 14: ((5 + |Y|) / 6)^alpha."""
    return ((5.0 + length) / 6.0) ** alpha


def _forbid(log_probs: torch.Tensor, forbidden: tuple[int, ...]) -> torch.Tensor:
    if forbidden:
        log_probs[:, list(forbidden)] = float("-inf")
    return log_probs


@torch.inference_mode()
def greedy_decode(
    model: StepModel,
    src: torch.Tensor,  # (B, S)
    src_lengths: torch.Tensor,  # (B,)
    *,
    sos_index: int,
    eos_index: int,
    max_length_a: float = 1.5,
    max_length_b: int = 10,
    forbidden: tuple[int, ...] = (),
    return_attention: bool = False,
) -> list[Hypothesis]:
    """The most probable token at every step, until `<eos>` or the maximum length (where
    `<eos>` is forced). `forbidden` ids (`<pad>`, `<sos>`) are never produced."""
    b = src.size(0)
    limits = max_lengths(src_lengths, max_length_a, max_length_b)  # (B,)
    encoded = model.encode(src, src_lengths)
    state = model.start(encoded)
    y_prev = torch.full((b,), sos_index, dtype=torch.long, device=src.device)  # (B,)
    done = torch.zeros(b, dtype=torch.bool, device=src.device)  # (B,)
    scores = torch.zeros(b, device=src.device)  # (B,)
    steps, alphas_all = [], []
    for t in range(int(limits.max())):
        logits, state, alphas = model.step(y_prev, state, encoded)  # (B, V), (B, S)
        log_probs = _forbid(torch.log_softmax(logits.float(), dim=-1), forbidden)  # (B, V)
        at_limit = (t + 1) >= limits  # (B,)
        forced = torch.full_like(log_probs, float("-inf"))
        forced[:, eos_index] = log_probs[:, eos_index]
        log_probs = torch.where(at_limit[:, None], forced, log_probs)  # (B, V)
        best, y_prev = log_probs.max(dim=-1)  # (B,), (B,)
        scores = scores + torch.where(done, torch.zeros_like(best), best)  # (B,)
        steps.append(torch.where(done, torch.full_like(y_prev, eos_index), y_prev))
        alphas_all.append(alphas)
        done = done | (y_prev == eos_index)
        if bool(done.all()):
            break
    tokens = torch.stack(steps, dim=1).tolist()  # (B, t)
    attention = torch.stack(alphas_all, dim=1) if return_attention else None  # (B, t, S)
    results = []
    for i in range(b):
        row = tokens[i]
        n = row.index(eos_index) if eos_index in row else len(row)
        results.append(
            Hypothesis(
                tokens=row[:n],
                score=float(scores[i]),
                log_prob=float(scores[i]),
                attention=None
                if attention is None
                else attention[i, : n + 1, : int(src_lengths[i])].cpu(),
            )
        )
    return results


@torch.inference_mode()
def beam_search(
    model: StepModel,
    src: torch.Tensor,  # (B, S)
    src_lengths: torch.Tensor,  # (B,)
    *,
    sos_index: int,
    eos_index: int,
    beam_size: int = 5,
    alpha: float = 0.6,
    nbest: int = 1,
    max_length_a: float = 1.5,
    max_length_b: int = 10,
    forbidden: tuple[int, ...] = (),
    return_attention: bool = False,
) -> list[list[Hypothesis]]:
    """The `nbest` best finished hypotheses of every sentence, best first, ranked by
    log P / lp (their `score`; `log_prob` is the unnormalised log-probability)."""
    if beam_size < 1:
        raise ValueError(f"beam_size ({beam_size}) must be at least 1")
    if alpha < 0:
        raise ValueError(f"alpha ({alpha}) must be at least 0")
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest ({nbest}) must be between 1 and beam_size ({beam_size})")
    b, k, device = src.size(0), beam_size, src.device
    limits = max_lengths(src_lengths, max_length_a, max_length_b).tolist()
    encoded = model.encode(src, src_lengths)
    expand = torch.arange(b, device=device).repeat_interleave(k)  # (B*K,)
    encoded = select_batch(encoded, expand)
    state = model.start(encoded)
    y_prev = torch.full((b * k,), sos_index, dtype=torch.long, device=device)  # (B*K,)
    # Only the first beam of each sentence is alive at the start (the others are copies).
    beam_scores = torch.full((b, k), float("-inf"), device=device)  # (B, K)
    beam_scores[:, 0] = 0.0
    history = torch.empty(b * k, 0, dtype=torch.long, device=device)  # (B*K, t)
    attn_history = None  # (B*K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    done = [False] * b
    for t in range(max(limits)):
        logits, state, alphas = model.step(y_prev, state, encoded)  # (B*K, V), (B*K, S)
        log_probs = _forbid(torch.log_softmax(logits.float(), dim=-1), forbidden)  # (B*K, V)
        v = log_probs.size(-1)
        at_limit = torch.tensor([t + 1 >= limits[i] for i in range(b)], device=device)  # (B,)
        forced = torch.full_like(log_probs, float("-inf"))
        forced[:, eos_index] = log_probs[:, eos_index]
        log_probs = torch.where(at_limit.repeat_interleave(k)[:, None], forced, log_probs)
        candidates = (beam_scores.view(-1, 1) + log_probs).view(b, k * v)  # (B, K*V)
        n_cand = min(2 * k, k * v)
        cand_scores, cand_ids = candidates.topk(n_cand, dim=-1)  # (B, 2K)
        cand_beams = cand_ids // v  # (B, 2K) which live hypothesis each extends
        cand_tokens = cand_ids % v  # (B, 2K)
        rows = (torch.arange(b, device=device)[:, None] * k + cand_beams).view(-1)  # (B*2K,)
        new_attn = alphas.index_select(0, rows).view(b, n_cand, -1) if return_attention else None
        is_eos = cand_tokens == eos_index  # (B, 2K)
        # Set aside the finished candidates among the first K.
        eos_at = (is_eos[:, :k] & torch.isfinite(cand_scores[:, :k])).nonzero().tolist()
        if eos_at:
            prefixes = history.index_select(0, rows).view(b, n_cand, -1)  # (B, 2K, t)
            for i, j in eos_at:
                if done[i]:
                    continue
                log_prob = float(cand_scores[i, j])
                attention = None
                if return_attention:
                    past = attn_history.index_select(0, rows[i * n_cand + j : i * n_cand + j + 1])
                    attention = torch.cat([past[0], new_attn[i, j][None]], dim=0)  # (t+1, S)
                    attention = attention[:, : int(src_lengths[i])].cpu()
                finished[i].append(
                    Hypothesis(
                        tokens=prefixes[i, j].tolist(),
                        score=log_prob / length_penalty(t + 1, alpha),
                        log_prob=log_prob,
                        attention=attention,
                    )
                )
        # The K best candidates that do not end in <eos> stay alive.
        alive_scores = cand_scores.masked_fill(is_eos, float("-inf"))  # (B, 2K)
        top_scores, top = alive_scores.topk(k, dim=-1)  # (B, K)
        best_alive = top_scores[:, 0].tolist()  # (B,)
        for i in range(b):
            if done[i]:
                continue
            if t + 1 >= limits[i]:
                done[i] = True
            elif len(finished[i]) >= k:
                # Log-probabilities only fall as a hypothesis grows: with alpha 0 no live
                # hypothesis can end above this bound; with alpha > 0 it is the usual
                # heuristic (the live score normalised at its current length).
                bound = best_alive[i] / length_penalty(t + 1, alpha)
                kth = sorted((h.score for h in finished[i]), reverse=True)[k - 1]
                done[i] = bound <= kth
        if all(done):
            break
        beam_scores = top_scores.masked_fill(
            torch.tensor(done, device=device)[:, None], float("-inf")
        )  # (B, K)
        chosen = (torch.arange(b, device=device)[:, None] * n_cand + top).view(-1)  # (B*K,)
        source_rows = rows.index_select(0, chosen)  # (B*K,)
        y_prev = cand_tokens.view(-1).index_select(0, chosen)  # (B*K,)
        history = torch.cat([history.index_select(0, source_rows), y_prev[:, None]], dim=1)
        if return_attention:
            step_attn = new_attn.view(b * n_cand, -1).index_select(0, chosen)  # (B*K, S)
            past = (
                attn_history.index_select(0, source_rows)
                if attn_history is not None
                else step_attn.new_zeros(b * k, 0, step_attn.size(-1))
            )
            attn_history = torch.cat([past, step_attn[:, None]], dim=1)  # (B*K, t+1, S)
        state = select_batch(state, source_rows)
    if return_attention and attn_history is None:
        attn_history = alphas.new_zeros(b * k, 0, alphas.size(-1))
    results = []
    for i in range(b):
        ranked = sorted(finished[i], key=lambda h: -h.score)
        if not ranked:  # cannot happen: <eos> is forced at the limit
            raise RuntimeError(f"beam search finished no hypothesis for sentence {i}")
        results.append(ranked[:nbest])
    return results
