"""Setting up the training of a sequence tagger (`task: tag`).

The steps: read the tagged splits; fit the word, character and tag vocabularies on the
training split only (plus the pretrained vectors' words, when configured); load the
pretrained encoder of the transformer feature and, when it is frozen, compute (or read from
the cache) every sentence's contextual features once; build the tagger and its Lightning
system. `textseq.training` runs the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from textseq.data.catalog import cache_dir
from textseq.data.datamodule import TextDataModule
from textseq.data.splits import sample, split_off
from textseq.models.tagger import SequenceTagger
from textseq.models.word_features import FeatureCache, frozen_features
from textseq.optim import OptimSettings
from textseq.tasks.base import Prepared
from textseq.tasks.tag.build import build_tagger
from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.conll import TaggedSentence
from textseq.tasks.tag.data import TagCollator, TagEncoder
from textseq.tasks.tag.datasets import load_tagged
from textseq.tasks.tag.system import TaggingTask
from textseq.text.portable import save_word_level_tokenizer
from textseq.text.pretrained import PRETRAINED_DIR, PretrainedTokenizer, load_pretrained_encoder
from textseq.training import train_only_reachable_rows
from textseq.vectors import configured_vectors, vector_words, vectors_matrix

log = logging.getLogger("textseq")


def prepare(cfg: TagConfig, *, resume_dir: Path | None, checkpoint: str | None) -> Prepared:
    """The tagger `cfg` describes, its system and data; a resumed run (`resume_dir`) keeps
    the run's vocabularies."""
    train_sentences, val_sentences = read_tagged_splits(cfg)
    train_sentences = sample(train_sentences, cfg.data.limit_train, cfg.seed)
    val_sentences = sample(val_sentences, cfg.data.limit_val, cfg.seed + 1)
    words = "words" in cfg.model.features
    keyed_vectors = (
        configured_vectors(cfg.model.embedding, checkpoint=checkpoint) if words else None
    )
    if resume_dir is not None:
        encoder = TagEncoder.load(resume_dir, lowercase=cfg.text.lowercase, scheme=cfg.model.scheme)
    else:
        encoder = fit_tag_encoder(cfg, train_sentences, keyed_vectors, val_sentences)
    backbone, subword_tokenizer = None, None
    if "transformer" in cfg.model.features:
        spec = cfg.model.transformer.pretrained
        log.info("loading the pretrained encoder %s", spec)
        backbone = load_pretrained_encoder(spec)
        subword_tokenizer = PretrainedTokenizer.load(spec)
    pretrained, coverage = vectors_matrix(
        encoder.words,
        keyed_vectors,
        unknown_init=cfg.model.embedding.unknown_init,
        seed=cfg.seed,
    )
    model = build_tagger(cfg, encoder, pretrained=pretrained, backbone=backbone)
    train_set, val_set, collate = tag_datasets(
        cfg, encoder, model, subword_tokenizer, train_sentences, val_sentences
    )
    log.info(
        "data: %s training and %s validation sentences, %s tags (%s), %s words, %s characters",
        f"{len(train_set):,}",
        f"{len(val_set):,}",
        len(encoder.tags),
        " ".join(encoder.tags.itos),
        f"{len(encoder.words):,}",
        len(encoder.chars),
    )
    if words:
        word_ids = (ids for ids, *_ in train_set.items)
        train_only_reachable_rows(cfg, model, word_ids, encoder.words.unk_index)
    system = TaggingTask(
        model,
        tag_names=encoder.tags.itos,
        scheme=cfg.model.scheme,
        optim=OptimSettings.from_config(cfg.optim, monitor=cfg.trainer.monitor),
        label_smoothing=cfg.training.label_smoothing,
    )
    datamodule = TextDataModule.from_config(
        cfg, train=train_set, val=val_set, pad_index=0, collate=collate
    )
    return Prepared(
        system=system,
        model=model,
        datamodule=datamodule,
        save=lambda directory: _save(encoder, cfg, directory, backbone, subword_tokenizer),
        data={
            "train_sentences": len(train_set),
            "val_sentences": len(val_set),
            "tags": encoder.tags.itos,
            "vocab_size": len(encoder.words),
            "chars": len(encoder.chars),
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


def tag_datasets(
    cfg: TagConfig,
    encoder: TagEncoder,
    model: SequenceTagger,
    subword_tokenizer: PretrainedTokenizer | None,
    train_sentences: Sequence[TaggedSentence],
    val_sentences: Sequence[TaggedSentence],
):
    """(training set, validation set, collator) for `model`'s features. A frozen transformer
    feature's values are computed here once per sentence (through the on-disk cache with
    `model.transformer.cache`); a fine-tuned one's items carry their words, which the
    collator splits into the encoder's subwords."""
    features = model.word_features
    if features is None:
        return encoder.dataset(train_sentences), encoder.dataset(val_sentences), TagCollator()
    tokenizer = subword_tokenizer.tokenizer
    if not features.frozen:
        return (
            encoder.dataset(train_sentences, with_words=True),
            encoder.dataset(val_sentences, with_words=True),
            TagCollator(tokenizer),
        )
    spec = cfg.model.transformer.pretrained
    cache = (
        FeatureCache.for_features(cache_dir() / "features", features, spec)
        if cfg.model.transformer.cache
        else None
    )
    splits = []
    for name, sentences in (("training", train_sentences), ("validation", val_sentences)):
        contexts = frozen_features(
            features,
            tokenizer,
            [s.tokens for s in sentences],
            cache=cache,
            what=f"{name} features",
        )
        splits.append(encoder.dataset(sentences, contexts=contexts))
    return splits[0], splits[1], TagCollator()


def read_tagged_splits(cfg: TagConfig) -> tuple[list[TaggedSentence], list[TaggedSentence]]:
    columns = dict(
        tag_set=cfg.data.tags, token_column=cfg.data.token_column, tag_column=cfg.data.tag_column
    )
    train_sentences = load_tagged(cfg.data.train, **columns)
    if cfg.data.val is not None:
        return train_sentences, load_tagged(cfg.data.val, **columns)
    rest, held_out = split_off(train_sentences, cfg.data.val_fraction, seed=cfg.seed)
    log.info(
        "validation: held out %s of %s training sentences (data.val_fraction=%s)",
        f"{len(held_out):,}",
        f"{len(train_sentences):,}",
        cfg.data.val_fraction,
    )
    return rest, held_out


def fit_tag_encoder(
    cfg: TagConfig,
    train_sentences: Sequence[TaggedSentence],
    keyed_vectors=None,
    val_sentences: Sequence[TaggedSentence] = (),
) -> TagEncoder:
    """Word and character vocabularies from the training sentences alone, plus the
    pretrained vectors' words with `model.words_from_vectors`; the tag set from the training
    and validation sentences."""
    extra: list[str] = []
    if keyed_vectors is not None and cfg.model.words_from_vectors:
        extra = vector_words(keyed_vectors, lowercase=cfg.text.lowercase)
    return TagEncoder.fit(
        train_sentences,
        lowercase=cfg.text.lowercase,
        scheme=cfg.model.scheme,
        min_freq=cfg.text.min_freq,
        max_vocab_size=cfg.text.max_vocab_size,
        char_min_freq=cfg.model.chars.min_freq,
        extra_words=extra,
        more_tags=val_sentences,
    )


def _save(
    encoder: TagEncoder,
    cfg: TagConfig,
    directory: Path,
    backbone=None,
    subword_tokenizer: PretrainedTokenizer | None = None,
) -> None:
    """The vocabularies, and the word ids as a portable `tokenizer.json` (the tokenizer, lower
    casing and word vocabulary; the character and casing inputs are the tagger's own); with
    the transformer feature, its tokenizer and architecture in `pretrained/`, so the model
    loads without the encoder's source."""
    encoder.save(directory)
    if backbone is not None and subword_tokenizer is not None:
        subword_tokenizer.save(directory)
        backbone.config.save_pretrained(str(directory / PRETRAINED_DIR))
    save_word_level_tokenizer(
        directory, tokenizer=cfg.text.tokenizer, vocab=encoder.words, lowercase=encoder.lowercase
    )
