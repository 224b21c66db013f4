"""`train`: config in, finished model directory out.

The steps, in order: read the data; fit the text pipeline (tokenizer and vocabulary) on the
training split only; build the model and its Lightning task; train with checkpoints, early
stopping and LR scheduling; write the model directory atomically.
"""

from __future__ import annotations

import logging
import random
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from textseq.callbacks import AveragedWeights, EpochSeeding, MetricsHistory
from textseq.config import (
    Config,
    LMConfig,
    TagConfig,
    TranslateConfig,
    dump_yaml,
    load_config,
    migrate,
    read_yaml,
)
from textseq.data.batching import EncodedDataset
from textseq.data.datamodule import TextDataModule
from textseq.data.readers import TextExample
from textseq.data.sources import load_examples, split_off
from textseq.errors import ConfigError, DataError, ModelDirError
from textseq.model_dir import REQUIRED_BY_TASK, partial_dir, publish, write_json, write_manifest
from textseq.models.classifier import build_text_classifier
from textseq.modules.embedding import PartlyTrainedEmbedding, train_only_rows
from textseq.tasks.classification import MONITOR_MODES, ClassificationTask
from textseq.text.pipeline import (
    TextPipeline,
    build_cleaner,
    load_pipeline,
    save_pipeline,
)
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import PAD, UNK, Vocabulary

log = logging.getLogger("textseq")


def train(
    config: str | Path | dict[str, Any] | Config | None = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    overwrite: bool = False,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Trains a model and returns the path of its finished model directory.

    Args:
        config: a YAML path, a dict, or a `Config`; with `resume` it may be omitted, and the
            run directory's own config.yaml is used.
        out: the model directory to write; default `runs/<config file stem>` (or `runs/model`).
        overrides: `dotted.key=value` strings applied on top of `config`.
        resume: a directory with a Lightning checkpoint: a finished model directory
            (`last.ckpt`) or an interrupted run (`<out>.partial`, `checkpoints/last.ckpt`).
            Training continues from it with its vocabulary.
        overwrite: replace `out` if it exists.
        callbacks: extra Lightning callbacks.
    """
    is_main = rank_zero_only.rank == 0
    resume_dir = Path(resume) if resume is not None else None
    checkpoint = _resume_checkpoint(resume_dir) if resume_dir is not None else None
    if config is None:
        if resume_dir is None:
            raise ConfigError("train needs a config (or --resume with a run directory)")
        config = migrate(read_yaml(resume_dir / "config.yaml"))
    cfg = load_config(config, list(overrides))
    final = _output_dir(out, config, resume_dir)
    work = partial_dir(final)
    if is_main:
        _check_output(final, work, resume_dir, overwrite=overwrite)
    if isinstance(cfg, LMConfig):
        from textseq.lm_training import train_language_model

        return train_language_model(
            cfg, final=final, resume_dir=resume_dir, checkpoint=checkpoint, callbacks=callbacks
        )
    if isinstance(cfg, TagConfig):
        from textseq.tag_training import train_tagger

        return train_tagger(
            cfg, final=final, resume_dir=resume_dir, checkpoint=checkpoint, callbacks=callbacks
        )
    if isinstance(cfg, TranslateConfig):
        from textseq.translate_training import train_translator

        return train_translator(
            cfg, final=final, resume_dir=resume_dir, checkpoint=checkpoint, callbacks=callbacks
        )

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.threads is not None:
        torch.set_num_threads(cfg.trainer.threads)
    train_examples, val_examples = _read_splits(cfg)
    # A resumed run takes its weights from the checkpoint: the vectors would only be overwritten.
    keyed_vectors = None if checkpoint else _configured_vectors(cfg)
    if resume_dir is not None:
        pipeline = load_text_pipeline(resume_dir, cfg)
        labels = Vocabulary.load(resume_dir / "labels.json")
        train_tokens, report = pipeline.tokenize_all([e.text for e in train_examples])
    else:
        pipeline, labels, train_tokens, report = _fit_pipeline(cfg, train_examples, keyed_vectors)
    for note in report.describe(cfg.data.max_length):
        log.warning("training data: %s", note)
    val_tokens, val_report = pipeline.tokenize_all([e.text for e in val_examples])
    for note in val_report.describe(cfg.data.max_length):
        log.warning("validation data: %s", note)
    train_ids = [pipeline.vocab.encode(t) for t in train_tokens]
    _warn_if_unk_is_never_trained(cfg, train_ids, pipeline.vocab.unk_index)
    train_set = EncodedDataset(train_ids, _label_ids(labels, train_examples))
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
    pretrained, coverage = _pretrained_vectors(cfg, pipeline.vocab, keyed_vectors)
    backbone = None
    if cfg.model.encoder.type == "pretrained":
        from textseq.text.pretrained import load_pretrained_encoder

        log.info("loading the pretrained encoder %s", cfg.model.encoder.pretrained)
        backbone = load_pretrained_encoder(cfg.model.encoder.pretrained)
    model = build_model(
        cfg,
        vocab=pipeline.vocab,
        num_labels=len(labels),
        pretrained=pretrained,
        backbone=backbone,
    )
    train_only_reachable_rows(cfg, model, train_ids, pipeline.vocab.unk_index)
    if is_main:
        _prepare_work_dir(work, resume_dir)
        (work / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
        save_pipeline(pipeline, work)
        if backbone is not None:  # its architecture, so the model loads without the source
            from textseq.text.pretrained import PRETRAINED_DIR

            backbone.config.save_pretrained(str(work / PRETRAINED_DIR))
        labels.save(work / "labels.json")
    task = ClassificationTask(
        model,
        num_labels=len(labels),
        optimizer=cfg.optim.optimizer,
        lr=cfg.optim.lr,
        embedding_lr_scale=cfg.optim.embedding_lr_scale,
        backbone_lr=cfg.optim.backbone_lr,
        weight_decay=cfg.optim.weight_decay,
        lr_factor=cfg.optim.lr_factor,
        lr_patience=cfg.optim.lr_patience,
        lr_decay_after=cfg.optim.lr_decay_after,
        monitor=cfg.trainer.monitor,
        class_weights=_class_weights(cfg, labels, train_examples),
    )
    datamodule = TextDataModule(
        train=train_set,
        val=val_set,
        pad_index=pipeline.vocab.pad_index,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        bucket=cfg.data.bucket,
        seed=cfg.seed,
        num_workers=cfg.data.num_workers,
    )
    return fit_and_publish(
        cfg,
        task,
        model,
        datamodule=datamodule,
        work=work,
        final=final,
        checkpoint=checkpoint,
        callbacks=callbacks,
        data={
            "train_examples": len(train_set),
            "val_examples": len(val_set),
            "labels": labels.itos,
            "vocab_size": len(pipeline.vocab),
            "truncated_train_texts": report.truncated,
            "vector_coverage": None if coverage is None else str(coverage),
        },
    )


def fit_and_publish(
    cfg: Config | LMConfig | TagConfig | TranslateConfig,
    task: pl.LightningModule,
    model: torch.nn.Module,
    *,
    datamodule: pl.LightningDataModule,
    work: Path,
    final: Path,
    checkpoint: str | None,
    callbacks: Sequence[pl.Callback] = (),
    data: dict[str, Any],
) -> Path:
    """The run choreography every task shares, once its data, model and work directory exist.

    Trains `task` (resuming from `checkpoint`), keeps the best validation's weights of `model`
    as `model.safetensors` and Lightning's `last.ckpt` for resuming, writes `metrics.json`
    (its `data` section is the task's own) and the manifest, then publishes `work` as `final`
    in one rename. Returns `final`; other DDP ranks return it without writing.
    """
    history = MetricsHistory()
    trainer, checkpointing = make_trainer(cfg, work, history=history, callbacks=callbacks)
    fit(
        trainer,
        task,
        datamodule=datamodule,
        checkpoint=checkpoint,
        work=work,
        compile_model=cfg.trainer.compile,
    )
    if not trainer.is_global_zero:
        return final
    if checkpointing.best_model_path:
        state = torch.load(checkpointing.best_model_path, map_location="cpu", weights_only=True)
        task.load_state_dict(state["state_dict"])
    _save_weights(model, work / "model.safetensors")
    last = Path(checkpointing.last_model_path or work / "checkpoints" / "last.ckpt")
    shutil.copyfile(last, work / "last.ckpt")
    shutil.rmtree(work / "checkpoints", ignore_errors=True)
    write_json(
        work / "metrics.json",
        _metrics_summary(
            history.epochs,
            history.validations,
            monitor=cfg.trainer.monitor,
            seconds=history.train_seconds,
            data=data,
        ),
    )
    write_manifest(work, task=cfg.task)
    publish(work, final)
    log.info("model written to %s", final)
    return final


def fit(
    trainer: pl.Trainer,
    task: pl.LightningModule,
    *,
    datamodule: pl.LightningDataModule,
    checkpoint: str | None,
    work: Path,
    compile_model: bool = False,
) -> None:
    """`trainer.fit`, resuming from `checkpoint` if given; when it fails after an epoch was
    saved, the error log names the command that continues the run. `compile_model`
    (`trainer.compile`) compiles the task's model in place with `torch.compile` (dynamic
    shapes: batches differ in size and length); its parameters and state-dict keys stay
    those of the plain model, so checkpoints and saved weights do not change."""
    if compile_model:
        task.model.compile(dynamic=True)
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    except BaseException:
        if trainer.is_global_zero and (work / "checkpoints" / "last.ckpt").is_file():
            log.error(
                "training stopped early; its last finished epoch is saved, continue with: "
                "textseq train --resume %s",
                work,
            )
        raise


def make_trainer(
    cfg: Config | LMConfig | TagConfig | TranslateConfig,
    work: Path,
    *,
    history: MetricsHistory,
    callbacks: Sequence[pl.Callback] = (),
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The Lightning trainer every task uses: seeded epochs, metrics history, best and last
    checkpoints under `work/checkpoints`, early stopping, clipping, CSV logs."""
    mode = MONITOR_MODES[cfg.trainer.monitor]
    checkpointing = ModelCheckpoint(
        dirpath=work / "checkpoints",
        filename="best",
        monitor=cfg.trainer.monitor,
        mode=mode,
        save_top_k=1,
        save_last=True,
        enable_version_counter=False,
    )
    all_callbacks: list[pl.Callback] = [EpochSeeding(cfg.seed), history, checkpointing]
    if cfg.trainer.ema_decay is not None:
        all_callbacks.append(AveragedWeights(cfg.trainer.ema_decay))
    if cfg.trainer.early_stopping_patience is not None:
        all_callbacks.append(
            EarlyStopping(
                monitor=cfg.trainer.monitor,
                mode=mode,
                patience=cfg.trainer.early_stopping_patience,
            )
        )
    all_callbacks.extend(callbacks)
    is_main = rank_zero_only.rank == 0
    trainer = pl.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        accelerator=cfg.trainer.accelerator,
        devices=cfg.trainer.devices,
        strategy=cfg.trainer.strategy,
        num_nodes=cfg.trainer.num_nodes,
        precision=cfg.trainer.precision,
        gradient_clip_val=cfg.optim.grad_clip_norm,
        gradient_clip_algorithm="norm",
        accumulate_grad_batches=cfg.trainer.accumulate_grad_batches,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        val_check_interval=cfg.trainer.val_check_interval,
        enable_progress_bar=cfg.trainer.progress_bar,
        enable_model_summary=is_main and cfg.trainer.progress_bar,
        callbacks=all_callbacks,
        logger=CSVLogger(save_dir=work, name="logs"),  # logs/version_N per (resumed) run
        use_distributed_sampler=False,
        default_root_dir=work,
    )
    return trainer, checkpointing


# --- steps ---------------------------------------------------------------------------------


def _output_dir(out, config, resume_dir: Path | None) -> Path:
    if out is not None:
        return Path(out)
    if resume_dir is not None:
        name = resume_dir.name.removesuffix(".partial")
        return resume_dir.with_name(name)
    stem = Path(config).stem if isinstance(config, str | Path) else "model"
    return Path("runs") / stem


def _resume_checkpoint(resume_dir: Path) -> str:
    for candidate in (resume_dir / "last.ckpt", resume_dir / "checkpoints" / "last.ckpt"):
        if candidate.is_file():
            task = (
                read_yaml(resume_dir / "config.yaml").get("task", "classify")
                if (resume_dir / "config.yaml").is_file()
                else "classify"
            )
            # The weights come from the checkpoint; the rest of a model directory must be there.
            for needed in ("config.yaml", "vocab.json", *REQUIRED_BY_TASK.get(task, ())):
                if not (resume_dir / needed).is_file():
                    raise ModelDirError(f"cannot resume from {resume_dir}: {needed} is missing")
            return str(candidate)
    raise ModelDirError(
        f"cannot resume from {resume_dir}: no last.ckpt (nor checkpoints/last.ckpt) in it"
    )


def _check_output(final: Path, work: Path, resume_dir: Path | None, *, overwrite: bool) -> None:
    resuming_in_place = resume_dir is not None and resume_dir.resolve() in (
        final.resolve(),
        work.resolve(),
    )
    if final.exists() and not overwrite and not resuming_in_place:
        raise ConfigError(f"{final} already exists; pass --overwrite or choose another --out")


def _prepare_work_dir(work: Path, resume_dir: Path | None) -> None:
    """An empty working directory, or the interrupted run's own when resuming it."""
    if resume_dir is not None and resume_dir.resolve() == work.resolve():
        return  # continue in the interrupted run's own directory
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)


def _read_splits(cfg: Config) -> tuple[list[TextExample], list[TextExample]]:
    columns = dict(text_column=cfg.data.text_column, label_column=cfg.data.label_column)
    train_examples = load_examples(cfg.data.train, **columns)
    if cfg.data.val is not None:
        val_examples = load_examples(cfg.data.val, **columns)
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
    train_examples = _sample(train_examples, cfg.data.limit_train, cfg.seed)
    val_examples = _sample(val_examples, cfg.data.limit_val, cfg.seed + 1)
    return train_examples, val_examples


def _sample(examples: list[TextExample], limit: int | None, seed: int) -> list[TextExample]:
    """A seeded random subset of `limit` examples, in their original order."""
    if limit is None or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def _sort_labels(labels: set[str]) -> list[str]:
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def _fit_pipeline(
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
    cleaner = build_cleaner(
        lowercase=cfg.text.lowercase,
        strip_html=cfg.text.strip_html,
        remove_urls=cfg.text.remove_urls,
    )
    if cfg.model.encoder.type == "pretrained":
        from textseq.text.pretrained import PretrainedTokenizer

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
        from textseq.vectors import vector_words

        vocab = vocab.extended(vector_words(keyed_vectors, lowercase=cfg.text.lowercase))
    pipeline = TextPipeline(cleaner, tokenizer, vocab, cfg.data.max_length)
    return pipeline, labels, train_tokens, report


def train_only_reachable_rows(
    cfg: Config | TagConfig,
    model: torch.nn.Module,
    train_ids: Iterable[Sequence[int]],
    unk_index: int | None,
) -> None:
    """With `model.words_from_vectors` and fine-tuned vectors, `model.embedding` becomes a
    `PartlyTrainedEmbedding` that trains only the rows the training texts (`train_ids`) and
    `<unk>` (which word dropout substitutes) can reach: the others, words only the vectors
    know, would get a zero gradient at every step. A resumed run, which loads no vectors,
    makes the same table, so its checkpoint's optimiser state fits."""
    embedding = cfg.model.embedding
    if (
        not cfg.model.words_from_vectors
        or embedding.vectors is None
        or embedding.freeze
        or cfg.model.encoder.type == "pretrained"
    ):
        return
    reachable = {i for ids in train_ids for i in ids}
    if unk_index is not None:
        reachable.add(unk_index)
    model.embedding = train_only_rows(model.embedding, reachable)
    if isinstance(model.embedding, PartlyTrainedEmbedding):
        log.info(
            "the embedding table trains the %s rows of words in the training data; its other "
            "%s rows (words only the vectors know) keep their vectors",
            f"{len(model.embedding.trained):,}",
            f"{len(model.embedding.fixed):,}",
        )


def _warn_if_unk_is_never_trained(
    cfg: Config, token_ids: Sequence[Sequence[int]], unk_index: int | None
) -> None:
    """Warns when no training token is `<unk>`: every word first met at test time would then
    share one vector that training never moved (on SST-2 dev, 58% of sentences have one)."""
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


def load_text_pipeline(directory: Path, cfg: Config) -> TextPipeline:
    """The text pipeline saved in a model or run directory, for the model `cfg` describes."""
    if cfg.model.encoder.type != "pretrained":
        return load_pipeline(directory, cfg.text, max_length=cfg.data.max_length)
    from textseq.text.pretrained import PretrainedTokenizer

    cleaner = build_cleaner(
        lowercase=cfg.text.lowercase,
        strip_html=cfg.text.strip_html,
        remove_urls=cfg.text.remove_urls,
    )
    tokenizer = PretrainedTokenizer.load_saved(directory, max_length=cfg.data.max_length)
    return TextPipeline(cleaner, tokenizer, tokenizer.vocabulary())


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


def _configured_vectors(cfg: Config | LMConfig | TagConfig):
    """The word vectors `model.embedding` names (gensim `KeyedVectors`), or None."""
    embedding = cfg.model.embedding
    if embedding.vectors is None or cfg.model.encoder.type == "pretrained":
        return None
    from textseq.vectors import load_configured_vectors

    return load_configured_vectors(embedding.vectors, embedding.vectors_format, embedding.dim)


def _pretrained_vectors(cfg: Config, vocab: Vocabulary, keyed_vectors):
    """`vocab`'s embedding matrix from `keyed_vectors` and its coverage, or (None, None)."""
    if keyed_vectors is None:
        return None, None
    from textseq.vectors import embedding_matrix

    matrix, coverage = embedding_matrix(
        vocab, keyed_vectors, unknown_init=cfg.model.embedding.unknown_init, seed=cfg.seed
    )
    log.info("word vectors cover %s", coverage)
    return matrix, coverage


def build_model(
    cfg: Config,
    *,
    vocab: Vocabulary,
    num_labels: int,
    pretrained: torch.Tensor | None = None,
    backbone: torch.nn.Module | None = None,
) -> torch.nn.Module:
    """The classifier `cfg.model` describes, for `vocab` and `num_labels` outputs.

    `pretrained` are word vectors for the embedding table (rnn and transformer encoders);
    `backbone` is the Hugging Face encoder of `model.encoder.type: pretrained`.
    """
    m = cfg.model
    if m.encoder.type == "pretrained":
        if backbone is None:
            raise ValueError("model.encoder.type pretrained needs the backbone encoder")
        from textseq.models.pretrained_classifier import build_pretrained_classifier

        return build_pretrained_classifier(
            backbone=backbone,
            num_labels=num_labels,
            pooling=m.pooling.type,
            pooling_attention_dim=m.pooling.attention_dim,
            pooling_num_heads=m.pooling.num_heads,
            head_hidden_size=m.head.hidden_size,
            head_dropout=m.head.dropout,
        )
    if m.encoder.type == "transformer":
        from textseq.models.transformer_classifier import build_transformer_classifier

        return build_transformer_classifier(
            vocab_size=len(vocab),
            num_labels=num_labels,
            pad_index=vocab.pad_index,
            embedding_dim=m.embedding.dim,
            pretrained=pretrained,
            freeze_embeddings=m.embedding.freeze,
            embedding_dropout=m.embedding.dropout,
            word_dropout=m.embedding.word_dropout,
            unk_index=vocab.unk_index,
            num_layers=m.encoder.num_layers,
            num_heads=m.encoder.num_heads,
            ff_dim=m.encoder.ff_dim,
            dropout=m.encoder.dropout,
            norm_first=m.encoder.norm_first,
            activation=m.encoder.activation,
            positional=m.encoder.positional,
            max_positions=m.encoder.max_positions,
            pooling=m.pooling.type,
            pooling_attention_dim=m.pooling.attention_dim,
            pooling_num_heads=m.pooling.num_heads,
            head_hidden_size=m.head.hidden_size,
            head_dropout=m.head.dropout,
        )
    return build_text_classifier(
        vocab_size=len(vocab),
        num_labels=num_labels,
        pad_index=vocab.pad_index,
        embedding_dim=m.embedding.dim,
        pretrained=pretrained,
        freeze_embeddings=m.embedding.freeze,
        embedding_dropout=m.embedding.dropout,
        word_dropout=m.embedding.word_dropout,
        unk_index=vocab.unk_index,
        cell=m.encoder.cell,
        hidden_size=m.encoder.hidden_size,
        num_layers=m.encoder.num_layers,
        bidirectional=m.encoder.bidirectional,
        dropout=m.encoder.dropout,
        packed=m.encoder.packed,
        pooling=m.pooling.type,
        pooling_attention_dim=m.pooling.attention_dim,
        pooling_num_heads=m.pooling.num_heads,
        head_hidden_size=m.head.hidden_size,
        head_dropout=m.head.dropout,
    )


def _save_weights(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_model

    from textseq import __version__
    from textseq.model_dir import FORMAT_VERSION

    save_model(
        model,
        str(path),
        metadata={"textseq_version": __version__, "format_version": str(FORMAT_VERSION)},
    )


def _metrics_summary(
    epochs: list[dict[str, float]],
    validations: list[dict[str, float]],
    *,
    monitor: str,
    seconds: float,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The best validation (the one whose weights are saved) and the per-epoch history.

    `best_epoch` is the fraction of training done at that validation: a whole number unless
    `trainer.val_check_interval` validates inside epochs.
    """
    scored = [row for row in validations or epochs if monitor in row]
    best = None
    if scored:
        pick = max if MONITOR_MODES[monitor] == "max" else min
        best = pick(scored, key=lambda row: row[monitor])
    best_epoch = None if best is None else best["epoch"]
    if best_epoch is not None and float(best_epoch).is_integer():
        best_epoch = int(best_epoch)
    return {
        "monitor": monitor,
        "best_epoch": best_epoch,
        "best": None if best is None else {k: v for k, v in best.items() if k != "epoch"},
        "train_seconds": round(seconds, 2),
        "epochs": epochs,
        "validations": validations,
        "data": data,
    }
