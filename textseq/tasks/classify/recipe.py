"""Setting up the training of a classifier (`task: classify`).

The steps, in order: read the labelled splits; fit the text pipeline (tokenizer and
vocabulary) and the label set on the training split only; build the classifier over the
configured word vectors; wrap it in its Lightning system with its data. `textseq.training`
runs the rest.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textseq.data.batching import EncodedDataset
from textseq.data.datamodule import TextDataModule
from textseq.data.readers import TextExample, apply_label_map
from textseq.data.splits import sample, split_off
from textseq.errors import ConfigError, DataError
from textseq.optim import OptimSettings
from textseq.tasks.base import Prepared
from textseq.tasks.classify.build import build_model, load_text_pipeline
from textseq.tasks.classify.config import Config
from textseq.tasks.classify.data import load_examples
from textseq.tasks.classify.distillation import (
    NO_LABEL,
    DistillationLoss,
    TeacherTargets,
    distillation_set,
)
from textseq.tasks.classify.system import ClassificationTask
from textseq.text.pipeline import TextPipeline, cleaner_of, save_pipeline
from textseq.text.pretrained import (
    PRETRAINED_DIR,
    PretrainedTokenizer,
    load_pretrained_encoder,
)
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import PAD, UNK, Vocabulary
from textseq.training import train_only_reachable_rows
from textseq.vectors import configured_vectors, vector_words, vectors_matrix

log = logging.getLogger("textseq")


def prepare(cfg: Config, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
    """The classifier `cfg` describes, its system and data; a resumed run (`resume_dir`)
    keeps the run's text pipeline and labels."""
    train_examples, val_examples = read_splits(cfg)
    pretrained_encoder = cfg.model.encoder.type == "pretrained"
    keyed_vectors = None
    if not pretrained_encoder:  # it brings its own embeddings
        keyed_vectors = configured_vectors(cfg.model.embedding, checkpoint=checkpoint)
    if resume_dir is not None:
        pipeline = load_text_pipeline(resume_dir, cfg)
        labels = Vocabulary.load(resume_dir / "labels.json")
        train_tokens, report = pipeline.tokenize_all([e.text for e in train_examples])
    else:
        pipeline, labels, train_tokens, report = fit_text_pipeline(
            cfg, train_examples, keyed_vectors
        )
    for note in report.describe(cfg.data.max_length):
        log.warning("training data: %s", note)
    val_tokens, val_report = pipeline.tokenize_all([e.text for e in val_examples])
    for note in val_report.describe(cfg.data.max_length):
        log.warning("validation data: %s", note)
    train_ids = [pipeline.vocab.encode(t) for t in train_tokens]
    _warn_if_unk_is_never_trained(cfg, train_ids, pipeline.vocab.unk_index)
    train_set = EncodedDataset(train_ids, _label_ids(labels, train_examples))
    distillation = None
    if cfg.distill.targets is not None:
        train_set, distillation = _distillation(cfg, pipeline, labels, train_examples)
    elif cfg.distill.teacher is not None:
        raise ConfigError(
            "distill.teacher is set but distill.targets is not: train a student with textseq "
            "distill TEACHER CONFIG, which computes the teacher's logits"
        )
    val_set = EncodedDataset(
        [pipeline.vocab.encode(t) for t in val_tokens], _label_ids(labels, val_examples)
    )
    log.info(
        "data: %s training and %s validation examples, %s labels (%s), vocabulary of %s",
        f"{len(train_set):,}",
        f"{len(val_set):,}",
        len(labels),
        ", ".join(labels.itos),
        f"{len(pipeline.vocab):,}",
    )
    pretrained, coverage = vectors_matrix(
        pipeline.vocab,
        keyed_vectors,
        unknown_init=cfg.model.embedding.unknown_init,
        seed=cfg.seed,
    )
    backbone = None
    if pretrained_encoder:
        log.info("loading the pretrained encoder %s", cfg.model.encoder.pretrained)
        backbone = load_pretrained_encoder(cfg.model.encoder.pretrained)
    model = build_model(
        cfg,
        vocab=pipeline.vocab,
        num_labels=len(labels),
        pretrained=pretrained,
        backbone=backbone,
    )
    if not pretrained_encoder:
        train_only_reachable_rows(cfg, model, train_ids, pipeline.vocab.unk_index)

    def save(directory: Path) -> None:
        save_pipeline(pipeline, directory)
        if backbone is not None:  # its architecture, so the model loads without the source
            backbone.config.save_pretrained(str(directory / PRETRAINED_DIR))
        labels.save(directory / "labels.json")

    system = ClassificationTask(
        model,
        num_labels=len(labels),
        optim=OptimSettings.from_config(cfg.optim, monitor=cfg.trainer.monitor),
        class_weights=_class_weights(cfg, labels, train_examples),
        label_smoothing=cfg.training.label_smoothing,
        distillation=distillation,
    )
    datamodule = TextDataModule.from_config(
        cfg, train=train_set, val=val_set, pad_index=pipeline.vocab.pad_index
    )
    return Prepared(
        system=system,
        model=model,
        datamodule=datamodule,
        save=save,
        data={
            "train_examples": len(train_set),
            "val_examples": len(val_set),
            "labels": labels.itos,
            "vocab_size": len(pipeline.vocab),
            "truncated_train_texts": report.truncated,
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


def _distillation(
    cfg: Config, pipeline: TextPipeline, labels: Vocabulary, train_examples: list[TextExample]
) -> tuple[EncodedDataset, DistillationLoss]:
    """The student's training set (the training texts and their augmented copies) and its
    loss, from the teacher's logits in `distill.targets`."""
    targets = TeacherTargets.load(cfg.distill.targets)
    token_ids, label_ids, logits = distillation_set(
        targets, pipeline=pipeline, labels=labels, train_texts=[e.text for e in train_examples]
    )
    log.info(
        "distillation: %s texts (%s of them augmented) with the teacher's logits, loss %s, "
        "alpha %s",
        f"{len(token_ids):,}",
        f"{label_ids.count(NO_LABEL):,}",
        cfg.distill.loss,
        cfg.distill.alpha,
    )
    loss = DistillationLoss(
        teacher_logits=logits,
        loss=cfg.distill.loss,
        temperature=cfg.distill.temperature,
        alpha=cfg.distill.alpha,
        class_weights=_class_weights(cfg, labels, train_examples),
    )
    return EncodedDataset(token_ids, label_ids), loss


def read_splits(cfg: Config) -> tuple[list[TextExample], list[TextExample]]:
    """The training and validation examples exactly as training reads them (held out with
    the config's seed, cut by its limits); baselines train and validate on the same."""
    columns = dict(text_column=cfg.data.text_column, label_column=cfg.data.label_column)
    label_map = cfg.data.label_map
    train_examples = apply_label_map(load_examples(cfg.data.train, **columns), label_map)
    if cfg.data.val is not None:
        val_examples = apply_label_map(load_examples(cfg.data.val, **columns), label_map)
    else:
        train_examples, val_examples = split_off(
            train_examples, cfg.data.val_fraction, seed=cfg.seed
        )
        log.info(
            "validation: held out %s of %s training examples (data.val_fraction=%s)",
            f"{len(val_examples):,}",
            f"{len(train_examples) + len(val_examples):,}",
            cfg.data.val_fraction,
        )
    train_examples = sample(train_examples, cfg.data.limit_train, cfg.seed)
    val_examples = sample(val_examples, cfg.data.limit_val, cfg.seed + 1)
    return train_examples, val_examples


def _sort_labels(labels: set[str]) -> list[str]:
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def fit_text_pipeline(
    cfg: Config, train_examples: list[TextExample], keyed_vectors=None
) -> tuple[TextPipeline, Vocabulary, list[list[str]], Any]:
    """Tokenizer, vocabulary and labels, all learnt from the training split alone (a
    pretrained encoder brings its own tokenizer and vocabulary), the vocabulary extended by
    the words of `keyed_vectors` with `model.words_from_vectors`."""
    labels = Vocabulary(_sort_labels({e.label for e in train_examples}), specials=())
    if len(labels) < 2:
        raise DataError(
            f"the training data has a single label ({labels.itos[0]!r}); a classifier needs "
            "at least two"
        )
    cleaner = cleaner_of(cfg.text)
    if cfg.model.encoder.type == "pretrained":
        pretrained_tokenizer = PretrainedTokenizer.load(
            cfg.model.encoder.pretrained, max_length=cfg.data.max_length
        )
        pipeline = TextPipeline(cleaner, pretrained_tokenizer, pretrained_tokenizer.vocabulary())
        train_tokens, report = pipeline.tokenize_all([e.text for e in train_examples])
        return pipeline, labels, train_tokens, report
    tokenizer = create_tokenizer(cfg.text.tokenizer, bpe_vocab_size=cfg.text.bpe_vocab_size)
    if hasattr(tokenizer, "fit"):
        log.info("fitting the %s tokenizer on the training texts", cfg.text.tokenizer)
        tokenizer.fit(cleaner(e.text) for e in train_examples)
    unfitted = TextPipeline(cleaner, tokenizer, Vocabulary([]), cfg.data.max_length)
    train_tokens, report = unfitted.tokenize_all([e.text for e in train_examples])
    vocab = Vocabulary.build(
        train_tokens,
        min_freq=cfg.text.min_freq,
        max_size=cfg.text.max_vocab_size,
        specials=(PAD, UNK),
    )
    if keyed_vectors is not None and cfg.model.words_from_vectors:
        vocab = vocab.extended(vector_words(keyed_vectors, lowercase=cfg.text.lowercase))
    pipeline = TextPipeline(cleaner, tokenizer, vocab, cfg.data.max_length)
    return pipeline, labels, train_tokens, report


def _warn_if_unk_is_never_trained(
    cfg: Config, token_ids: Sequence[Sequence[int]], unk_index: int | None
) -> None:
    """Warns when no training token is `<unk>`: every word first met at test time would then
    share one vector that training never moved, and most test sets have such words (SST-2's
    count is in benchmarks/results/notebook.md, "Embeddings and vectors")."""
    word_level = cfg.text.tokenizer in ("basic_english", "whitespace")
    if not word_level or unk_index is None or cfg.model.embedding.word_dropout > 0:
        return
    if any(unk_index in ids for ids in token_ids):
        return
    log.warning(
        "no training token is <unk> (text.min_freq is %d), so the <unk> vector is never "
        "trained and every unseen word at test time maps to it; set text.min_freq: 2 or "
        "model.embedding.word_dropout: 0.1",
        cfg.text.min_freq,
    )


def _label_ids(labels: Vocabulary, examples: list[TextExample]) -> list[int]:
    ids = []
    for example in examples:
        if example.label not in labels:
            raise DataError(
                f"label {example.label!r} does not occur in the training data (known labels: "
                f"{', '.join(labels.itos)})",
                path=example.source,
                line=example.line,
            )
        ids.append(labels.stoi[example.label])
    return ids


def _class_weights(
    cfg: Config, labels: Vocabulary, examples: list[TextExample]
) -> torch.Tensor | None:
    setting = cfg.optim.class_weights
    if setting is None:
        return None
    if setting == "balanced":
        counts = Counter(e.label for e in examples)
        total = len(examples)
        return torch.tensor(
            [total / (len(labels) * counts[label]) for label in labels.itos], dtype=torch.float
        )
    if len(setting) != len(labels):
        raise ConfigError(
            f"optim.class_weights has {len(setting)} weights but there are {len(labels)} labels "
            f"({', '.join(labels.itos)})"
        )
    return torch.tensor(setting, dtype=torch.float)
