"""The screenshots in docs/img are small, real pictures, and every one is shown by a doc."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_every_screenshot_is_a_small_png_that_a_doc_shows_and_every_link_resolves():
    from matplotlib.image import imread

    images = sorted((DOCS / "img").glob("*.png"))
    assert {p.name for p in images} >= {
        "explain-imdb.png",
        "head-grid.png",
        "translation-attention-html.png",
        "embeddings-plot.png",
        "curves.png",
    }
    shown = set()
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), f"{page.name} shows a missing {target}"
            shown.add((page.parent / target).resolve())
    for path in images:
        assert path.stat().st_size < 200_000, path.name
        assert path.resolve() in shown, f"no doc shows docs/img/{path.name}"
        pixels = imread(path)[..., :3]  # (H, W, 3)
        assert min(pixels.shape[:2]) >= 300 and pixels.std() > 0.05, path.name  # not blank
        rgb = np.rint(pixels * 255).astype(np.int64)  # (H, W, 3)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]  # (H, W)
        assert len(np.unique(packed)) >= 8, path.name  # colours, not a grey canvas
