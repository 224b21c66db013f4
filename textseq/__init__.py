"""textseq: sequence models over text, from raw files to a served model.

import textseq
directory = textseq.train("configs/sst2_bilstm_attention.yaml", out="runs/sst2")
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

__version__ = "0.1.0"

if TYPE_CHECKING:
    from textseq.lm_predictor import LanguageModelPredictor
    from textseq.predictor import TextClassifierPredictor
    from textseq.tag_predictor import TaggerPredictor
    from textseq.translate_predictor import TranslatorPredictor


def load(
    directory: str | Path,
    *,
    quantize: str | None = None,
    precision: str = "fp32",
    onnx: str | Path | None = None,
) -> TextClassifierPredictor | LanguageModelPredictor | TaggerPredictor | TranslatorPredictor:
    """The trained model in `directory` (written by `textseq train`): a classifier
    (`predict`, `evaluate`), a language model (`generate`, `perplexity`, `evaluate`), a
    tagger (`predict`, `marginals`, `evaluate`) or a translation model (`translate`,
    `evaluate`, `attention`), as its manifest says.

    `quantize="int8"` runs it with dynamically quantised int8 LSTM/GRU/Linear layers;
    `precision="bf16"` runs classifiers and taggers under bf16 autocast (see
    `textseq.inference`). `onnx`: a classifier runs this file, written by `textseq export
    DIR --format onnx`, in ONNX Runtime. Translation models run in fp32 only."""
    from textseq.inference import check_inference_options
    from textseq.model_dir import check_model_dir

    check_inference_options(quantize, precision)
    task = check_model_dir(directory).get("task")
    if onnx is not None and task not in (None, "classify"):
        raise ValueError(f"onnx ({onnx}) runs exported classifiers; {directory} holds a {task}")
    if task == "lm":
        from textseq.lm_predictor import LanguageModelPredictor

        if precision != "fp32":
            raise ValueError(
                f"precision ({precision!r}) is for classifiers and taggers; language models "
                "run in fp32 (or quantize='int8')"
            )
        return LanguageModelPredictor.load(directory, quantize=quantize)
    if task == "tag":
        from textseq.tag_predictor import TaggerPredictor

        return TaggerPredictor.load(directory, quantize=quantize, precision=precision)
    if task == "translate":
        from textseq.translate_predictor import TranslatorPredictor

        if quantize is not None or precision != "fp32":
            raise ValueError(
                f"quantize ({quantize!r}) and precision ({precision!r}) are not supported for "
                "translation models, which run in fp32"
            )
        return TranslatorPredictor.load(directory)
    from textseq.predictor import TextClassifierPredictor

    return TextClassifierPredictor.load(
        directory, quantize=quantize, precision=precision, onnx=onnx
    )


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
