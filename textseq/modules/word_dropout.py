"""Word dropout: whole tokens replaced by `<unk>` during training.

Shapes: B batch, T longest length.
"""

from __future__ import annotations

import torch
from torch import nn


class WordDropout(nn.Module):
    """Replaces each real token by `unk_index` with probability `p`, in training mode only
    (Iyyer et al. 2015, section 3.2; Bowman et al. 2016).

    Why: when every training word has its own vocabulary row, `<unk>` never occurs in
    training, so the words a model meets only at test time all map to an embedding that was
    never trained. Dropping words teaches `<unk>` and keeps the model from leaning on any one
    word. Padding is never replaced. In eval mode this is the identity, like `nn.Dropout`.
    """

    def __init__(self, *, p: float, unk_index: int):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"word dropout p ({p}) must be in [0, 1)")
        self.p = p
        self.unk_index = unk_index

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """token_ids: (B, T) ids; mask: (B, T) True at real tokens -> (B, T) ids."""
        if not self.training or self.p == 0.0:
            return token_ids
        dropped = (torch.rand(token_ids.shape, device=token_ids.device) < self.p) & mask  # (B, T)
        return token_ids.masked_fill(dropped, self.unk_index)

    def extra_repr(self) -> str:
        return f"p={self.p}, unk_index={self.unk_index}"


def build_word_dropout(p: float, unk_index: int | None) -> WordDropout | None:
    """Word dropout with probability `p` (None when 0); it needs the vocabulary's <unk>."""
    if p <= 0:
        return None
    if unk_index is None:
        raise ValueError(f"word_dropout ({p}) needs an unk_index to replace words with")
    return WordDropout(p=p, unk_index=unk_index)
