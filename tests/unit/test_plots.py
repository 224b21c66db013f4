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
    draw_attention_grid,
    embeddings_figure,
    explanation_figure,
    explanation_html,
    plot_attention_grid,
    plot_embeddings,
    plot_tag_marginals,
    plot_translation_attention,
    save_explanation,
    translation_attention_html,
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
    # Cells of 0.28 in per token (2.52 in for 9 tokens): (2 heads + the [CLS]-row strip) ×
    # 2.52 in + 1.5 in wide, 2 layers × 2.52 in + 0.5 in high, at 100 dpi.
    assert image.shape[:2] == (554, 906)
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
        explained_variance=(0.9, 0.1),
    )
    image = _read_png(plot_embeddings(projection, tmp_path / "words.png"))
    assert image.shape[:2] == (600, 750)
    blue = np.abs(image[..., :3] * 255 - (31, 119, 180)).max(axis=-1) < 30  # tab:blue points
    assert blue.sum() > 3 * 20  # three dots drawn (a blank figure fails)


def _crowded(n: int = 30, seed: int = 0) -> Projection:
    rng = np.random.default_rng(seed)
    points = rng.normal(scale=0.03, size=(n, 2))  # (n, 2): most of them on top of each other
    points[: n // 3] += 1.0
    return Projection(words=[f"word{i}" for i in range(n)], points=points, method="tsne",
                      missing=[])  # fmt: skip


def _label_boxes(figure):
    from matplotlib.text import Annotation, Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    labels = [t for t in ax.texts if isinstance(t, Annotation)]
    boxes = np.array([Text.get_window_extent(t, renderer).extents for t in labels])
    points = ax.transData.transform(np.array([t.xy for t in labels]))  # (n, 2) px
    return boxes, points, ax.get_window_extent(renderer).extents


def test_crowded_labels_are_pushed_apart_until_none_overlaps_a_label_or_a_point():
    projection = _crowded()
    boxes, points, frame = _label_boxes(embeddings_figure(projection))
    assert len(boxes) == 30
    x0, y0, x1, y1 = (boxes[:, None, k] for k in range(4))  # (n, 1) each
    overlap = (np.minimum(x1, x1.T) > np.maximum(x0, x0.T)) & (
        np.minimum(y1, y1.T) > np.maximum(y0, y0.T)
    )
    np.fill_diagonal(overlap, False)
    assert not overlap.any()
    for x, y in points:  # no text covers a point's centre
        assert not (
            (boxes[:, 0] < x) & (x < boxes[:, 2]) & (boxes[:, 1] < y) & (y < boxes[:, 3])
        ).any()
    assert (boxes[:, 0] >= frame[0] - 1).all() and (boxes[:, 2] <= frame[2] + 1).all()
    # ... where the labels as first placed (4 points up and right of each point) overlapped:
    # dozens of pairs of points lie closer than a label's width and height
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]  # (n,)
    apart = np.abs(points[:, None] - points[None])  # (n, n, 2)
    close = (apart[..., 0] < width[:, None]) & (apart[..., 1] < height[:, None])  # (n, n)
    assert close.sum() - len(points) > 2 * 30


def test_embeddings_axes_name_the_components_and_their_share_of_the_variance():
    import torch

    from textseq.embedding_space import project_words
    from textseq.text.vocab import Vocabulary

    # 4 words on a 3-D table: variance 8 along the first axis, 2 along the second, 0 on the
    # third: PCA keeps 80% and 20%.
    table = torch.tensor([[2.0, 0, 0], [-2, 0, 0], [0, 1, 0], [0, -1, 0]])
    vocab = Vocabulary(["a", "b", "c", "d"], specials=())
    projection = project_words(table, vocab, ["a", "b", "c", "d"])
    assert projection.explained_variance == pytest.approx((0.8, 0.2))
    ax = embeddings_figure(projection).axes[0]
    assert ax.get_xlabel() == "PC1 (80.0% of variance)"
    assert ax.get_ylabel() == "PC2 (20.0% of variance)"
    tsne = Projection(words=["a", "b"], points=np.eye(2), method="tsne", missing=[])
    assert embeddings_figure(tsne).axes[0].get_xlabel() == "t-SNE 1"


def test_groups_colour_the_words_and_have_a_legend(tmp_path):
    projection = _crowded(12)
    groups = {"word0": "animals", "WORD1": "animals", "word5": "tools", "word9": "tools"}
    figure = embeddings_figure(projection, groups)
    legend = figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["animals", "tools", "(no group)"]
    assert legend.get_title().get_text() == "group"
    collections = figure.axes[0].collections  # one scatter per group, in legend order
    assert [len(c.get_offsets()) for c in collections] == [2, 2, 8]  # WORD1 matched word1
    image = _read_png(plot_embeddings(projection, tmp_path / "g.png", groups=groups))
    pixels = image[..., :3] * 255
    for colour in ((31, 119, 180), (255, 127, 14), (140, 140, 140)):  # tab10 blue, orange, grey
        assert (np.abs(pixels - colour).max(axis=-1) < 25).sum() > 40, colour


def test_maps_with_a_cls_position_are_labelled_with_it(tmp_path):
    explanation = _explanation(layers=0)
    explanation.layer_attention = _synthetic_layers(2, 2, len(TOKENS) + 1)
    explanation.layer_tokens = ["[CLS]", *TOKENS]
    page = save_explanation(explanation, tmp_path / "why.html").read_text(encoding="utf-8")
    assert page.count("<th>[CLS]</th>") == 2 * 2  # one row label per layer and head
    _read_png(save_explanation(explanation, tmp_path / "why.png"))


def test_head_grid_has_a_first_token_row_strip_per_layer_scaled_per_head(tmp_path):
    from matplotlib.figure import Figure

    t, heads = len(TOKENS), 2
    layers = _synthetic_layers(2, heads, t)
    for layer in layers:  # head h's first token looks at token h + 2 the most
        for h in range(heads):
            layer[h, 0] = 0.02
            layer[h, 0, h + 2] = 1 - 0.02 * (t - 1)
    figure = Figure()
    draw_attention_grid(figure, TOKENS, layers)
    strips = [ax for ax in figure.axes if "first-token row" in ax.get_title()]
    assert [ax.get_title() for ax in strips] == [
        "layer 1: first-token row (it)",
        "layer 2: first-token row (it)",
    ]
    for ax, layer in zip(strips, layers, strict=True):
        drawn = ax.images[0].get_array()  # (N, T)
        assert drawn.shape == (heads, t)
        # each head's line scaled to its own largest weight: its peak is 1
        expected = layer[:, 0, :] / layer[:, 0, :].max(axis=1, keepdims=True)
        assert np.asarray(drawn) == pytest.approx(expected)
        assert [tick.get_text() for tick in ax.get_yticklabels()] == ["head 1", "head 2"]
    image = _read_png(plot_attention_grid(TOKENS, layers, tmp_path / "g.png"))
    right = image[:, image.shape[1] * 2 // 3 :, :3] * 255  # the strips' column
    yellow = np.abs(right - (253, 231, 37)).max(axis=-1) < 40  # viridis at 1
    assert yellow.sum() > 4 * 100  # a peak cell per head and layer, drawn


def test_maps_with_a_cls_position_title_their_strip_with_it():
    from matplotlib.figure import Figure

    figure = Figure()
    draw_attention_grid(figure, ["[CLS]", *TOKENS], _synthetic_layers(1, 2, len(TOKENS) + 1))
    assert "layer 1: [CLS] row" in [ax.get_title() for ax in figure.axes]


def test_translation_html_shows_every_weight_and_colours_each_row_by_its_own_maximum():
    source, target = ["ein", "mann", "<b>"], ["a", "man", "<eos>"]
    weights = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.05, 0.05, 0.9]])
    page = translation_attention_html(source, target, weights, title="ein mann -> a man")
    parsed = _parse(page)
    cells = []
    collect = _Cells()
    collect.feed(page)
    cells = collect.cells  # (title, style, text) per td, row by row
    assert len(cells) == 9
    for i in range(3):
        row = cells[3 * i : 3 * i + 3]
        assert [text for _, _, text in row] == [f"{w:.2f}" for w in weights[i]]
        peak = int(weights[i].argmax())
        # the row's largest weight is full orange, whatever its value (0.4 in row 2)
        assert "background:rgb(230,85,13)" in row[peak][1]
        assert "background:rgb(255,255,255)" not in row[peak][1]
    assert "&lt;b&gt;" in page and "b" not in [tag for tag, _ in parsed.tags]  # text, not markup
    assert "own largest weight" in page


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            attrs = dict(attrs)
            self._open = [attrs.get("title", ""), attrs.get("style", ""), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells.append(tuple(self._open))
            self._open = None


def test_translation_and_marginal_pngs_are_drawn(tmp_path):
    weights = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]])
    image = _read_png(plot_translation_attention(["a", "b", "c"], ["x", "<eos>"], weights,
                                                 tmp_path / "t.png"))  # fmt: skip
    from matplotlib import colormaps

    def near(value):  # pixels of viridis at `value` (the map's fixed 0-1 scale)
        colour = np.array(colormaps["viridis"](value)[:3]) * 255
        return (np.abs(image[..., :3] * 255 - colour).max(axis=-1) < 20).sum()

    assert near(0.9) > 500 and near(0.8) > 500 and near(0.05) > 1000  # cells, drawn
    marginals = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    image = _read_png(plot_tag_marginals(["EU", "rejects", "it"], ["B-ORG", "O"], marginals,
                                         tmp_path / "m.png"))  # fmt: skip
    dark_blue = np.abs(image[..., :3] * 255 - (8, 48, 107)).max(axis=-1) < 40
    assert dark_blue.sum() > 500


def test_the_figure_and_the_page_say_which_method_made_the_saliency():
    explanation = _explanation()
    explanation.method, explanation.convergence_delta = "ig", 1e-4
    figure = explanation_figure(explanation)
    texts = [figure.get_suptitle(), *[ax.get_xlabel() for ax in figure.axes]]
    assert any("saliency by integrated gradients" in text for text in texts), texts
    page = explanation_html(explanation)
    assert "Saliency by integrated gradients (50 steps, zero-embedding baseline)" in page
    assert "convergence delta: 0.0001" in page
    plain = explanation_html(_explanation())
    assert "Saliency by gradient × input" in plain and "integrated" not in plain
