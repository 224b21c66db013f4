"""What the CLI's verbs do for a translation model beyond loading it: `evaluate` reads
parallel data and scores BLEU and chrF, `translate` translates sentences in batches. Each
function takes the model and the verb's options as keywords named as the options;
`textseq.cli` passes the options given."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from textseq.errors import TextseqError, UsageError

if TYPE_CHECKING:
    from textseq.tasks.translate.predictor import TranslatorPredictor

# Imported in the functions that use them: `textseq --help` reads this module's examples
# and docstrings without PyTorch or the data readers (textseq.tasks.base, Task.commands).

# For `textseq --help`: examples, and what --data names for this task's models.
EXAMPLES = """\
textseq train configs/multi30k_gru_bahdanau.yaml --out runs/de_en
textseq evaluate runs/de_en --data multi30k:test2016 --beam 5   # BLEU, chrF: greedy and beam
textseq evaluate runs/de_en --src test.de --tgt test.en
textseq translate runs/de_en "ein mann mit einem orangefarbenen hut ." --beam 5 --nbest 3
"""
DATA = (
    "two aligned files (--src F --tgt F, one sentence per line, optionally .gz) or "
    "multi30k:train|val|test2016 (in the model's direction, official lower-cased tokenised "
    "files by default)"
)


def evaluate(
    model: TranslatorPredictor,
    *,
    data: str | None = None,
    src: str | None = None,
    tgt: str | None = None,
    beam: int | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """On multi30k:SPLIT (in the model's direction) or two aligned files --src, --tgt: n and,
    for "greedy" and "beam" decoding (--beam, default the config's decoding.beam_size),
    bleu (sacrebleu; on the official tokenised references with tokenize="none"), chrf,
    bleu_raw (named corpora: against the raw references, 13a tokenizer, case-insensitive)
    and sentences_per_second."""
    from textseq.tasks.translate.data import load_parallel
    from textseq.tasks.translate.metrics import bleu_tokenize

    config = model.config.data
    if data is not None and (src or tgt):
        raise UsageError("give --data NAME:SPLIT or --src and --tgt, not both")
    if data is None and not (src and tgt):
        raise UsageError(
            "evaluate needs --data NAME:SPLIT (e.g. multi30k:test2016) or --src FILE --tgt FILE"
        )
    if beam is not None and beam < 1:
        raise UsageError(f"--beam ({beam}) must be at least 1")
    pairs = load_parallel(
        data, src=src, tgt=tgt, direction=config.direction, variant=config.variant
    )
    raw = None
    if data is not None and config.variant == "tok":
        raw = [p.tgt for p in load_parallel(data, direction=config.direction, variant="raw")]
        if len(raw) != len(pairs):
            raise TextseqError(
                f"{data}: the raw references ({len(raw)}) do not pair up with the "
                f"tokenised ones ({len(pairs)})"
            )
    result = model.evaluate(
        pairs,
        beam_size=beam,
        raw_references=raw,
        bleu_tokenize=bleu_tokenize(model.config, named=data is not None),
        batch_size=batch_size,
    )
    return {"data": data or f"{src} -> {tgt}", **result}


def translate(
    model: TranslatorPredictor,
    texts: Sequence[str],
    *,
    beam: int | None = None,
    nbest: int = 1,
    batch_size: int = 64,
) -> Iterator[dict[str, Any]]:
    """{"source", "translation", "score", "log_prob"} per sentence and, with --nbest N,
    "nbest": [{"translation", "score", "log_prob"}], best first; score is log P(translation)
    divided by the length penalty of Wu et al. 2016 (beam search) or log P (greedy).

    The results come batch by batch, as they are decoded."""
    beam = model.config.decoding.beam_size if beam is None else beam
    if beam < 1:
        raise UsageError(f"--beam ({beam}) must be at least 1")
    if not 1 <= nbest <= beam:
        raise UsageError(f"--nbest ({nbest}) must be between 1 and the beam size ({beam})")
    if batch_size < 1:
        raise UsageError(f"--batch-size ({batch_size}) must be at least 1")
    # A generator apart, so that the options are checked when `translate` is called
    return _in_batches(model, texts, beam=beam, nbest=nbest, batch_size=batch_size)


def _in_batches(
    model: TranslatorPredictor, texts: Sequence[str], *, beam: int, nbest: int, batch_size: int
) -> Iterator[dict[str, Any]]:
    for start in range(0, len(texts), batch_size):
        yield from model.translate(texts[start : start + batch_size], beam_size=beam, nbest=nbest)
