"""The token embedding table every model starts from: pretrained vectors or a learned table.

One home for the choices a course copies by hand each time: the shape check of pretrained
vectors, the initialisation of a learned table (each model family keeps the one its papers
use), a padding row that starts at zero, and freezing.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def source_target_embeddings(
    *,
    src_vocab_size: int,
    tgt_vocab_size: int,
    embedding_dim: int,
    pad_index: int,
    share: bool = False,
) -> tuple[nn.Embedding, nn.Embedding]:
    """A translation model's source (V_src, E) and target (V_tgt, E) tables, in PyTorch's
    default initialisation with the padding row at zero, source first; with `share` one table
    serves both sides, which needs one (joint) vocabulary."""
    if share and src_vocab_size != tgt_vocab_size:
        raise ValueError(
            f"shared embeddings need one vocabulary, got sizes {src_vocab_size} (source) and "
            f"{tgt_vocab_size} (target)"
        )
    source = nn.Embedding(src_vocab_size, embedding_dim, padding_idx=pad_index)
    if share:
        return source, source
    return source, nn.Embedding(tgt_vocab_size, embedding_dim, padding_idx=pad_index)


class PartlyTrainedEmbedding(nn.Module):
    """An embedding table in which only some rows train; the others stay as they started.

    Made by `train_only_rows` for the rows training data can reach. With
    `model.words_from_vectors` most rows belong to words only the vectors know (the SST-2
    classifier's count is in benchmarks/results): the loss never gives them a gradient, yet a plain
    table's optimiser, gradient clipping and weight average would read and write every one
    of them at every step. Here only the reachable rows are a parameter. The vectors looked
    up are the same as a plain `nn.Embedding` over the whole table gives, and the state dict
    holds that whole table as `weight`, so checkpoints and saved models load into a plain
    `nn.Embedding` (and back into this).

    ids (...) -> vectors (..., E).
    """

    def __init__(self, table: nn.Embedding, trained_rows: torch.Tensor):
        """table: the whole (V, E) table; trained_rows: (V,) bool, True for the rows that
        train (at least one row each way)."""
        super().__init__()
        weight = table.weight.detach()
        self.num_embeddings, self.embedding_dim = weight.shape
        self.padding_idx = table.padding_idx
        self.trained = nn.Parameter(weight[trained_rows].clone())  # (V_t, E)
        self.register_buffer("fixed", weight[~trained_rows].clone())  # (V - V_t, E)
        # Row i of the whole table is row `part_row[i]` of `trained` when `is_trained[i]`,
        # else of `fixed`. Rebuilt from `trained_rows`, so not saved.
        part_row = torch.empty(len(trained_rows), dtype=torch.long)
        part_row[trained_rows] = torch.arange(int(trained_rows.sum()))
        part_row[~trained_rows] = torch.arange(int((~trained_rows).sum()))
        self.register_buffer("is_trained", trained_rows.clone(), persistent=False)  # (V,)
        self.register_buffer("part_row", part_row, persistent=False)  # (V,)

    @property
    def weight(self) -> torch.Tensor:
        """The whole (V, E) table (differentiable in its trained rows)."""
        whole = self.fixed.new_empty(self.num_embeddings, self.embedding_dim)
        whole[self.is_trained] = self.trained
        whole[~self.is_trained] = self.fixed
        return whole

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_trained = self.is_trained[ids]  # (...)
        rows = self.part_row[ids]  # (...)
        first = torch.zeros_like(rows)  # a valid row in either part, for the unused lookup
        from_trained = nn.functional.embedding(torch.where(is_trained, rows, first), self.trained)
        from_fixed = nn.functional.embedding(torch.where(is_trained, first, rows), self.fixed)
        return torch.where(is_trained.unsqueeze(-1), from_trained, from_fixed)  # (..., E)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        whole = self.weight
        destination[prefix + "weight"] = whole if keep_vars else whole.detach()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors
    ) -> None:
        key = prefix + "weight"
        if key not in state_dict:
            missing_keys.append(key)
            return
        whole = state_dict[key]
        if whole.shape != (self.num_embeddings, self.embedding_dim):
            errors.append(
                f"size mismatch for {key}: copying a param with shape {tuple(whole.shape)}, "
                f"the table here has shape ({self.num_embeddings}, {self.embedding_dim})"
            )
            return
        with torch.no_grad():
            self.trained.copy_(whole[self.is_trained])
            self.fixed.copy_(whole[~self.is_trained])

    def extra_repr(self) -> str:
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, trained rows={len(self.trained)}, "
            f"padding_idx={self.padding_idx}"
        )


def train_only_rows(table: nn.Embedding, rows: Iterable[int]) -> nn.Module:
    """`table` with only `rows` (token ids: those training can reach) trainable, as a
    `PartlyTrainedEmbedding`; `table` itself when it is frozen or every row is in `rows`."""
    trained_rows = torch.zeros(table.num_embeddings, dtype=torch.bool)
    trained_rows[torch.as_tensor(list(rows), dtype=torch.long)] = True
    if table.padding_idx is not None:  # its gradient is always zero: it need not train
        trained_rows[table.padding_idx] = False
    untrained = int((~trained_rows).sum()) - (table.padding_idx is not None)
    if not table.weight.requires_grad or untrained == 0 or not trained_rows.any():
        return table
    return PartlyTrainedEmbedding(table, trained_rows)
