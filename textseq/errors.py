"""Errors a user can act on. The CLI prints them as one clear line, without a traceback."""

from __future__ import annotations

from pathlib import Path


class TextseqError(Exception):
    """Base class of every error caused by input, configuration or files rather than by a bug."""


class ConfigError(TextseqError):
    """A configuration key or value is invalid."""


class DataError(TextseqError):
    """A data file or text is unusable. The message names the file and line when there is one."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}, line {line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class ModelDirError(TextseqError):
    """A model directory is missing files, is incomplete, or was written by a newer textseq."""


class ExportError(TextseqError):
    """An export that cannot be made or failed its parity check (nothing was written). Raised
    by `textseq.export` and by the tasks' export adapters (`Task.exporter`), hence here."""


class UsageError(TextseqError):
    """A command-line option or argument that cannot work as given (a count below 1, options
    that exclude each other, a verb the model's task does not have): exit status 2 on the CLI,
    like argparse's own usage errors, where other TextseqErrors (bad data, config or model
    directory) exit with 3."""
