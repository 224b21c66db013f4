"""docs/benchmarks.md is what `textseq benchmark report` renders from the committed results
files and anchors: no figure on it was typed by hand."""

from pathlib import Path

from textseq.benchmarking import render_report

ROOT = Path(__file__).resolve().parents[3]


def test_docs_benchmarks_is_generated_from_the_results_files():
    page = render_report(
        ROOT / "benchmarks" / "results", anchors=ROOT / "benchmarks" / "anchors.yaml", out=None
    )
    current = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert current == page, "regenerate it: textseq benchmark report"
