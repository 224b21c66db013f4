"""Progress lines: counts and rate on stderr when asked, silent when nested or turned off."""

from __future__ import annotations

import pytest

from textseq import progress


@pytest.fixture(autouse=True)
def _default_after():
    yield
    progress.show(None)


def test_a_progress_line_counts_items_out_of_the_total(capsys):
    progress.show(True)
    assert list(progress.track(range(5), "predict", total=5)) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()  # the final count, once
    assert line.startswith("predict: 5/5 texts (") and line.endswith("/s)")


def test_nested_progress_is_silent_and_off_means_off(capsys):
    progress.show(True)
    with progress.Progress("outer", total=1) as outer:
        with progress.Progress("inner") as inner:
            inner.update(3)
        outer.update(1)
    err = capsys.readouterr().err
    assert "inner" not in err and err.startswith("outer: 1/1 texts")
    with progress.Progress("after", total=1, unit="sentences") as after:  # none open now
        after.update(1)
    assert capsys.readouterr().err.startswith("after: 1/1 sentences")
    progress.show(False)
    list(progress.track(range(3), "quiet"))
    assert capsys.readouterr().err == ""
