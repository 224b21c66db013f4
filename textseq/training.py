"""`train`: config in, finished model directory out, for any task in `textseq.tasks.TASKS`.

The steps, in order: seed and threads; the task's recipe prepares the data, the model and its
Lightning system (`Task.prepare`); the work directory `<out>.partial` receives the config and
the task's files; Lightning trains with checkpoints, early stopping and LR scheduling; the best
weights, metrics and manifest are written and the directory is published in one rename.

This module knows no task: the table passed to `train` (`textseq.train` passes
`textseq.tasks.TASKS`) holds them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger

from textseq.callbacks import AveragedWeights, EpochSeeding, MetricsHistory, console_callbacks
from textseq.config import dump_yaml, load_config, migrate, read_yaml
from textseq.config.base import DEFAULT_TASK
from textseq.errors import ConfigError, ModelDirError
from textseq.model_dir import (
    partial_dir,
    publish,
    save_weights,
    write_json,
    write_manifest,
)
from textseq.modules.embedding import PartlyTrainedEmbedding, train_only_rows
from textseq.optim import MONITOR_MODES

log = logging.getLogger("textseq")


def train(
    config: str | Path | dict[str, Any] | Any | None = None,
    *,
    tasks: Mapping[str, Any],
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    overwrite: bool = False,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Trains a model and returns the path of its finished model directory.

    Args:
        config: a YAML path, a dict, or a config object; with `resume` it may be omitted, and
            the run directory's own config.yaml is used.
        tasks: the task table (`textseq.tasks.TASKS`): the config's `task` key picks the row.
        out: the model directory to write; default `runs/<config file stem>` (or `runs/model`).
        overrides: `dotted.key=value` strings applied on top of `config`.
        resume: a directory with a Lightning checkpoint: a finished model directory
            (`last.ckpt`) or an interrupted run (`<out>.partial`, `checkpoints/last.ckpt`).
            Training continues from it with its vocabulary.
        overwrite: replace `out` if it exists.
        callbacks: extra Lightning callbacks.
    """
    is_main = rank_zero_only.rank == 0
    schemas = {name: task.config for name, task in tasks.items()}
    resume_dir = Path(resume) if resume is not None else None
    checkpoint = _resume_checkpoint(resume_dir, tasks) if resume_dir is not None else None
    if config is None:
        if resume_dir is None:
            raise ConfigError("train needs a config (or --resume with a run directory)")
        config = migrate(read_yaml(resume_dir / "config.yaml"), schemas)
    cfg = load_config(config, list(overrides), schemas=schemas)
    task = tasks[cfg.task]
    final = _output_dir(out, config, resume_dir)
    work = partial_dir(final)
    if is_main:
        _check_output(final, work, resume_dir, overwrite=overwrite)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.threads is not None:
        torch.set_num_threads(cfg.trainer.threads)
    prepared = task.prepare(cfg, resume_dir=resume_dir, checkpoint=checkpoint)
    if is_main:
        _prepare_work_dir(work, resume_dir)
        (work / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
        prepared.save(work)
    return fit_and_publish(
        cfg,
        prepared.system,
        prepared.model,
        datamodule=prepared.datamodule,
        work=work,
        final=final,
        checkpoint=checkpoint,
        callbacks=callbacks,
        data=prepared.data,
    )


def fit_and_publish(
    cfg: Any,
    system: pl.LightningModule,
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

    Trains `system` (resuming from `checkpoint`), keeps the best validation's weights of `model`
    as `model.safetensors` and Lightning's `last.ckpt` for resuming, writes `metrics.json`
    (its `data` section is the task's own) and the manifest, then publishes `work` as `final`
    in one rename. Returns `final`; other DDP ranks return it without writing.
    """
    history = MetricsHistory()
    trainer, checkpointing = make_trainer(cfg, work, history=history, callbacks=callbacks)
    fit(
        trainer,
        system,
        datamodule=datamodule,
        checkpoint=checkpoint,
        work=work,
        compile_model=cfg.trainer.compile,
    )
    if not trainer.is_global_zero:
        return final
    if checkpointing.best_model_path:
        state = torch.load(checkpointing.best_model_path, map_location="cpu", weights_only=True)
        system.load_state_dict(state["state_dict"])
    save_weights(model, work / "model.safetensors")
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
    system: pl.LightningModule,
    *,
    datamodule: pl.LightningDataModule,
    checkpoint: str | None,
    work: Path,
    compile_model: bool = False,
) -> None:
    """`trainer.fit`, resuming from `checkpoint` if given; when it fails after an epoch was
    saved, the error log names the command that continues the run. `compile_model`
    (`trainer.compile`) compiles the system's model in place with `torch.compile` (dynamic
    shapes: batches differ in size and length); its parameters and state-dict keys stay
    those of the plain model, so checkpoints and saved weights do not change."""
    if compile_model:
        system.model.compile(dynamic=True)
    try:
        trainer.fit(system, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    except BaseException:
        if trainer.is_global_zero and (work / "checkpoints" / "last.ckpt").is_file():
            log.error(
                "training stopped early; its last finished epoch is saved, continue with: "
                "textseq train --resume %s",
                work,
            )
        raise


def make_trainer(
    cfg: Any,
    work: Path,
    *,
    history: MetricsHistory,
    callbacks: Sequence[pl.Callback] = (),
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The Lightning trainer every task uses: seeded epochs, metrics history, best and last
    checkpoints under `work/checkpoints`, early stopping, clipping, the loggers of
    `trainer.logger` (CSV by default)."""
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
    shown = is_main and cfg.trainer.progress_bar
    if shown:
        all_callbacks.extend(console_callbacks())
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
        enable_model_summary=shown,
        callbacks=all_callbacks,
        logger=loggers(cfg, work),
        use_distributed_sampler=False,
        default_root_dir=work,
    )
    return trainer, checkpointing


def loggers(cfg: Any, work: Path) -> list[Logger]:
    """Lightning's loggers named by `trainer.logger`, all writing under `work` (one version
    folder per (resumed) run), each told the run's hyperparameters: the whole config."""
    names = [cfg.trainer.logger] if isinstance(cfg.trainer.logger, str) else cfg.trainer.logger
    made: list[Logger] = []
    for name in dict.fromkeys(names):
        try:
            if name == "csv":
                made.append(CSVLogger(save_dir=work, name="logs"))
            elif name == "tensorboard":
                made.append(TensorBoardLogger(save_dir=work, name="tensorboard"))
            else:
                uri = (work / "mlruns").resolve().as_uri()
                made.append(MLFlowLogger(experiment_name="textseq", tracking_uri=uri))
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"trainer.logger {name}: {error.msg or error}; install it or choose csv"
            ) from None
    hyperparameters = _flat(cfg.model_dump(mode="json"))
    for logger in made:
        logger.log_hyperparams(hyperparameters)
    return made


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"optim": {"lr": 0.1}}` as `{"optim.lr": 0.1}`; lists as strings."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value) if isinstance(value, list | tuple) else value
    return flat


# --- steps ---------------------------------------------------------------------------------


def _output_dir(out, config, resume_dir: Path | None) -> Path:
    if out is not None:
        return Path(out)
    if resume_dir is not None:
        name = resume_dir.name.removesuffix(".partial")
        return resume_dir.with_name(name)
    stem = Path(config).stem if isinstance(config, str | Path) else "model"
    return Path("runs") / stem


def _resume_checkpoint(resume_dir: Path, tasks: Mapping[str, Any]) -> str:
    for candidate in (resume_dir / "last.ckpt", resume_dir / "checkpoints" / "last.ckpt"):
        if candidate.is_file():
            name = (
                read_yaml(resume_dir / "config.yaml").get("task", DEFAULT_TASK)
                if (resume_dir / "config.yaml").is_file()
                else DEFAULT_TASK
            )
            files = tasks[name].files if name in tasks else ()
            # The weights come from the checkpoint; the rest of a model directory must be there.
            for needed in ("config.yaml", "vocab.json", *files):
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


def train_only_reachable_rows(
    cfg: Any,
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
    if not cfg.model.words_from_vectors or embedding.vectors is None or embedding.freeze:
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
