"""Independent per-token softmax over tags: the output layer a CRF is compared against.

It has the interface of `textseq.modules.crf.LinearChainCRF` (`loss`, `decode`, `nbest`,
`marginals`, `sequence_log_probability`), so a tagger can use either. Each token's tag is
chosen on its own, so nothing stops `O I-PER`.

Shapes: B batch, T longest length, K tags, N number of best paths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TokenSoftmax(nn.Module):
    """p(y | x) = prod_t softmax(E[t])[y_t]."""

    def __init__(self, *, num_tags: int):
        super().__init__()
        self.num_tags = num_tags

    def loss(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor,
        label_smoothing: float = 0.0,
    ) -> torch.Tensor:
        """Cross-entropy per real token: emissions (B, T, K), tags (B, T), mask (B, T); with
        `label_smoothing` e the target is (1 - e) one-hot + e / K everywhere."""
        return F.cross_entropy(emissions.float()[mask], tags[mask], label_smoothing=label_smoothing)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The most probable tag of every token, (B, T)."""
        return emissions.argmax(dim=2)  # (B, T)

    def nbest(
        self, emissions: torch.Tensor, mask: torch.Tensor, n: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Only the best path is offered: paths (B, 1, T) and their log-probabilities (B, 1)."""
        if n != 1:
            raise ValueError(f"n-best decoding (n={n}) needs a CRF output layer")
        paths = self.decode(emissions, mask)  # (B, T)
        log_probs = F.log_softmax(emissions.float(), dim=2)  # (B, T, K)
        chosen = log_probs.gather(2, paths.unsqueeze(2)).squeeze(2)  # (B, T)
        return paths.unsqueeze(1), (chosen * mask).sum(1, keepdim=True)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """softmax per token, (B, T, K); zero at padded positions."""
        return F.softmax(emissions, dim=2) * mask.unsqueeze(2)  # (B, T, K)

    def sequence_log_probability(
        self, emissions: torch.Tensor, mask: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """log p(y_t in allowed[t] for every t), (B,): tokens are independent, so this is the
        sum over tokens of the log of their allowed tags' mass."""
        probs = self.marginals(emissions, mask)  # (B, T, K)
        mass = (probs * allowed).sum(2)  # (B, T)
        return torch.where(mask, mass.clamp_min(1e-30).log(), 0.0).sum(1)  # (B,)
