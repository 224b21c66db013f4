"""What the CLI's verbs do for a tagger beyond loading it: `evaluate` reads CoNLL data,
`predict` tags texts or token lists. Each function takes the model and the verb's options as
keywords named as the options (`--tag-column` is `tag_column`); `textseq.cli` passes the
options given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textseq.errors import UsageError

if TYPE_CHECKING:
    from textseq.tasks.tag.predictor import TaggerPredictor

# Imported in the functions that use them: `textseq --help` reads this module's examples
# and docstrings without PyTorch or the data readers (textseq.tasks.base, Task.commands).

# For `textseq --help`: examples, and what --data names for this task's models.
EXAMPLES = """\
textseq train configs/conll2003_bilstm_crf.yaml --out runs/ner
textseq evaluate runs/ner --data conll2003:test      # entity P/R/F1 per type, token accuracy
textseq predict runs/ner "U.N. official Ekeus heads for Baghdad ."
textseq predict runs/ner --tokens "U.N. official Ekeus heads for Baghdad ." --nbest 3
"""
DATA = (
    "a CoNLL file (token per line, optionally .gz) or conll2003:train|dev|test (NER or POS "
    "tags, as the model was trained)"
)


def evaluate(
    model: TaggerPredictor,
    *,
    data: str,
    token_column: int = 0,
    tag_column: int = -1,
    batch_size: int = 256,
) -> dict[str, Any]:
    """On CoNLL data (a file or conll2003:SPLIT, with the model's tag set): n, tokens,
    accuracy (per token), entity-level precision, recall, f1 and per_type scores (seqeval),
    and sentences_per_second."""
    from textseq.tasks.tag.datasets import load_tagged

    sentences = load_tagged(
        data, tag_set=model.config.data.tags, token_column=token_column, tag_column=tag_column
    )
    return model.evaluate(sentences, batch_size=batch_size)


def predict(
    model: TaggerPredictor,
    texts: Sequence[str],
    *,
    tokens: bool = False,
    nbest: int = 1,
    explain: bool = False,
    batch_size: int = 256,
) -> list[dict[str, Any]]:
    """{"tokens", "tags", "confidences", "entities": [{"text", "type", "start", "end",
    "confidence"}]} per text (start, end: token positions, end exclusive); with --nbest N
    "nbest": the N best tag sequences with their scores. --tokens: the texts are already
    tokenised, split on whitespace only."""
    if explain:  # taken only to say where a tagger's explanation is
        raise UsageError(
            "--explain is for classifiers; a tagger's per-token tag probabilities are in "
            f'"confidences", and textseq explain {model.directory} TEXT gives the whole matrix'
        )
    if nbest < 1:
        raise UsageError(f"--nbest ({nbest}) must be at least 1")
    if nbest > 1 and model.config.model.output != "crf":
        raise UsageError("--nbest needs a tagger with a CRF output layer")
    inputs = [text.split() if tokens else text for text in texts]
    return model.predict(inputs, nbest=nbest, batch_size=batch_size)
