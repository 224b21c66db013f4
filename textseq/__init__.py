"""textseq: sequence models over text, from raw files to a served model.

import textseq
directory = textseq.train("configs/sst2_bilstm_attention.yaml", out="runs/sst2")
student = textseq.distill(directory, "configs/sst2_distilled_bilstm.yaml", out="runs/student")
model = textseq.load(directory)
model.predict(["a fine film", "a dull, lifeless script"])
fast = textseq.load(directory, quantize="int8")  # int8 LSTM/Linear layers, see textseq.inference
model.explain("not bad at all").save("why.html")  # saliency and attention, see textseq.explain

lm = textseq.load(textseq.train("configs/ptb_lstm_small.yaml", out="runs/ptb_small"))
lm.generate("the company said", max_tokens=20, top_p=0.9, seed=1)
lm.perplexity("the company said it expects higher earnings\n")

tagger = textseq.load(textseq.train("configs/conll2003_bilstm_crf.yaml", out="runs/ner"))
tagger.predict(["U.N. official Ekeus heads for Baghdad ."])  # tags, entities, confidences
tokens, tags, probabilities = tagger.marginals("Peter Blackburn")  # tokens x tags

translator = textseq.load(textseq.train("configs/multi30k_gru_bahdanau.yaml", out="runs/de_en"))
translator.translate(["ein mann mit einem orangefarbenen hut ."], beam_size=5, nbest=2)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textseq.logs import default_handler
from textseq.version import __version__

if TYPE_CHECKING:
    from textseq.tasks.base import Predictor


def load(
    directory: str | Path,
    *,
    quantize: str | None = None,
    precision: str = "fp32",
    onnx: str | Path | None = None,
) -> Predictor:
    """The trained model in `directory` (written by `textseq train`), as its task's predictor:
    a classifier (`predict`, `evaluate`), a language model (`generate`, `perplexity`,
    `evaluate`), a tagger (`predict`, `marginals`, `evaluate`) or a translation model
    (`translate`, `evaluate`, `attention`), as its manifest says.

    `quantize="int8"` runs it with dynamically quantised int8 LSTM/GRU/Linear layers (any task);
    `precision="bf16"` runs classifiers and taggers under bf16 autocast (see
    `textseq.inference`). `onnx`: a classifier runs this file, written by `textseq export
    DIR --format onnx`, in ONNX Runtime; a translation model decodes with the encoder and
    decoder-step graphs of this folder (DIR/onnx)."""
    # Imported here, not at the top: `import textseq` stays light (no torch) until a model is
    # loaded or trained.
    from textseq.tasks import load_predictor

    default_handler()  # textseq's messages on stderr unless the application set up logging
    return load_predictor(directory, quantize=quantize, precision=precision, onnx=onnx)


def train(
    config: str | Path | dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    overwrite: bool = False,
    keep_checkpoint: bool = True,
    callbacks: Sequence[Any] = (),
    train: Any = None,
    val: Any = None,
) -> Path:
    """Trains from a YAML path or a config dict and returns the finished model directory.

    `overrides` are `dotted.key=value` strings; `resume` continues from a run or model
    directory's checkpoint (kept beside it, in `DIR.ckpt`, unless not `keep_checkpoint`);
    `callbacks` are extra Lightning callbacks. `train` and `val`: data in memory in place of
    the config's `data.train` and `data.val` (a list of `(text, label)` pairs or dicts, a
    pandas DataFrame or a `datasets.Dataset`; see `textseq.data.sources`); the saved config
    names them `memory:train-N`. See `textseq.training.train`. Progress and messages go to
    stderr through `logging` (the `textseq` logger, see `textseq.logs`); the model summary
    and progress bar are Lightning's, also on stderr (`trainer.progress_bar: false` turns
    both off).
    """
    from textseq.data.sources import in_memory
    from textseq.tasks import TASKS
    from textseq.training import train as run_training

    default_handler()  # textseq's messages on stderr unless the application set up logging
    with in_memory(train=train, val=val) as specs:
        return run_training(
            config,
            tasks=TASKS,
            out=out,
            overrides=[*overrides, *(f"data.{name}={spec}" for name, spec in specs.items())],
            resume=resume,
            overwrite=overwrite,
            keep_checkpoint=keep_checkpoint,
            callbacks=callbacks,
        )


def distill(
    teacher: str | Path,
    config: str | Path | dict[str, Any],
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Trains the classifier `config` describes (the student) on the logits of the classifier
    in `teacher` and returns its model directory. See `textseq.distillation.distill`."""
    from textseq.distillation import distill as run_distillation

    return run_distillation(teacher, config, out=out, overrides=overrides, overwrite=overwrite)


__all__ = ["__version__", "distill", "load", "train"]
