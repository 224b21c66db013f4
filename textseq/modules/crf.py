"""A linear-chain conditional random field over per-token emission scores (Lafferty et al.
2001), as used on top of BiLSTM taggers by Huang et al. (2015) and Lample et al. (2016).

The score of a tag sequence y for a sentence of n tokens with emissions E (n x K) is

    s(y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} A[y_{t-1}, y_t] + end[y_n]

(Lample et al. 2016, eq. 1, with their start and end tags written as vectors), and
p(y | x) = exp(s(y)) / Z with Z = sum over every sequence y' of exp(s(y')).

- `log_partition`: log Z by the forward algorithm, alpha_t(j) = logsumexp_i(alpha_{t-1}(i)
  + A[i, j]) + E[t, j], in O(n K^2).
- `viterbi`: the highest-scoring sequence (max-product instead of sum-product, with
  back-pointers); `nbest`: the n highest-scoring ones, keeping the n best partial paths into
  every tag.

Every recursion is vectorised over the batch: one (B, K, K) operation per time step over
time-major, contiguous emissions, padding handled by masked updates, back-traces by gathers;
no per-sentence Python loop and no host synchronisation inside the loops.
- `marginals`: p(y_t = j | x) by forward-backward, alpha_t(j) + beta_t(j) - log Z.
- `sequence_log_probability`: log p of a partial assignment (tags fixed at some positions),
  which gives an entity's probability under the model.

Transitions can be constrained: `allowed` start, pair and end masks (from
`textseq.text.tags.allowed_transitions`) replace the scores of forbidden transitions by
`IMPOSSIBLE`, so Viterbi never produces an invalid BIO/IOBES sequence and forbidden sequences
carry no probability mass (exp(-10^4) is 0 in floating point).

Shapes: B batch, T longest length, K tags, N number of best paths. `mask` (B, T) is True at
real tokens; every sequence has at least one, and its real tokens come first.
"""

from __future__ import annotations

import torch
from torch import nn

IMPOSSIBLE = -1e4  # the score of a forbidden transition


class LinearChainCRF(nn.Module):
    """Transition scores between `num_tags` tags, with start and end scores, optionally
    constrained by boolean masks of allowed transitions."""

    def __init__(
        self,
        *,
        num_tags: int,
        allowed_start: torch.Tensor | None = None,  # (K,) bool
        allowed_pairs: torch.Tensor | None = None,  # (K, K) bool, [from, to]
        allowed_end: torch.Tensor | None = None,  # (K,) bool
    ):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags ({num_tags}) must be at least 1")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        for name, value, shape in (
            ("allowed_start", allowed_start, (num_tags,)),
            ("allowed_pairs", allowed_pairs, (num_tags, num_tags)),
            ("allowed_end", allowed_end, (num_tags,)),
        ):
            value = torch.ones(shape, dtype=torch.bool) if value is None else value.bool()
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {shape}")
            # Derived from the tag set, so not saved with the weights.
            self.register_buffer(name, value, persistent=False)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(start (K,), transitions (K, K), end (K,)) with forbidden entries at IMPOSSIBLE."""
        return (
            self.start_transitions.masked_fill(~self.allowed_start, IMPOSSIBLE),
            self.transitions.masked_fill(~self.allowed_pairs, IMPOSSIBLE),
            self.end_transitions.masked_fill(~self.allowed_end, IMPOSSIBLE),
        )

    # --- scoring -------------------------------------------------------------------------

    def sequence_score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """s(y) of the given tags: emissions (B, T, K), tags (B, T), mask (B, T) -> (B,)."""
        start, transitions, end = self.scores()
        mask_f = mask.to(emissions.dtype)  # (B, T)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        score = start[tags[:, 0]] + (emitted * mask_f).sum(1)  # (B,)
        moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        score = score + (moves * mask_f[:, 1:]).sum(1)  # (B,)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return score + end[last]  # (B,)

    def _forward_alphas(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """alpha (B, T, K): log of the summed exp-scores of every prefix ending in tag j at t,
        carried unchanged through padding. One logsumexp over (B, K_prev, K) per time step
        for the whole batch; the loop runs over time-major, contiguous emissions."""
        start, transitions, _ = self.scores()
        emissions = emissions.transpose(0, 1).contiguous()  # (T, B, K)
        real = mask.transpose(0, 1).unsqueeze(2)  # (T, B, 1)
        alpha = start + emissions[0]  # (B, K)
        alphas = [alpha]
        for t in range(1, emissions.size(0)):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1)  # (B, K)
            alpha = torch.where(real[t], step + emissions[t], alpha)  # (B, K)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)  # (B, T, K)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z by the forward algorithm: emissions (B, T, K), mask (B, T) -> (B,)."""
        _, _, end = self.scores()
        alpha = self._forward_alphas(emissions, mask)[:, -1]  # (B, K)
        return torch.logsumexp(alpha + end, dim=1)  # (B,)

    def log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """log p(tags | x) = s(tags) - log Z, (B,)."""
        return self.sequence_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The negative log-likelihood per token, averaged over the batch's real tokens."""
        return -self.log_likelihood(emissions.float(), tags, mask).sum() / mask.sum()

    # --- decoding ------------------------------------------------------------------------

    def nbest(
        self, emissions: torch.Tensor, mask: torch.Tensor, n: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The `n` best tag sequences and their scores s(y), best first: emissions (B, T, K),
        mask (B, T) -> paths (B, N, T), scores (B, N). Paths are padded by repeating their
        last tag; a sentence with fewer than n sequences gets -inf scores for the missing
        ones.

        Viterbi (1967) keeping, for every tag j at step t, the n best partial paths ending in
        j: the candidates are the n*K extensions of the previous step's paths, of which the n
        best are kept with back-pointers (rank * K + previous tag).
        """
        if n < 1:
            raise ValueError(f"n ({n}) must be at least 1")
        start, transitions, end = self.scores()
        batch, length, num_tags = emissions.shape
        emissions = emissions.transpose(0, 1).contiguous()  # (T, B, K)
        real_steps = mask.transpose(0, 1)[:, :, None, None]  # (T, B, 1, 1)
        best = emissions.new_full((batch, n, num_tags), float("-inf"))  # (B, N, K)
        best[:, 0] = start + emissions[0]
        # Through padding every path is carried unchanged: rank r of tag j points to itself.
        identity = (
            torch.arange(n, device=emissions.device)[:, None] * num_tags
            + torch.arange(num_tags, device=emissions.device)[None, :]
        ).expand(batch, n, num_tags)  # (B, N, K)
        pointers = []
        for t in range(1, length):
            candidates = best.unsqueeze(3) + transitions  # (B, N, K_prev, K)
            candidates = candidates.reshape(batch, n * num_tags, num_tags)  # (B, N*K_prev, K)
            top, index = candidates.topk(n, dim=1)  # (B, N, K), (B, N, K)
            step = top + emissions[t, :, None, :]  # (B, N, K)
            best = torch.where(real_steps[t], step, best)  # (B, N, K)
            pointers.append(torch.where(real_steps[t], index, identity))  # (B, N, K)
        final = (best + end).reshape(batch, n * num_tags)  # (B, N*K)
        scores, flat = final.topk(n, dim=1)  # (B, N), (B, N)
        rank, tag = flat // num_tags, flat % num_tags  # (B, N) each
        path = [tag]
        for index in reversed(pointers):
            previous = index.reshape(batch, n * num_tags).gather(1, rank * num_tags + tag)  # (B, N)
            rank, tag = previous // num_tags, previous % num_tags  # (B, N) each
            path.append(tag)
        paths = torch.stack(path[::-1], dim=2)  # (B, N, T)
        return paths, scores

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The highest-scoring tag sequence: emissions (B, T, K), mask (B, T) -> (B, T),
        padded by repeating the last real tag (`viterbi_path` with this CRF's scores)."""
        return viterbi_path(emissions, mask, *self.scores())

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.viterbi(emissions, mask)

    # --- marginals -----------------------------------------------------------------------

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """p(y_t = j | x) by forward-backward: emissions (B, T, K), mask (B, T) -> (B, T, K);
        rows at padded positions are zero.

        beta_t(i) = logsumexp_j(A[i, j] + E[t+1, j] + beta_{t+1}(j)), with beta = end at
        each sentence's last token; p(y_t = j) = exp(alpha_t(j) + beta_t(j) - log Z).
        """
        _, transitions, end = self.scores()
        alphas = self._forward_alphas(emissions, mask)  # (B, T, K)
        log_z = torch.logsumexp(alphas[:, -1] + end, dim=1)  # (B,)
        steps = emissions.transpose(0, 1).contiguous()  # (T, B, K)
        real = mask.transpose(0, 1).unsqueeze(2)  # (T, B, 1)
        beta = end.expand_as(steps[0])  # (B, K)
        betas = [beta]
        for t in range(steps.size(0) - 2, -1, -1):
            following = (steps[t + 1] + beta).unsqueeze(1)  # (B, 1, K)
            step = torch.logsumexp(transitions + following, dim=2)  # (B, K)
            # A position followed by padding is its sentence's last: beta is `end` there.
            beta = torch.where(real[t + 1], step, end.expand_as(step))  # (B, K)
            betas.append(beta)
        betas = torch.stack(betas[::-1], dim=1)  # (B, T, K)
        probs = torch.exp(alphas + betas - log_z[:, None, None])  # (B, T, K)
        return probs * mask.unsqueeze(2)  # (B, T, K)

    def sequence_log_probability(
        self, emissions: torch.Tensor, mask: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """log p(y_t in allowed[t] for every t | x): the mass of the sequences whose tag at
        each position is one of those `allowed` (B, T, K) there, (B,). With one allowed tag at
        the positions of an entity (and the tags that would extend it forbidden after it) this
        is the probability of that entity."""
        restricted = emissions.masked_fill(~allowed, IMPOSSIBLE)  # (B, T, K)
        return self.log_partition(restricted, mask) - self.log_partition(emissions, mask)


def viterbi_path(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    start: torch.Tensor,
    transitions: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """The highest-scoring tag sequence under start (K,), transitions (K, K) and end (K,)
    scores: emissions (B, T, K), mask (B, T) -> (B, T), padded by repeating the last real tag.

    Viterbi (1967) for the whole batch at once: delta_t(j) = max_i(delta_{t-1}(i) + A[i, j])
    + E[t, j] with back-pointers psi_t(j) = argmax_i; padding carries delta unchanged and
    points every tag to itself. The backtrace follows the pointers of all sentences together
    with one gather per step. (`LinearChainCRF.nbest` with n=1 gives the same path; this is
    its cheaper special case, max instead of top-n.)

    Written so that `torch.jit.script` compiles it (tensors filled in place rather than
    Python lists), which keeps both loops, over any length, in an exported graph
    (`textseq.tasks.tag.export`).
    """
    length = emissions.size(1)
    steps = emissions.transpose(0, 1).contiguous()  # (T, B, K)
    real = mask.transpose(0, 1).unsqueeze(2)  # (T, B, 1)
    identity = torch.arange(emissions.size(2), device=emissions.device).expand_as(steps[0])
    delta = start + steps[0]  # (B, K)
    pointers = torch.zeros_like(steps, dtype=torch.long)  # (T, B, K); psi_t, t >= 1
    for t in range(1, length):
        best, previous = (delta.unsqueeze(2) + transitions).max(dim=1)  # (B, K) each
        delta = torch.where(real[t], best + steps[t], delta)  # (B, K)
        pointers[t] = torch.where(real[t], previous, identity)  # (B, K)
    tag = (delta + end).argmax(dim=1, keepdim=True)  # (B, 1)
    path = torch.zeros_like(mask, dtype=torch.long)  # (B, T)
    path[:, length - 1] = tag.squeeze(1)
    for t in range(length - 1, 0, -1):
        tag = pointers[t].gather(1, tag)  # (B, 1)
        path[:, t - 1] = tag.squeeze(1)
    return path  # (B, T)
