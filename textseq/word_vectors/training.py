"""Training word vectors with gensim: word2vec's CBOW and skip-gram (Mikolov et al. 2013,
"Efficient Estimation of Word Representations in Vector Space"; negative sampling from
Mikolov et al. 2013b) and fastText's subword skip-gram (Bojanowski et al. 2017, "Enriching
Word Vectors with Subword Information": a word is the sum of its vector and its character
n-grams' vectors, so unseen words get vectors too).

The output directory, written whole or not at all:

    vectors.bin    word2vec binary: what `model.embedding.vectors` reads (give it the directory)
    vectors.txt    word2vec text, the same vectors
    gensim.model   the gensim model, to train further (gensim's own format)
    fasttext.bin   (fasttext only) the model in fastText's binary format, with its subwords
    report.json    corpus tokens, vocabulary size, seconds, and every setting
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from textseq.atomic import write_atomically
from textseq.errors import DataError, TextseqError

log = logging.getLogger(__name__)

METHODS = ("cbow", "skipgram", "fasttext")


@dataclass(frozen=True)
class VectorSettings:
    """gensim's knobs, named as on the command line.

    method: cbow | skipgram (word2vec) | fasttext (skip-gram with character n-grams).
    dim: vector size. window: largest distance between a word and a context word.
    min_count: words seen fewer times are dropped. negative: noise words per positive
    example (negative sampling). epochs: passes over the corpus. workers: training threads.
    min_n, max_n: character n-gram lengths, buckets: hash buckets of the n-gram vectors
    (fasttext only; fastText's 2,000,000 buckets of 100-d vectors take 800 MB). seed: initial
    vectors.
    """

    method: str = "skipgram"
    dim: int = 100
    window: int = 5
    min_count: int = 5
    negative: int = 5
    epochs: int = 5
    workers: int = 2
    min_n: int = 3
    max_n: int = 6
    buckets: int = 2_000_000
    seed: int = 13

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise TextseqError(f"--method ({self.method!r}) must be one of {', '.join(METHODS)}")
        for name in (
            "dim",
            "window",
            "min_count",
            "epochs",
            "workers",
            "min_n",
            "max_n",
            "buckets",
        ):
            if getattr(self, name) < 1:
                raise TextseqError(
                    f"--{name.replace('_', '-')} ({getattr(self, name)}) must be at least 1"
                )
        if self.negative < 0:
            raise TextseqError(f"--negative ({self.negative}) must be at least 0")
        if self.min_n > self.max_n:
            raise TextseqError(f"--min-n ({self.min_n}) must not exceed --max-n ({self.max_n})")


def train_vectors(
    sentences: Iterable[list[str]],
    out: str | Path,
    settings: VectorSettings,
    *,
    about: dict | None = None,
) -> dict:
    """Trains vectors on `sentences` (lists of tokens) and writes the directory `out` (see the
    module docstring); returns the report. `about` (e.g. the corpora and the text cleaning)
    is added to the report as it is. `out` must not exist or be empty."""
    from gensim.models import FastText, Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TextseqError(f"--out {out} exists and is not an empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        corpus = partial / "corpus.txt"
        started = time.perf_counter()
        texts = _write_corpus(sentences, corpus)
        tokenize_seconds = time.perf_counter() - started
        if texts == 0:
            raise DataError("the corpora hold no tokens to train on")
        log.info("tokenised %d texts in %.1f s", texts, tokenize_seconds)

        class Progress(CallbackAny2Vec):  # one stderr line per epoch
            def __init__(self):
                self.epoch, self.started = 0, time.perf_counter()

            def on_epoch_end(self, model):
                self.epoch += 1
                seconds = time.perf_counter() - self.started
                log.info("epoch %d/%d done, %.1f s", self.epoch, settings.epochs, seconds)

        common = dict(
            corpus_file=str(corpus),
            vector_size=settings.dim,
            window=settings.window,
            min_count=settings.min_count,
            negative=settings.negative,
            epochs=settings.epochs,
            workers=settings.workers,
            seed=settings.seed,
            callbacks=[Progress()],
        )
        started = time.perf_counter()
        if settings.method == "fasttext":
            model = FastText(
                sg=1, min_n=settings.min_n, max_n=settings.max_n, bucket=settings.buckets, **common
            )
        else:
            model = Word2Vec(sg=int(settings.method == "skipgram"), **common)
        train_seconds = time.perf_counter() - started
        corpus.unlink()
        model.callbacks = ()  # the progress callback is not part of the saved model
        if len(model.wv) == 0:
            raise DataError(f"no word is seen --min-count ({settings.min_count}) times")
        model.wv.save_word2vec_format(str(partial / "vectors.bin"), binary=True)
        model.wv.save_word2vec_format(str(partial / "vectors.txt"), binary=False)
        model.save(str(partial / "gensim.model"), separately=[])
        if settings.method == "fasttext":
            from gensim.models.fasttext import save_facebook_model

            save_facebook_model(model, str(partial / "fasttext.bin"))
        report = {
            **(about or {}),
            "settings": asdict(settings),
            "texts": texts,
            "corpus_tokens": int(model.corpus_total_words),
            "vocab_size": len(model.wv),
            "tokenize_seconds": round(tokenize_seconds, 2),
            "train_seconds": round(train_seconds, 2),
            "files": [*sorted(p.name for p in partial.iterdir()), "report.json"],
        }
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        write_atomically(partial / "report.json", lambda p: p.write_text(text, encoding="utf-8"))
        os.chmod(partial, 0o755)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("vectors written to %s", out)
    return report


def _write_corpus(sentences: Iterable[list[str]], path: Path) -> int:
    """`sentences` one per line, tokens separated by spaces (gensim's `corpus_file` format,
    which trains with every worker busy); returns how many lines. A token holding whitespace
    (the characters tokenizer's spaces) cannot be written so and is dropped."""
    count = 0
    with path.open("w", encoding="utf-8") as stream:
        for tokens in sentences:
            words = [t for t in tokens if t.strip() and not any(c.isspace() for c in t)]
            if words:
                stream.write(" ".join(words) + "\n")
                count += 1
    return count
