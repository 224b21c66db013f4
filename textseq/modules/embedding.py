"""The token embedding table every model starts from: pretrained vectors or a learned table.

One home for the choices a course copies by hand each time: the shape check of pretrained
vectors, the initialisation of a learned table (each model family keeps the one its papers
use), a padding row that starts at zero, and freezing.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def build_embedding(
    *,
    vocab_size: int,
    embedding_dim: int,
    pad_index: int | None = None,
    pretrained: torch.Tensor | None = None,
    freeze: bool = False,
    init: Literal["normal", "uniform"] = "normal",
    init_scale: float | None = None,
) -> nn.Embedding:
    """A (vocab_size, embedding_dim) embedding table.

    Args:
        pad_index: the padding row: it starts at zero and gets no gradient (None: no padding
            row, as in language models over contiguous streams).
        pretrained: (vocab_size, embedding_dim) vectors to start from; else the table is
            learned from `init`.
        freeze: keep the table fixed. Frozen without vectors happens when the weights come
            from a checkpoint: the trainable parameters must be the same set as in the run
            that wrote it.
        init: a learned table's initialisation: `normal` N(0, init_scale^2) with init_scale
            defaulting to embedding_dim^-1/2 (the scale of the Transformer's embeddings), or
            `uniform` U(-init_scale, init_scale) with init_scale defaulting to
            sqrt(3 / embedding_dim), which has unit variance per vector (Lample et al. 2016);
            Zaremba et al. (2014) use 0.1 for language models.
    """
    if pretrained is not None:
        if pretrained.shape != (vocab_size, embedding_dim):
            raise ValueError(
                f"pretrained vectors have shape {tuple(pretrained.shape)}, expected "
                f"({vocab_size}, {embedding_dim})"
            )
        return nn.Embedding.from_pretrained(
            pretrained.float(), freeze=freeze, padding_idx=pad_index
        )
    embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
    if init == "normal":
        nn.init.normal_(embedding.weight, std=init_scale or embedding_dim**-0.5)
    elif init == "uniform":
        scale = init_scale or (3 / embedding_dim) ** 0.5
        nn.init.uniform_(embedding.weight, -scale, scale)
    else:
        raise ValueError(f"init ({init!r}) must be normal or uniform")
    if pad_index is not None:
        with torch.no_grad():
            embedding.weight[pad_index].zero_()
    embedding.weight.requires_grad_(not freeze)
    return embedding
