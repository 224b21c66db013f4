"""textseq: sequence models over text, from raw files to a served model.

import textseq
directory = textseq.train("configs/sst2_bilstm_attention.yaml", out="runs/sst2")
model = textseq.load(directory)
model.predict(["a fine film", "a dull, lifeless script"])
model.explain("not bad at all").save("why.html")  # saliency and attention, see textseq.explain
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from textseq.predictor import TextClassifierPredictor


def load(directory: str | Path) -> TextClassifierPredictor:
    """The trained model in `directory` (written by `textseq train`), ready to predict."""
    from textseq.predictor import TextClassifierPredictor

    return TextClassifierPredictor.load(directory)


def train(
    config: str | Path | dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Trains from a YAML path or a config dict and returns the finished model directory.

    `overrides` are `dotted.key=value` strings; `resume` continues from a run or model
    directory's checkpoint; `callbacks` are extra Lightning callbacks. See
    `textseq.training.train`.
    """
    from textseq.training import train as run_training

    return run_training(
        config,
        out=out,
        overrides=overrides,
        resume=resume,
        overwrite=overwrite,
        callbacks=callbacks,
    )


__all__ = ["__version__", "load", "train"]
