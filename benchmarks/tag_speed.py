"""Where a tagger's training time goes: one epoch on a slice of the training data, with every
training step split into data (building the batch), forward, backward, and gradient clipping +
the optimiser update, in wall-clock and process CPU seconds (CPU seconds are steadier on a
shared machine), then the validation pass.

    python benchmarks/tag_speed.py --set model.output=crf
    python benchmarks/tag_speed.py --set model.output=softmax
    python benchmarks/tag_speed.py --set model.output=crf --profile crf.prof   # + cProfile

Defaults: configs/conll2003_bilstm_crf.yaml with 1,000 training and 1,000 validation sentences,
one epoch, one thread. The first step (warm-up) is left out of the averages.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("data", "forward", "backward", "clip+optim")


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class StepTimer(pl.Callback):
    """Records, per training step, the (wall, cpu) seconds of each phase in PHASES, and the
    seconds of the training epoch and of the validation passes (sanity check excluded)."""

    def __init__(self):
        self.steps: list[list[tuple[float, float]]] = []
        self.epoch = (0.0, 0.0)
        self.validation = [0.0, 0.0]
        self._marks: list[tuple[float, float]] = []
        self._last_end = _now()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = self._last_end = _now()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        now = _now()
        self.epoch = (now[0] - self._epoch_start[0], now[1] - self._epoch_start[1])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._marks = [self._last_end, _now()]

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self._marks.append(_now())

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self._marks.append(_now())  # after backward, before clipping and the update

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._marks.append(_now())
        self._last_end = self._marks[-1]
        marks = self._marks
        self.steps.append(
            [
                (marks[i + 1][0] - marks[i][0], marks[i + 1][1] - marks[i][1])
                for i in range(len(marks) - 1)
            ]
        )

    def on_validation_start(self, trainer, pl_module) -> None:
        self._validation_start = _now()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        now = _now()
        self.validation[0] += now[0] - self._validation_start[0]
        self.validation[1] += now[1] - self._validation_start[1]

    def report(self, label: str) -> str:
        steps = [s for s in self.steps[1:] if len(s) == len(PHASES)]
        lines = []
        for k, kind in ((0, "wall"), (1, "cpu")):
            parts = [sum(s[i][k] for s in steps) / max(len(steps), 1) for i in range(len(PHASES))]
            phases = " + ".join(f"{name} {p:.4f}" for name, p in zip(PHASES, parts, strict=True))
            lines.append(
                f"{label} [{kind}] {len(steps)} steps, {sum(parts):.4f} s/step = {phases}; "
                f"train epoch {self.epoch[k]:.2f} s, validation {self.validation[k]:.2f} s"
            )
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default=str(ROOT / "configs" / "conll2003_bilstm_crf.yaml"), help="config"
    )
    parser.add_argument("--train", type=int, default=1000, help="training sentences")
    parser.add_argument("--val", type=int, default=1000, help="validation sentences")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="override (repeatable)"
    )
    parser.add_argument("--profile", default=None, help="write cProfile stats to this file")
    args = parser.parse_args()

    import textseq

    overrides = [
        f"data.limit_train={args.train}",
        f"data.limit_val={args.val}",
        "trainer.max_epochs=1",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        *args.overrides,
    ]
    timer = StepTimer()
    out = Path(tempfile.mkdtemp(prefix="textseq-tag-speed-")) / "model"
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    textseq.train(args.config, out=out, overrides=overrides, overwrite=True, callbacks=[timer])
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(timer.report(" ".join(args.overrides) or "config"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
