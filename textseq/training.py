"""`train`: config in, finished model directory out, for any task in `textseq.tasks.TASKS`.

The steps, in order: seed and threads; the task's recipe prepares the data, the model and its
Lightning system (`Task.prepare`); the work directory `<out>.partial` receives the config and
the task's files; Lightning trains with checkpoints, early stopping and LR scheduling; the best
weights, metrics and manifest are written and the directory is published in one rename.

This module knows no task: the table passed to `train` (`textseq.train` passes
`textseq.tasks.TASKS`) holds them.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger

from textseq.callbacks import AveragedWeights, EpochSeeding, MetricsHistory, console_callbacks
from textseq.checkpointing import (
    AtomicCheckpointIO,
    EpochEndSchedulers,
    MidEpochState,
    NonFiniteGuard,
    ResumeOverrides,
    RunLock,
    best_checkpointing,
    check_finite,
    check_resume_overrides,
    checkpoint_dir,
    epoch_checkpointing,
    refused_checkpoint,
    resumable_checkpoint,
    run_name,
    unwritable,
    validation_checkpointing,
)
from textseq.config import dump_yaml, load_config, migrate, read_yaml
from textseq.errors import ConfigError, ModelDirError
from textseq.model_dir import (
    MANIFEST,
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
    keep_checkpoint: bool = True,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Trains a model and returns the path of its finished model directory.

    Args:
        config: a YAML path, a dict, or a config object; with `resume` it may be omitted, and
            the run's own config.yaml is used.
        tasks: the task table (`textseq.tasks.TASKS`): the config's `task` key picks the row.
        out: the model directory to write; default `runs/<config file stem>` (or `runs/model`).
        overrides: `dotted.key=value` strings applied on top of `config`; when resuming only
            `RESUMABLE_OVERRIDES` may change.
        resume: a run to continue from its newest epoch checkpoint (in `DIR.ckpt`): its model
            directory `DIR`, its work directory `DIR.partial` or `DIR.ckpt` itself. Training
            continues with its vocabulary; the run ends as the uninterrupted one would have.
        overwrite: replace `out` (and an interrupted run of it) if it exists.
        keep_checkpoint: keep `DIR.ckpt` beside the published `DIR`, so the run can be extended.
        callbacks: extra Lightning callbacks.
    """
    is_main = rank_zero_only.rank == 0
    schemas = {name: task.schema for name, task in tasks.items()}
    source = saved = None
    if resume is not None:
        source = _resume_source(run_name(Path(resume)))
        saved = migrate(read_yaml(source / "config.yaml"), schemas)
    if config is None:
        if saved is None:
            raise ConfigError("train needs a config (or --resume with a run directory)")
        config = saved
    cfg = load_config(config, list(overrides), schemas=schemas)
    task = tasks[cfg.task]
    final = _output_dir(out, config, source)
    work, checkpoints = partial_dir(final), checkpoint_dir(final)
    checkpoint = None
    if source is not None:
        changed = check_resume_overrides(load_config(saved, [], schemas=schemas), cfg)
        patience = cfg.trainer.early_stopping_patience
        callbacks = [*callbacks, ResumeOverrides(changed, cfg.optim, patience)]
        checkpoint = _resume_checkpoint(run_name(Path(resume)), source, task.files, checkpoints)
    with RunLock(final) if is_main else contextlib.nullcontext():
        if is_main:
            _check_output(final, source, overwrite=overwrite)
        check_trainer_settings(cfg)
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        if cfg.trainer.threads is not None:
            torch.set_num_threads(cfg.trainer.threads)
        prepared = task.prepare(cfg, resume_dir=source, checkpoint=checkpoint)
        if is_main:
            _prepare_work_dir(work, source, checkpoints)
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
            keep_checkpoint=keep_checkpoint,
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
    keep_checkpoint: bool = True,
) -> Path:
    """The run choreography every task shares, once its data, model and work directory exist.

    Trains `system` (resuming from `checkpoint`) with its epoch and best checkpoints in
    `final`'s `.ckpt` directory, keeps the best validation's weights of `model` as
    `model.safetensors` (refusing non-finite ones), writes `metrics.json` (its `data` section
    is the task's own) and the manifest, then publishes `work` as `final` in one rename and
    deletes the `.ckpt` directory unless `keep_checkpoint`. Returns `final`; other DDP ranks
    return it without writing.
    """
    checkpoints = checkpoint_dir(final)
    history = MetricsHistory()
    trainer, best = make_trainer(
        cfg, work, history=history, callbacks=callbacks, checkpoints=checkpoints
    )
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
    if best.best_model_path and Path(best.best_model_path).is_file():
        state = _load_checkpoint(best.best_model_path)
        system.load_state_dict(state["state_dict"])
    check_finite(model)
    save_weights(model, work / "model.safetensors")
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
    if not keep_checkpoint:
        shutil.rmtree(checkpoints, ignore_errors=True)
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
    """`trainer.fit`, resuming from `checkpoint` if given (read with `weights_only=True`: a
    checkpoint holding other objects is refused with a clear error); when it fails after an
    epoch was saved, the error log names the command that continues the run.
    `compile_model` (`trainer.compile`) compiles the system's model in place with
    `torch.compile` (dynamic shapes: batches differ in size and length); its parameters and
    state-dict keys stay those of the plain model, so checkpoints and saved weights do not
    change."""
    if compile_model:
        system.model.compile(dynamic=True)
    try:
        trainer.fit(system, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    except pickle.UnpicklingError as error:
        raise refused_checkpoint(checkpoint, error) from None
    except BaseException:
        if trainer.is_global_zero and resumable_checkpoint(checkpoint_dir(run_name(work))):
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
    checkpoints: Path | None = None,
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The Lightning trainer every task uses: seeded epochs, metrics history, per-epoch LR
    steps, a guard against divergence, a resumable checkpoint after every epoch and the best
    weights under `checkpoints` (default: beside the model directory `work` becomes), early
    stopping, clipping, the loggers of `trainer.logger` (CSV by default). Returns the trainer
    and its best-weights checkpoint."""
    mode = MONITOR_MODES[cfg.trainer.monitor]
    checkpoints = checkpoints or checkpoint_dir(run_name(work))
    best = best_checkpointing(checkpoints, monitor=cfg.trainer.monitor, mode=mode)
    all_callbacks: list[pl.Callback] = [
        EpochSeeding(cfg.seed),
        MidEpochState(),
        history,
        EpochEndSchedulers(),
        NonFiniteGuard(),
        best,
        epoch_checkpointing(checkpoints),
    ]
    if cfg.trainer.val_check_interval < 1:
        all_callbacks.append(validation_checkpointing(checkpoints))
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
    if is_main and cfg.trainer.progress_bar:
        all_callbacks.extend(console_callbacks())
    with _trainer_settings_named(cfg):
        trainer = _trainer(cfg, work, all_callbacks, is_main=is_main)
    return trainer, best


def check_trainer_settings(cfg: Any) -> None:
    """ConfigError, before any data is read, when Lightning cannot run `cfg.trainer`'s
    accelerator, devices, strategy, nodes and precision on this machine."""
    with _trainer_settings_named(cfg):
        pl.Trainer(
            accelerator=cfg.trainer.accelerator,
            devices=cfg.trainer.devices,
            strategy=cfg.trainer.strategy,
            num_nodes=cfg.trainer.num_nodes,
            precision=cfg.trainer.precision,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )


@contextlib.contextmanager
def _trainer_settings_named(cfg: Any) -> Iterator[None]:
    try:
        yield
    except (MisconfigurationException, ValueError, TypeError, RuntimeError) as error:
        # e.g. accelerator gpu on a machine without one, more devices than it has, or
        # devices that name none (Lightning raises TypeError for `devices: abc` on the CPU)
        raise ConfigError(
            f"trainer.accelerator {cfg.trainer.accelerator!r}, devices {cfg.trainer.devices!r}, "
            f"strategy {cfg.trainer.strategy!r}, precision {cfg.trainer.precision!r}: "
            f"{str(error).splitlines()[0]}"
        ) from None


def _trainer(cfg: Any, work: Path, callbacks: list[pl.Callback], *, is_main: bool) -> pl.Trainer:
    return pl.Trainer(
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
        callbacks=callbacks,
        logger=loggers(cfg, work),  # a version folder per (resumed) run
        plugins=[AtomicCheckpointIO()],
        use_distributed_sampler=False,
        default_root_dir=work,
    )


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


def _output_dir(out, config, source: Path | None) -> Path:
    if out is not None:
        return Path(out)
    if source is not None:
        return run_name(source)
    stem = Path(config).stem if isinstance(config, str | Path) else "model"
    return Path("runs") / stem


def _resume_source(run: Path) -> Path:
    """The directory whose config and vocabularies a resumed run takes: the interrupted work
    directory `run.partial` when it holds them, else the finished model directory `run`."""
    for candidate in (partial_dir(run), run):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise ModelDirError(
        f"cannot resume {run}: neither it nor {partial_dir(run)} holds a run's config.yaml"
    )


def _resume_checkpoint(run: Path, source: Path, files: Sequence[str], checkpoints: Path) -> str:
    """The newest complete epoch checkpoint of `run`, copied into `checkpoints` first when the
    run continues under another name."""
    for needed in ("vocab.json", *files):
        if not (source / needed).is_file():
            raise ModelDirError(f"cannot resume from {source}: {needed} is missing")
    found = resumable_checkpoint(checkpoint_dir(run))
    if found is None:
        raise ModelDirError(
            f"cannot resume {run}: {checkpoint_dir(run)} holds no complete epoch checkpoint "
            "(was the run trained without keeping it, or deleted?)"
        )
    if checkpoint_dir(run).resolve() != checkpoints.resolve():
        shutil.copytree(checkpoint_dir(run), checkpoints, dirs_exist_ok=True)
        found = checkpoints / found.name
    log.info("resuming from %s", found)
    return str(found)


def _check_output(final: Path, source: Path | None, *, overwrite: bool) -> None:
    """A fresh run (no `source`) neither replaces a model nor an interrupted run of it
    without `overwrite`; a resumed one continues its own."""
    if source is not None and run_name(source).resolve() == final.resolve():
        return
    work, checkpoints = partial_dir(final), checkpoint_dir(final)
    if overwrite:
        return
    if final.exists():
        raise ConfigError(f"{final} already exists; pass --overwrite or choose another --out")
    if work.exists() or resumable_checkpoint(checkpoints) is not None:
        raise ConfigError(
            f"{work} holds an interrupted run of {final}; continue it with `textseq train "
            f"--resume {work}`, or pass --overwrite to start again"
        )


def _prepare_work_dir(work: Path, source: Path | None, checkpoints: Path) -> None:
    """The work directory: the interrupted run's own when resuming it; a copy of the finished
    model directory (its logs continue) when extending that; else an empty one, with no
    checkpoints left from an earlier run."""
    if source is not None and source.resolve() == work.resolve():
        return  # continue in the interrupted run's own directory
    try:
        if work.exists():
            shutil.rmtree(work)
        if source is not None:
            shutil.copytree(source, work, ignore=shutil.ignore_patterns(MANIFEST))
        else:
            shutil.rmtree(checkpoints, ignore_errors=True)
            work.mkdir(parents=True)
    except OSError as error:
        raise unwritable(work.parent, error) from None


def _load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise refused_checkpoint(path, error) from None


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
