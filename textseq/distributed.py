"""What the processes of a data-parallel (DDP) run share beyond Lightning's own syncing.

Validation batches are split between the processes (`textseq.data.batching`), so a metric that
is not a sum of per-batch parts (entity F1, corpus BLEU) must see every process's items before
it is computed: `gathered` collects them, in rank order, on every process. (The objects travel
between the run's own processes through `torch.distributed`; nothing is read from disk.)
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist


def world_size() -> int:
    """The number of processes of the running DDP group (1 outside one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gathered(items: list[Any]) -> list[Any]:
    """`items` of every process, concatenated in rank order; `items` itself in one process."""
    if world_size() == 1:
        return items
    parts: list[list[Any] | None] = [None] * world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part or []]
