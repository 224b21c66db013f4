"""Figures and pages render to valid files holding what they should (textseq.plots)."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import numpy as np
import pytest

from textseq.embedding_space import Projection
from textseq.errors import TextseqError
from textseq.explain import Explanation
from textseq.plots import (
    explanation_html,
    plot_attention_grid,
    plot_embeddings,
    save_explanation,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOKENS = ["it", "'s", "<b>not</b>", "a", "bad", "film", "&", '"really"', "$\\frac$"]


def _read_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_MAGIC
    return imread(path)  # (height, width, channels)


def _synthetic_layers(layers: int, heads: int, t: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(layers):
        scores = rng.normal(size=(heads, t, t))
        weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)  # (N, T, T)
        out.append(weights)
    return out


def _explanation(*, attention: bool = True, layers: int = 0) -> Explanation:
    t = len(TOKENS)
    saliency = np.linspace(-1.0, 1.0, t)
    weights = np.arange(1, t + 1, dtype=float)
    return Explanation(
        text=" ".join(TOKENS),
        tokens=list(TOKENS),
        label="positive",
        probs={"negative": 0.25, "positive": 0.75},
        saliency=saliency.tolist(),
        saliency_scale=0.5,
        attention=(weights / weights.sum()).tolist() if attention else None,
        layer_attention=_synthetic_layers(layers, 2, t) if layers else None,
    )


def test_attention_grid_of_two_layers_and_two_heads_is_a_png_of_the_expected_size(tmp_path):
    path = plot_attention_grid(TOKENS, _synthetic_layers(2, 2, len(TOKENS)), tmp_path / "g.png")
    image = _read_png(path)
    # Cells of 0.28 in per token (2.52 in for 9 tokens): 2 heads × 2.52 in + 1.5 in wide,
    # 2 layers × 2.52 in + 0.5 in high, at 100 dpi.
    assert image.shape[:2] == (554, 654)
    assert image.std() > 0.05  # not a blank canvas
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_attention_grid_rejects_weights_that_do_not_fit_the_tokens(tmp_path):
    with pytest.raises(ValueError, match=r"layer 2 attention has shape \(2, 3, 3\)"):
        plot_attention_grid(
            ["a", "b", "c", "d"],
            [*_synthetic_layers(1, 2, 4), *_synthetic_layers(1, 2, 3)],
            tmp_path / "g.png",
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("layers", [0, 2])
def test_explanation_png(tmp_path, layers):
    path = save_explanation(_explanation(layers=layers), tmp_path / "why.png")
    image = _read_png(path)
    assert image.shape[2] in (3, 4)
    height, width = image.shape[:2]
    assert width >= 600
    # The grid of layer maps makes the figure taller than the two token strips alone.
    alone = _read_png(save_explanation(_explanation(), tmp_path / "alone.png")).shape[0]
    assert (height > alone) == bool(layers)


def _long_explanation(t: int, seed: int = 0) -> Explanation:
    rng = np.random.default_rng(seed)
    weights = rng.random(t)
    return Explanation(
        text=" ".join(f"w{i}" for i in range(t)),
        tokens=[f"w{i}" for i in range(t)],
        label="positive",
        probs={"negative": 0.2, "positive": 0.8},
        saliency=np.clip(rng.normal(0, 0.5, t), -1, 1).tolist(),
        saliency_scale=1.0,
        attention=(weights / weights.sum()).tolist(),
    )


def test_a_long_text_wraps_over_rows_of_fixed_token_width_with_colour_legends(tmp_path):
    images = {t: _read_png(save_explanation(_long_explanation(t), tmp_path / f"{t}.png"))
              for t in (40, 163)}  # fmt: skip
    # 20 tokens a row at a fixed width: the same width for 40 and 163 tokens, rows below
    assert images[40].shape[1] == images[163].shape[1] < 1600
    assert images[163].shape[0] > 3 * images[40].shape[0] / 2
    pixels = images[163][..., :3] * 255  # (H, W, 3)

    def count(colour, tolerance=40):
        return int((np.abs(pixels - np.array(colour)).max(axis=-1) < tolerance).sum())

    # Saliency in blue and red, attention in orange, all drawn (a blank figure fails)
    assert count((33, 102, 172)) > 2000 and count((178, 24, 43)) > 500
    assert count((217, 72, 1), tolerance=50) > 2000
    # The legends: a horizontal bar of each colour map, its full range side by side in one
    # pixel row (dark orange to white above the strips, red to blue below)
    rows_with_both_ends = [
        y for y in range(pixels.shape[0])
        if (np.abs(pixels[y] - (103, 0, 31)).max(axis=-1) < 30).any()
        and (np.abs(pixels[y] - (5, 48, 97)).max(axis=-1) < 30).any()
    ]  # fmt: skip
    assert rows_with_both_ends  # the saliency legend (RdBu from -1 to +1)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert parser.stack == []  # every element closed, properly nested
    return parser


def test_explanation_html_is_self_contained_and_shows_every_token_with_its_weights(tmp_path):
    explanation = _explanation(layers=2)
    path = save_explanation(explanation, tmp_path / "why.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    parsed = _parse(page)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "http" not in page  # no external asset
    for token in TOKENS:
        assert html.escape(token) in page
    assert "<b>not</b>" not in page  # a token is text, never markup
    spans = [attrs for tag, attrs in parsed.tags if attrs.get("class") == "tok"]
    attention = [a["title"] for a in spans if a["title"].startswith("attention")]
    saliency = [a["title"] for a in spans if a["title"].startswith("saliency")]
    assert attention == [f"attention {w:.4f}" for w in explanation.attention]
    assert saliency == [f"saliency {s:.4f}" for s in explanation.saliency]
    texts = "".join(parsed.text)
    for w in explanation.attention:
        assert f"{w:.3f}" in texts
    # Saliency -1 is full red, +1 full blue; the largest attention weight is full orange.
    styles = [a["style"] for a in spans]
    assert "background:rgb(178,24,43)" in styles[len(TOKENS)]
    assert "background:rgb(33,102,172)" in styles[-1]
    assert "background:rgb(230,85,13)" in styles[len(TOKENS) - 1]
    cells = [attrs for tag, attrs in parsed.tags if tag == "td" and "→" in attrs.get("title", "")]
    assert len(cells) == 2 * 2 * len(TOKENS) ** 2  # layers × heads × T × T


def test_explanation_html_without_attention_has_only_saliency():
    page = explanation_html(_explanation(attention=False))
    assert "Attention pooling" not in page and "Saliency" in page
    assert "per layer" not in page


def test_explanation_to_an_unknown_format_is_an_error(tmp_path):
    with pytest.raises(TextseqError, match=r"\.png or \.html"):
        save_explanation(_explanation(), tmp_path / "why.pdf")


def test_embeddings_plot_is_a_png(tmp_path):
    projection = Projection(
        words=["good", "great", "bad"],
        points=np.array([[0.0, 1.0], [0.2, 0.9], [-1.0, -1.0]]),
        method="pca",
        missing=[],
    )
    image = _read_png(plot_embeddings(projection, tmp_path / "words.png"))
    assert image.shape[:2] == (600, 700)


def test_maps_with_a_cls_position_are_labelled_with_it(tmp_path):
    explanation = _explanation(layers=0)
    explanation.layer_attention = _synthetic_layers(2, 2, len(TOKENS) + 1)
    explanation.layer_tokens = ["[CLS]", *TOKENS]
    page = save_explanation(explanation, tmp_path / "why.html").read_text(encoding="utf-8")
    assert page.count("<th>[CLS]</th>") == 2 * 2  # one row label per layer and head
    _read_png(save_explanation(explanation, tmp_path / "why.png"))
