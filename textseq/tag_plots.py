"""A picture of a tagger's uncertainty: the per-token tag marginals as a heatmap (tokens down,
tags across, p(y_t = tag | sentence) as colour), written to a PNG file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch


def marginals_heatmap(
    tokens: Sequence[str],
    tags: Sequence[str],
    probabilities: torch.Tensor,  # (tokens, tags)
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Draws `probabilities` (one row per token, one column per tag, rows summing to 1) as a
    heatmap with the values written in the cells above 0.05, and saves it as `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = probabilities.detach().float().cpu().numpy()
    if matrix.shape != (len(tokens), len(tags)):
        raise ValueError(
            f"probabilities have shape {matrix.shape}, expected ({len(tokens)}, {len(tags)})"
        )
    width = 1.5 + 0.55 * len(tags)
    height = 1.2 + 0.35 * len(tokens)
    figure, axes = plt.subplots(figsize=(width, height))
    image = axes.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(tags)), labels=list(tags), rotation=60, ha="right")
    axes.set_yticks(range(len(tokens)), labels=list(tokens))
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            if value >= 0.05:
                colour = "white" if value > 0.6 else "black"
                axes.text(
                    column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour
                )
    figure.colorbar(image, ax=axes, fraction=0.04, label="p(tag | sentence)")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
