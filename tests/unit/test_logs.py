"""The CLI's -q, -v and --progress last as long as the command: inside it, -q silences warnings
and textseq's messages; once main() returns, the program's warning filters, loggers and
progress setting are those it had (the Python API is not affected)."""

from __future__ import annotations

import logging
import warnings

import pytest

from textseq import cli, progress
from textseq.logs import LOGGER


def _noisy(args):
    """A verb that warns, logs and reports whether progress lines would be shown."""
    warnings.warn("a warning inside the command", UserWarning, stacklevel=1)
    logging.getLogger(LOGGER).info("a message inside the command")
    print(f"progress shown: {progress.shown()}")
    return 0


@pytest.fixture
def noisy_verb(monkeypatch):
    monkeypatch.setattr(cli, "_config", _noisy)  # `textseq config ...` runs _noisy


def test_quiet_silences_the_command_and_leaves_the_program_as_it_was(noisy_verb, capsys):
    logger = logging.getLogger(LOGGER)
    filters, level, handlers = list(warnings.filters), logger.level, list(logger.handlers)
    progress.show(None)

    assert cli.main(["-q", "config", "docs"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "progress shown: False\n"
    assert captured.err == ""  # neither the warning nor the message

    assert warnings.filters == filters
    assert (logger.level, logger.handlers) == (level, handlers)
    assert progress._SHOWN is None
    with pytest.warns(UserWarning, match="after the command"):  # the API still warns
        warnings.warn("after the command", UserWarning, stacklevel=1)


def test_without_quiet_the_command_warns_and_logs_on_stderr(noisy_verb, capsys):
    with pytest.warns(UserWarning, match="inside the command"):
        assert cli.main(["--progress", "config", "docs"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "progress shown: True\n"
    assert "textseq: a message inside the command" in captured.err
    assert progress._SHOWN is None
