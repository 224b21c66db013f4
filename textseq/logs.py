"""Where textseq's messages go: the `textseq` logger, on stderr.

The CLI sets the level (`-q`: errors only, `-v`: debug) for the length of one command with
`configured`, which puts the loggers and Python's warning filters back as they were when the
command ends, so that a program that calls `textseq.cli.main` and then the Python API (as the
tests do) sees no change of its own settings. Used from Python,
`textseq.train` and `textseq.load` call `default_handler`, which (as Lightning does for its own
logger) gives the `textseq` logger a stderr handler at INFO only when neither it nor the root
logger has one: an application that configures `logging` itself keeps full control.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator

LOGGER = "textseq"
# Lightning's loggers: its own messages ("GPU available", "`Trainer.fit` stopped", the model
# summary) and those of the Fabric it is built on. Importing Lightning sets its top loggers
# to INFO again, so the loggers its rank-zero messages go through are set by name too.
LIGHTNING = (
    *("lightning.pytorch", "lightning.fabric", "lightning"),
    *("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"),
    "lightning.pytorch.callbacks.model_summary",
)
FORMAT = "textseq: %(message)s"


@contextlib.contextmanager
def configured(*, quiet: bool = False, verbose: bool = False) -> Iterator[None]:
    """The CLI's logging for the commands run inside (see `configure`); on leaving, the
    `textseq` and Lightning loggers get back their handlers, levels and propagation, and the
    warning filters are those from before."""
    loggers = [logging.getLogger(name) for name in (LOGGER, *LIGHTNING)]
    saved = [(logger, list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    try:
        with warnings.catch_warnings():
            configure(quiet=quiet, verbose=verbose)
            yield
    finally:
        for logger, handlers, level, propagate in saved:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def configure(*, quiet: bool = False, verbose: bool = False) -> None:
    """The CLI's logging: textseq's messages on stderr at INFO (`verbose`: DEBUG; `quiet`:
    errors only, Lightning's messages and Python warnings silenced too). It changes the
    process's loggers and warning filters for good; the CLI calls it inside `configured`."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.propagate = False
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    logger.setLevel(level)
    for name in LIGHTNING:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.INFO)
    if quiet:
        warnings.simplefilter("ignore")
    # Deprecation notices from inside dependencies are not actionable for users.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")


def default_handler() -> None:
    """A stderr handler at INFO for the `textseq` logger, unless it or the root logger already
    has one (the Python API's default; see the module docstring)."""
    logger = logging.getLogger(LOGGER)
    if logger.handlers or logging.getLogger().hasHandlers():
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    logger.propagate = False
