"""The model directory: what a trained model is on disk, and how it is checked.

    textseq.json        manifest: format version, textseq version, task (written last)
    config.yaml         the resolved config the model was trained with
    vocab.json          token vocabulary (the source side's, for translation)
    tgt_vocab.json      target vocabulary (translation only)
    labels.json         label names, in output order (classifiers only)
    chars.json          character vocabulary (taggers only)
    tags.json           tag names, in output order (taggers only)
    tokenizer.json      the trained subword tokenizer (BPE models only)
    pretrained/         a pretrained encoder's tokenizer files and config.json (its weights
                        are in model.safetensors with the rest)
    model.safetensors   weights of the best epoch
    metrics.json        per-epoch metrics, best epoch, data report
    last.ckpt           Lightning checkpoint of the last epoch, for --resume

Directories are built under `<name>.partial/` and renamed into place in one step, so a reader
never sees a half-written model. Nothing here is unpickled: weights come from safetensors and
the rest is JSON or YAML.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from textseq.errors import ModelDirError

MANIFEST = "textseq.json"
FORMAT = "textseq.model"
FORMAT_VERSION = 1
REQUIRED = ("config.yaml", "vocab.json", "model.safetensors")
REQUIRED_BY_TASK = {
    "classify": ("labels.json",),
    "lm": (),
    "tag": ("chars.json", "tags.json"),
    "translate": ("tgt_vocab.json",),
}


def required_files(task: str) -> tuple[str, ...]:
    """The files a finished model directory of `task` must hold."""
    return REQUIRED + REQUIRED_BY_TASK.get(task, ())


def partial_dir(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_manifest(directory: Path, *, task: str) -> None:
    from textseq import __version__

    write_json(
        directory / MANIFEST,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "textseq_version": __version__,
            "task": task,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def check_model_dir(directory: str | Path) -> dict[str, Any]:
    """The manifest of a complete model directory this textseq can read; ModelDirError else."""
    directory = Path(directory)
    if not directory.is_dir():
        partial = partial_dir(directory)
        hint = (
            f"; {partial} holds an unfinished run (resume it with `textseq train --resume "
            f"{partial}`)"
            if partial.is_dir()
            else ""
        )
        raise ModelDirError(f"no such model directory: {directory}{hint}")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelDirError(
            f"{directory} is not a finished textseq model directory ({MANIFEST} is missing)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelDirError(f"{manifest_path} is damaged: {error}") from None
    if manifest.get("format") != FORMAT:
        raise ModelDirError(f"{manifest_path} does not describe a textseq model")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        from textseq import __version__

        raise ModelDirError(
            f"{directory} was written by textseq {manifest.get('textseq_version', '?')} "
            f"(model format {version}); this is textseq {__version__}, which reads format "
            f"{FORMAT_VERSION} and older: upgrade textseq to load it"
        )
    task = manifest.get("task", "classify")
    if task not in REQUIRED_BY_TASK:
        raise ModelDirError(f"{directory} holds a {task!r} model, which this textseq cannot load")
    missing = [name for name in required_files(task) if not (directory / name).is_file()]
    if missing:
        raise ModelDirError(f"{directory} is incomplete: missing {', '.join(missing)}")
    return manifest


def publish(partial: Path, final: Path) -> None:
    """Moves a finished `partial` directory to `final`, replacing an older `final` if any;
    readers see either the old directory or the new one, never a mixture."""
    if final.exists():
        retired = final.with_name(f"{final.name}.old-{os.getpid()}")
        final.rename(retired)
        partial.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        partial.rename(final)
