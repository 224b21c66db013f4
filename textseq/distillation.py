"""`distill`: a trained classifier (the teacher) taught to another, usually much smaller one
(the student, a classify config), as in Tang et al. 2019 ("Distilling Task-Specific Knowledge
from BERT into Simple Neural Networks").

The steps, in order: read the student config's training split; add augmented copies of its
texts (`distill.augment`, `textseq.text.augment`; POS-guided replacement tags them with the
textseq POS tagger `distill.augment.pos_tagger`); the teacher computes its logits on the texts it
has not seen before, batched, with progress on stderr, kept per teacher (keyed by its weights
and config) and per text under `<cache>/distill/`, and written with the texts into a targets
file keyed by the teacher and the texts; then the
student trains as any classifier (`textseq.training.train`) with `distill.teacher` and
`distill.targets` set, and its task's recipe mixes the gold labels with the teacher's logits
(`textseq.tasks.classify.distillation`). The result is an ordinary classifier model directory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textseq.atomic import write_atomically
from textseq.config import TaskConfig
from textseq.data.catalog import cache_dir
from textseq.errors import ConfigError, TextseqError
from textseq.tasks import TASKS, load_config, load_predictor, task_in
from textseq.tasks.classify.distillation import MASK, TeacherTargets
from textseq.tasks.classify.recipe import read_splits
from textseq.text.augment import Augmentation, augment_texts
from textseq.training import train

log = logging.getLogger("textseq")

PROGRESS_CHUNK = 2048  # texts between two progress lines while the teacher runs


def distill(
    teacher: str | Path,
    config: str | Path | dict[str, Any] | TaskConfig,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Trains the student `config` describes on the teacher's logits (and the gold labels, as
    `distill.alpha` says) and returns its model directory (see the module docstring)."""
    teacher = Path(teacher)
    if task_in(teacher).name != "classify":
        raise TextseqError(f"{teacher}: the teacher must be a classifier (task: classify)")
    # The teacher first: the distill section applies only with one.
    overrides = [f"distill.teacher={teacher}", *overrides]
    cfg = load_config(config, overrides)
    if cfg.task != "classify":
        raise ConfigError(f"task: the student must be a classifier, not {cfg.task!r}")
    targets = teacher_targets(teacher, cfg)
    return train(
        config,
        tasks=TASKS,
        out=out,
        overrides=[*overrides, f"distill.targets={targets}"],
        overwrite=overwrite,
    )


def teacher_targets(teacher: Path, cfg: Any) -> Path:
    """The targets file of `teacher` on the training texts of `cfg` and their augmented
    copies. The teacher's logits are kept per teacher (keyed by its weights and config) and per
    text, so only texts it has not yet seen are run; the targets file is keyed by the teacher
    and the texts."""
    train_examples, _ = read_splits(cfg)
    texts = [e.text for e in train_examples]
    augmented = augmented_texts(texts, cfg)
    all_texts = texts + augmented
    fingerprint = teacher_fingerprint(teacher)
    key = hashlib.sha256(fingerprint.encode())
    key.update(json.dumps([all_texts, [e.label for e in train_examples]]).encode())
    path = cache_dir() / "distill" / f"{key.hexdigest()[:24]}.json.gz"
    if path.is_file():
        log.info(
            "distillation: the teacher's logits on %s texts from %s", f"{len(all_texts):,}", path
        )
        return path
    known = LogitStore(cache_dir() / "distill" / f"teacher-{fingerprint[:24]}.json.gz")
    missing = sorted(set(all_texts) - known.logits.keys())
    log.info(
        "distillation: %s texts, %s of them new to the teacher",
        f"{len(all_texts):,}",
        f"{len(missing):,}",
    )
    model = load_predictor(teacher)
    teacher_logits(model, missing, batch_size=cfg.distill.teacher_batch_size, store=known)
    TeacherTargets(
        texts=all_texts,
        gold=[e.label for e in train_examples] + [None] * len(augmented),
        logits=torch.tensor([known.logits[text] for text in all_texts]),
        labels=model.labels,
        teacher={"directory": str(teacher.resolve()), "fingerprint": fingerprint},
    ).save(path)
    log.info("distillation: the teacher's logits written to %s", path)
    return path


class LogitStore:
    """Every text one teacher has labelled and its logits, in one gzip'd JSON file
    ({text: [z_1, ..., z_C]}), so that runs on other subsets or copies reuse them."""

    def __init__(self, path: Path):
        self.path = path
        self.logits: dict[str, list[float]] = {}
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                self.logits = json.load(handle)

    def add(self, texts: list[str], logits: torch.Tensor) -> None:
        self.logits.update(zip(texts, logits.tolist(), strict=True))

        def write(temporary: Path) -> None:
            with gzip.open(temporary, "wt", encoding="utf-8") as handle:
                json.dump(self.logits, handle)

        write_atomically(self.path, write)


def teacher_fingerprint(teacher: Path) -> str:
    """sha256 of the teacher's weights and config: a retrained teacher is a new cache key."""
    digest = hashlib.sha256()
    for name in ("config.yaml", "model.safetensors"):
        with open(teacher / name, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def teacher_logits(
    model: Any, texts: list[str], *, batch_size: int, store: LogitStore | None = None
) -> torch.Tensor:
    """The teacher's logits (N, C) on `texts`, in chunks with a progress line on stderr each;
    each chunk is added to `store` as it is done, so an interrupted run keeps its work."""
    start = time.perf_counter()
    chunks = []
    for begin in range(0, len(texts), PROGRESS_CHUNK):
        chunk = texts[begin : begin + PROGRESS_CHUNK]
        chunks.append(model.logits(chunk, batch_size=batch_size))
        if store is not None:
            store.add(chunk, chunks[-1])
        done = begin + len(chunk)
        seconds = time.perf_counter() - start
        log.info(
            "teacher logits: %s / %s texts (%.0f s, %.0f texts/s)",
            f"{done:,}",
            f"{len(texts):,}",
            seconds,
            done / max(seconds, 1e-9),
        )
    return torch.cat(chunks) if chunks else torch.empty(0, len(model.labels))


def augmented_texts(texts: list[str], cfg: Any) -> list[str]:
    """`distill.augment.copies` augmented copies of each text (none with copies 0)."""
    a = cfg.distill.augment
    if a.copies == 0:
        return []
    tags = None
    pos_prob = a.pos_prob
    if a.pos_tagger is not None:
        tags = pos_tags(Path(a.pos_tagger), texts)
    elif a.pos_prob > 0:
        log.warning(
            "distill.augment.pos_tagger is not set: no POS-guided replacement (pos_prob %s "
            "ignored); train one with configs/conll2003_pos.yaml",
            a.pos_prob,
        )
        pos_prob = 0.0
    settings = Augmentation(
        mask_prob=a.mask_prob,
        pos_prob=pos_prob,
        ngram_prob=a.ngram_prob,
        max_ngram=a.max_ngram,
        mask=MASK,
    )
    augmented = augment_texts(texts, copies=a.copies, settings=settings, seed=cfg.seed, tags=tags)
    log.info(
        "distillation: %s augmented copies of %s training texts",
        f"{len(augmented):,}",
        f"{len(texts):,}",
    )
    return augmented


def pos_tags(tagger_dir: Path, texts: list[str]) -> list[list[str]]:
    """The parts of speech of each text's whitespace words, by a textseq POS tagger."""
    if task_in(tagger_dir).name != "tag":
        raise TextseqError(f"{tagger_dir}: distill.augment.pos_tagger must be a tagger (task: tag)")
    tagger = load_predictor(tagger_dir)
    log.info("distillation: tagging %s training texts with %s", f"{len(texts):,}", tagger_dir)
    words = [text.split() for text in texts]
    tagged = iter(tagger.predict([w for w in words if w]))
    return [next(tagged)["tags"] if w else [] for w in words]
