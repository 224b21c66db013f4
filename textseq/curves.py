"""Training curves of a finished run: train and validation loss, and the monitored metric, per
epoch, with the best epoch (whose weights were kept) marked. Read from the model directory's
`metrics.json`, which holds the run's history whichever `trainer.logger` was chosen.

`textseq curves DIR [--out FILE.png]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textseq.atomic import write_atomically
from textseq.errors import ModelDirError, TextseqError

LOSS = ("train_loss", "val_loss")


def read_history(directory: str | Path) -> dict[str, Any]:
    """`metrics.json` of a model directory: "monitor", "best_epoch", "epochs", "validations"."""
    path = Path(directory) / "metrics.json"
    if not path.is_file():
        raise ModelDirError(f"{directory}: no metrics.json (not a finished textseq run)")
    history = json.loads(path.read_text(encoding="utf-8"))
    if not history.get("epochs"):
        raise ModelDirError(f"{path}: the run logged no epoch")
    return history


def plot_curves(directory: str | Path, out: str | Path) -> dict[str, Any]:
    """Draws the curves of the run in `directory` as the PNG `out`; returns what was drawn:
    {"out", "epochs", "monitor", "best_epoch", "series": names plotted}."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise TextseqError("curves need matplotlib: pip install matplotlib") from None
    history = read_history(directory)
    epochs, monitor = history["epochs"], history["monitor"]
    validations = history.get("validations") or [row for row in epochs if monitor in row]
    best = history.get("best_epoch")
    panels = [("loss", [name for name in LOSS if any(name in row for row in epochs)])]
    if monitor not in LOSS:
        panels.append((monitor, [monitor]))
    figure = Figure(figsize=(5.0 * len(panels), 3.6), layout="constrained", dpi=100)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    drawn = []
    for ax, (title, names) in zip(axes, panels, strict=True):
        for name in names:
            # Validation metrics at every validation (several per epoch with
            # trainer.val_check_interval < 1); training ones once per epoch.
            rows = validations if name.startswith("val_") else epochs
            points = [(row["epoch"], row[name]) for row in rows if name in row]
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(x, y, marker="o", markersize=3, label=name)
                drawn.append(name)
        if best is not None:
            ax.axvline(best, color="0.35", linestyle="--", linewidth=1, label=f"best: {best}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3: no 1.25
        ax.set_ylabel(title)
        ax.set_title(title if title == "loss" else f"{title} (monitored)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"{Path(directory).name}: best epoch {best} by {monitor}", fontsize=10)
    path = write_atomically(Path(out), lambda tmp: figure.savefig(tmp, format="png"))
    return {"out": str(path), "epochs": len(epochs), "monitor": monitor, "best_epoch": best,
            "series": drawn}  # fmt: skip
