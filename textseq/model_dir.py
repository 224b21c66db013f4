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
    logs/               Lightning's CSV logs, one version per (resumed) invocation

The manifest holds the sha256 of every other file, checked on load (TEXTSEQ_NO_VERIFY=1,
the CLI's --no-verify, skips it). The resumable training state is not in the directory but
beside it, in `<name>.ckpt/` (see `textseq.checkpointing`): a model directory holds no pickle.

Directories are built under `<name>.partial/` and renamed into place in one step, so a reader
never sees a half-written model. Nothing here is unpickled: weights come from safetensors and
the rest is JSON or YAML.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textseq.atomic import write_atomically
from textseq.config.base import DEFAULT_TASK
from textseq.errors import ModelDirError
from textseq.version import __version__

if TYPE_CHECKING:
    from torch import nn

MANIFEST = "textseq.json"
FORMAT = "textseq.model"
FORMAT_VERSION = 1
# Every model directory holds these; a task's own files are listed in its row of
# `textseq.tasks.TASKS` (`Task.files`).
REQUIRED = ("config.yaml", "vocab.json", "model.safetensors")


def partial_dir(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_weights(model: nn.Module, path: Path) -> None:
    """`model`'s state as safetensors, with the textseq and format versions as metadata,
    written atomically with mode 0644 less the umask. The same weights always make the same
    bytes: safetensors writes its metadata in hash order, so the header is rewritten with
    sorted keys (same length, same offsets)."""
    from safetensors.torch import save_model

    def write(temporary: Path) -> None:
        save_model(
            model,
            str(temporary),
            metadata={"textseq_version": __version__, "format_version": str(FORMAT_VERSION)},
        )
        with open(temporary, "r+b") as file:
            size = struct.unpack("<Q", file.read(8))[0]
            header = json.loads(file.read(size))
            canonical = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
            file.seek(8)
            file.write(canonical.ljust(size))

    write_atomically(path, write, mode=0o644 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_weights(model: nn.Module, directory: Path) -> None:
    """Fills `model` with the weights of `directory/model.safetensors`, all of them and nothing
    else; ModelDirError when they do not fit the model the directory's config describes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    path = directory / "model.safetensors"
    try:
        load_model(model, str(path), strict=True, device="cpu")
    except (SafetensorError, RuntimeError, OSError) as error:
        raise ModelDirError(
            f"{path} does not fit the model its config describes: {error}"
        ) from None
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not tensor.isfinite().all():
            raise ModelDirError(f"{path}: the weight {name} is not finite (NaN or infinity)")


def write_manifest(directory: Path, *, task: str) -> None:
    """The manifest, written last: versions, task, and the sha256 of every other file, which
    `check_model_dir` checks so that a changed file (swapped labels, other weights) is
    reported by name instead of silently changing every prediction."""
    write_json(
        directory / MANIFEST,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "textseq_version": __version__,
            "task": task,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sha256": file_digests(directory),
        },
    )


def file_digests(directory: Path) -> dict[str, str]:
    """The sha256 of each file under `directory` but the manifest, by relative path."""
    digests = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_file() and name != MANIFEST:
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            digests[name] = digest.hexdigest()
    return digests


def verifying() -> bool:
    """Whether loading checks the files' sha256 sums: yes unless TEXTSEQ_NO_VERIFY is 1 (what
    the CLI's --no-verify sets)."""
    return os.environ.get("TEXTSEQ_NO_VERIFY", "") != "1"


def _check_digests(directory: Path, expected: dict[str, str]) -> None:
    actual = file_digests(directory)
    changed = [name for name, digest in expected.items() if actual.get(name, digest) != digest]
    if changed:
        raise ModelDirError(
            f"{directory}: {', '.join(changed)} changed since the model was written (its "
            f"sha256 differs from {MANIFEST}'s); restore it, or load with --no-verify"
        )


def check_model_dir(
    directory: str | Path, task_files: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The manifest of a complete model directory this textseq can read; ModelDirError else.

    `task_files` maps each task this textseq knows to the files its directories hold besides
    `REQUIRED`."""
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
        raise ModelDirError(
            f"{directory} was written by textseq {manifest.get('textseq_version', '?')} "
            f"(model format {version}); this is textseq {__version__}, which reads format "
            f"{FORMAT_VERSION} and older: upgrade textseq to load it"
        )
    task = manifest.get("task", DEFAULT_TASK)
    if task not in task_files:
        raise ModelDirError(f"{directory} holds a {task!r} model, which this textseq cannot load")
    missing = [name for name in (*REQUIRED, *task_files[task]) if not (directory / name).is_file()]
    missing += [n for n in manifest.get("sha256", {}) if not (directory / n).is_file()]
    if missing:
        raise ModelDirError(f"{directory} is incomplete: missing {', '.join(sorted(set(missing)))}")
    if verifying() and isinstance(manifest.get("sha256"), dict):
        _check_digests(directory, manifest["sha256"])
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
