"""What the CLI's verbs do for a classifier beyond loading it: `evaluate` reads labelled data,
`predict` labels texts. Each function takes the model and the verb's options as keywords named
as the options (`--text-column` is `text_column`); `textseq.cli` passes the options given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textseq.data.readers import parse_label_map
from textseq.errors import UsageError

if TYPE_CHECKING:
    from textseq.tasks.classify.predictor import TextClassifierPredictor

# Imported in the functions that use them: `textseq --help` reads this module's examples
# and docstrings without PyTorch or the data readers (textseq.tasks.base, Task.commands).

# For `textseq --help`: examples, and what --data names for this task's models.
EXAMPLES = """\
textseq train configs/sst2_bilstm_attention.yaml --out runs/sst2
textseq train configs/sst2_bilstm_attention.yaml --set trainer.max_epochs=3 --set optim.lr=3e-4
textseq train --resume runs/sst2.partial            # continue an interrupted run
textseq evaluate runs/sst2 --data sst2:dev
textseq predict runs/sst2 "a gripping, beautifully acted film" "a tedious mess"
echo "not bad at all" | textseq predict runs/sst2 --explain
textseq predict runs/sst2 --quantize int8 --file reviews.txt  # int8 LSTM/Linear layers
textseq export runs/sst2 --format onnx --quantize int8  # parity-checked runs/sst2/model.int8.onnx
textseq serve runs/sst2 --port 8000     # HTTP: POST /predict {"texts": [...]}, GET /health
textseq explain runs/sst2 "not bad at all" --out why.html   # or why.png; JSON without --out
textseq neighbors runs/sst2 good -k 5
textseq embeddings-plot runs/sst2 --words good,great,bad,awful,film,movie --out words.png
"""
DATA = (
    "a file (.tsv, .csv, .jsonl, optionally .gz; .parquet, .arrow), a named dataset NAME:SPLIT "
    "(sst2:train|dev, sst2_sentences:train|dev|test, imdb:train|test, ag_news:train|test) or a "
    "Hugging Face dataset hf:NAME[:CONFIG]:SPLIT or hf-disk:PATH[:SPLIT]"
)


def evaluate(
    model: TextClassifierPredictor,
    *,
    data: str,
    text_column: str = "text",
    label_column: str = "label",
    label_map: str | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """On labelled data (a file, NAME:SPLIT, hf:... or hf-disk:...): n, accuracy, macro_f1,
    per_class precision/recall/f1/support, labels and confusion_matrix (rows: true label,
    columns: predicted). --label-map 0=negative,1=positive renames the data's labels first."""
    from textseq.tasks.classify.data import load_examples

    examples = load_examples(data, text_column=text_column, label_column=label_column)
    mapping = parse_label_map(label_map) if label_map is not None else None
    return model.evaluate(examples, batch_size=batch_size, label_map=mapping)


def predict(
    model: TextClassifierPredictor,
    texts: Sequence[str],
    *,
    explain: bool = False,
    batch_size: int = 256,
) -> list[dict[str, Any]]:
    """{"text", "label", "probs": {label: p}} per text, and with --explain "attention":
    [[token, weight], ...] (attention poolings)."""
    if explain and not model.has_attention:
        raise UsageError(
            f"--explain needs a model with attention pooling; this one pools with "
            f"{model.config.model.pooling.type!r} (`textseq explain` gives gradient saliency "
            "for any model)"
        )
    return model.predict(texts, explain=explain, batch_size=batch_size)
