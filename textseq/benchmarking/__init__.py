"""`textseq benchmark`: every published figure reproduced by one command, with its spread.

`run.benchmark` trains each config once per seed, scores it on the dataset's test and dev
splits (and its baselines with `baselines=True`) and appends one JSON line per run to
`benchmarks/results/<config stem>.jsonl`; `report.render_report` turns those files into
docs/benchmarks.md (mean ± standard deviation over seeds, literature anchors, dates and
machines). The record's fields: docs/benchmarks.md, "How the figures are made".
"""

from __future__ import annotations

from textseq.benchmarking.report import render_report
from textseq.benchmarking.run import benchmark

__all__ = ["benchmark", "render_report"]
