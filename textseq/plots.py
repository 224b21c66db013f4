"""Rendering what `textseq.explain` and `textseq.embedding_space` compute: PNG figures with
matplotlib (object-oriented API on the Agg canvas, so no display or pyplot state is needed)
and self-contained HTML pages (inline CSS, no script, no external asset).

Shapes: T tokens, N heads, L layers. Colours: attention weights go from white (0) to orange
(the largest weight in the text); saliency goes from red (-1: pushes away from the predicted
class) through white (0) to blue (+1: pushes towards it).

Files are written to a temporary name beside the target and renamed into place, so a failed
render never leaves a half-written file.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textseq.atomic import write_atomically
from textseq.errors import TextseqError, UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

    from textseq.embedding_space import Projection
    from textseq.explain import Explanation

_ANNOTATE_MAX_TOKENS = 40  # print each weight in its cell up to this many tokens
_TOKENS_PER_ROW = 20  # an explanation's strips wrap onto a new row after this many tokens
_TOKEN_WIDTH = 0.6  # inches per token in a strip, whatever the text's length

_WHITE = np.array([255, 255, 255])
_ORANGE = np.array([230, 85, 13])
_BLUE = np.array([33, 102, 172])
_RED = np.array([178, 24, 43])


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise TextseqError("PNG output needs matplotlib: pip install matplotlib") from None
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def _save_figure(figure: Figure, path: Path) -> Path:
    return write_atomically(path, lambda tmp: figure.savefig(tmp, format="png"))


def _label(token: str) -> str:
    """`token` as matplotlib text: a `$` would otherwise start mathtext."""
    return token.replace("$", r"\$")


def _check_layers(tokens: Sequence[str], layers: Sequence[np.ndarray]) -> list[np.ndarray]:
    layers = [np.asarray(layer, dtype=float) for layer in layers]
    if not layers:
        raise ValueError("layer attention is empty: no layers to draw")
    t = len(tokens)
    heads = layers[0].shape[0] if layers[0].ndim == 3 else None
    for index, layer in enumerate(layers):
        if layer.ndim != 3 or layer.shape != (heads, t, t):
            raise ValueError(
                f"layer {index + 1} attention has shape {layer.shape}, expected "
                f"(heads, {t}, {t}) with the same number of heads in every layer"
            )
    return layers


# -- PNG -------------------------------------------------------------------------------------


def _token_strip(
    ax, tokens, values, *, label: str, diverging: bool, vmax: float | None = None, width=None
):
    """One strip of coloured token cells; `vmax` (the whole text's, when the strip is one row
    of a wrapped text) fixes the colour scale, `width` the number of cells (a short last row
    keeps the cell width of the others). Returns the image, for a colour legend."""
    values = np.asarray(values, dtype=float)  # (T,)
    if diverging:
        cmap, vmin, vmax = "RdBu", -1.0, 1.0
    else:
        vmax = max(float(values.max()) if vmax is None else vmax, 1e-12)
        cmap, vmin = "Oranges", 0.0
    image = ax.imshow(values[None, :], cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")  # (1, T)
    if width is not None:
        ax.set_xlim(-0.5, width - 0.5)
    labels = [_label(token) for token in tokens]
    ax.set_xticks(range(len(tokens)), labels=labels, rotation=45, ha="right", fontsize=9)
    ax.set_yticks([0], labels=[label], fontsize=9)
    if len(tokens) <= _ANNOTATE_MAX_TOKENS:
        for i, value in enumerate(values):
            strong = abs(value) / (vmax if not diverging else 1.0) > 0.6
            ax.text(
                i,
                0,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if strong else "black",
            )
    return image


def draw_attention_grid(
    figure: Figure | SubFigure, tokens: Sequence[str], layers: Sequence[np.ndarray]
) -> None:
    """Draws an L × N grid of heatmaps on `figure`, one per layer (row) and head (column); in
    each, row i is query token i and column j the weight it gives token j. Each head is scaled
    to its own largest weight (printed in its title): a head that spreads its attention thinly
    would otherwise be a dark square beside one that attends sharply."""
    layers = _check_layers(tokens, layers)
    heads = layers[0].shape[0]
    axes = figure.subplots(len(layers), heads, squeeze=False)
    show_labels = len(tokens) <= _ANNOTATE_MAX_TOKENS
    labels = [_label(token) for token in tokens]
    image = None
    for layer_index, layer in enumerate(layers):
        for h in range(heads):
            ax = axes[layer_index][h]
            top = max(float(layer[h].max()), 1e-12)
            image = ax.imshow(layer[h] / top, cmap="viridis", vmin=0.0, vmax=1.0)  # (T, T)
            ax.set_title(f"layer {layer_index + 1}, head {h + 1} (max {top:.2f})", fontsize=9)
            if show_labels:
                ax.set_xticks(range(len(tokens)), labels=labels, rotation=90, fontsize=7)
                ax.set_yticks(range(len(tokens)), labels=labels, fontsize=7)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            if layer_index == len(layers) - 1:
                ax.set_xlabel("attended token", fontsize=8)
            if h == 0:
                ax.set_ylabel("attending token", fontsize=8)
    figure.colorbar(image, ax=axes, shrink=0.6, label="attention weight / the head's max")


def plot_attention_grid(
    tokens: Sequence[str], layers: Sequence[np.ndarray], path: str | Path
) -> Path:
    """A PNG of per-layer, per-head attention maps: `layers` holds one (N, T, T) array per
    layer, `tokens` the T tokens labelling both axes."""
    layers = _check_layers(tokens, layers)
    cell = max(2.5, 0.28 * len(tokens))
    figure = _figure(cell * layers[0].shape[0] + 1.5, cell * len(layers) + 0.5)
    draw_attention_grid(figure, tokens, layers)
    return _save_figure(figure, Path(path))


def explanation_figure(explanation: Explanation) -> Figure:
    """The figure of an explanation: strips of attention-pooling weights (if any) and of
    saliency over the tokens, wrapped after `_TOKENS_PER_ROW` tokens with a fixed width per
    token, each kind with its colour legend; then the per-layer, per-head grid (Transformer
    encoders)."""
    tokens = explanation.tokens
    strips = [("saliency", explanation.saliency, True)]
    if explanation.attention is not None:
        strips.insert(0, ("attention", explanation.attention, False))
    per_row = min(len(tokens), _TOKENS_PER_ROW)
    rows = -(-len(tokens) // _TOKENS_PER_ROW)  # ceil
    width = max(6.0, _TOKEN_WIDTH * per_row + 3.0)
    strips_height = 1.1 * len(strips) * rows + 0.8 * len(strips) + 1.4  # + legends
    layers = explanation.layer_attention
    layer_tokens = explanation.layer_tokens or tokens
    grid_height = 0.0
    if layers:
        cell = max(2.5, 0.28 * len(layer_tokens))
        width = max(width, cell * layers[0].shape[0] + 1.5)
        grid_height = cell * len(layers) + 0.5
    figure = _figure(width, strips_height + grid_height)
    top = figure
    if layers:
        top, bottom = figure.subfigures(2, 1, height_ratios=[strips_height, grid_height])
        draw_attention_grid(bottom, layer_tokens, layers)
    probability = explanation.probs[explanation.label]
    top.suptitle(f"predicted {explanation.label} (p = {probability:.3f})", fontsize=11)
    axes = top.subplots(len(strips) * rows, 1, squeeze=False)[:, 0]
    legends = {
        "attention": "attention weight (pooling)",
        "saliency": f"saliency (gradient × input): blue towards {explanation.label}, red away",
    }
    for k, (label, values, diverging) in enumerate(strips):
        values = np.asarray(values, dtype=float)  # (T,)
        drawn = []
        for row in range(rows):
            start = row * _TOKENS_PER_ROW
            part = slice(start, start + _TOKENS_PER_ROW)
            ax = axes[row * len(strips) + k]
            name = label if rows == 1 else f"{label} {start + 1}-"
            scale = {"vmax": float(values.max()), "width": per_row}
            image = _token_strip(
                ax, tokens[part], values[part], label=name, diverging=diverging, **scale
            )
            drawn.append(ax)
        # Attention's legend above the strips, saliency's below: each spans the rows it keys.
        where = "top" if label == "attention" else "bottom"
        colorbar = top.colorbar(image, ax=drawn, location=where, shrink=0.5, aspect=40)
        colorbar.set_label(legends[label], fontsize=8)
        colorbar.ax.tick_params(labelsize=7)
    return figure


def save_explanation_png(explanation: Explanation, path: str | Path) -> Path:
    return _save_figure(explanation_figure(explanation), Path(path))


def plot_tag_marginals(
    tokens: Sequence[str],
    tag_names: Sequence[str],
    marginals: np.ndarray,  # (T, K), rows summing to 1
    path: str | Path,
) -> Path:
    """A tagger's per-token tag marginals as a heatmap (tokens down, tags across, the value
    written in each cell of at least 0.05), saved as a PNG."""
    if Path(path).suffix.lower() != ".png":
        raise UsageError(f"{path}: a tagger's marginals are drawn as a PNG (FILE.png)")
    matrix = np.asarray(marginals, dtype=float)
    if matrix.shape != (len(tokens), len(tag_names)):
        raise ValueError(
            f"marginals have shape {matrix.shape}, expected ({len(tokens)}, {len(tag_names)})"
        )
    figure = _figure(1.5 + 0.55 * len(tag_names), 1.2 + 0.35 * len(tokens))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(tag_names)), labels=[_label(t) for t in tag_names], rotation=60)
    axes.set_yticks(range(len(tokens)), labels=[_label(t) for t in tokens])
    for row, column in zip(*np.nonzero(matrix >= 0.05), strict=True):
        value = matrix[row, column]
        axes.text(
            column,
            row,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > 0.6 else "black",
        )
    figure.colorbar(image, ax=axes, fraction=0.04, label="p(tag | sentence)")
    return _save_figure(figure, Path(path))


def plot_embeddings(projection: Projection, path: str | Path) -> Path:
    """A PNG scatter of projected words, each point labelled with its word."""
    figure = _figure(7.0, 6.0)
    ax = figure.subplots()
    points = projection.points  # (n, 2)
    ax.scatter(points[:, 0], points[:, 1], s=18, color="tab:blue")
    for word, (x, y) in zip(projection.words, points, strict=True):
        ax.annotate(_label(word), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    ax.set_title(f"word embeddings, {projection.method.upper()} to 2-D")
    ax.margins(0.12)
    return _save_figure(figure, Path(path))


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.text { font-style: italic; color: #555; }
.tokens { line-height: 2.8; }
.tok { display: inline-block; padding: 0 .35em; margin: .15em .1em; border-radius: .25em;
       text-align: center; line-height: 1.4; border: 1px solid #ddd; }
.tok .w { display: block; font-size: .65em; opacity: .85; }
table.probs td { padding: 0 .8em 0 0; }
.heads { display: flex; flex-wrap: wrap; gap: 1.5em; }
table.map { border-collapse: collapse; font-size: .7em; }
table.map caption { font-weight: bold; padding-bottom: .3em; }
table.map td { width: 1.8em; height: 1.8em; text-align: center; border: 1px solid #fff; }
table.map th { font-weight: normal; padding: 0 .3em; white-space: nowrap; }
table.map th.col { writing-mode: vertical-rl; transform: rotate(180deg); vertical-align: bottom; }
.note { font-size: .85em; color: #555; }
"""


def _mix(colour: np.ndarray, amount: float) -> tuple[str, str]:
    """Background mixing white with `colour` by `amount` in [0, 1], and a readable text colour."""
    amount = float(np.clip(amount, 0.0, 1.0))
    rgb = np.rint(_WHITE + (colour - _WHITE) * amount).astype(int)
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", "#fff" if amount > 0.6 else "#000"


def _token_spans(tokens: Sequence[str], values: Sequence[float], *, diverging: bool, name: str):
    scale = 1.0 if diverging else max(max(values), 1e-12)
    spans = []
    for token, value in zip(tokens, values, strict=True):
        colour = (_BLUE if value >= 0 else _RED) if diverging else _ORANGE
        background, foreground = _mix(colour, abs(value) / scale)
        spans.append(
            f'<span class="tok" style="background:{background};color:{foreground}" '
            f'title="{name} {value:.4f}">{html.escape(token)}'
            f'<span class="w">{value:.3f}</span></span>'
        )
    return '<div class="tokens">' + " ".join(spans) + "</div>"


def _attention_table(
    tokens: Sequence[str],
    weights: np.ndarray,
    caption: str,
    key_tokens: Sequence[str] | None = None,
) -> str:
    """A coloured table: row i is query token i, column j key token j (the same tokens for
    self-attention; `key_tokens` for cross-attention)."""
    escaped = [html.escape(token) for token in tokens]
    keys = escaped if key_tokens is None else [html.escape(token) for token in key_tokens]
    rows = ["<tr><th></th>" + "".join(f'<th class="col">{t}</th>' for t in keys) + "</tr>"]
    for i, query in enumerate(escaped):
        cells = []
        for j, key in enumerate(keys):
            background, _ = _mix(_ORANGE, float(weights[i, j]))
            cells.append(
                f'<td style="background:{background}" title="{query} → {key}: '
                f'{weights[i, j]:.4f}"></td>'
            )
        rows.append(f"<tr><th>{query}</th>" + "".join(cells) + "</tr>")
    return f'<table class="map"><caption>{caption}</caption>' + "".join(rows) + "</table>"


def _layer_sections(
    tokens: Sequence[str],
    layers: Sequence[np.ndarray],
    *,
    key_tokens: Sequence[str] | None = None,
    opened: bool,
) -> list[str]:
    """One collapsible section per layer (N, T, T') holding a table per head, bottom layer
    first; `key_tokens` as in `_attention_table`."""
    sections = []
    for layer_index, layer in enumerate(layers):
        tables = "".join(
            _attention_table(tokens, layer[h], f"head {h + 1}", key_tokens=key_tokens)
            for h in range(layer.shape[0])
        )
        sections.append(
            f"<details{' open' if opened else ''}><summary>layer {layer_index + 1}</summary>"
            f'<div class="heads">{tables}</div></details>'
        )
    return sections


def explanation_html(explanation: Explanation) -> str:
    """A self-contained HTML page (inline CSS, no script, no external asset) showing the
    tokens coloured by attention-pooling weight and by saliency, and the per-layer, per-head
    attention maps as coloured tables (hover a cell for its weight)."""
    e = explanation
    probs = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{p:.4f}</td></tr>" for label, p in e.probs.items()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>textseq: why {html.escape(e.label)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Predicted <b>{html.escape(e.label)}</b> (p = {e.probs[e.label]:.4f})</h1>",
        f'<p class="text">{html.escape(e.text)}</p>',
        f'<table class="probs">{probs}</table>',
    ]
    if e.attention is not None:
        parts += [
            "<h2>Attention pooling weights</h2>",
            '<p class="note">How much each token contributes to the pooled vector (they sum '
            "to 1); white is 0, the darkest orange the largest weight.</p>",
            _token_spans(e.tokens, e.attention, diverging=False, name="attention"),
        ]
    parts += [
        "<h2>Saliency (gradient × input)</h2>",
        f'<p class="note">(∂ logit of {html.escape(e.label)} / ∂ embedding) · embedding per '
        "token, divided by the largest magnitude "
        f"({e.saliency_scale:.4g}): blue pushes towards {html.escape(e.label)}, red away "
        "from it.</p>",
        _token_spans(e.tokens, e.saliency, diverging=True, name="saliency"),
    ]
    if e.layer_attention:
        layer_tokens = e.layer_tokens or e.tokens
        layers = _check_layers(layer_tokens, e.layer_attention)
        parts += [
            "<h2>Self-attention per layer and head</h2>",
            '<p class="note">Row: the attending token; column: the token attended to; '
            "white is 0, orange 1.</p>",
        ]
        parts += _layer_sections(layer_tokens, layers, opened=True)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def save_explanation_html(explanation: Explanation, path: str | Path) -> Path:
    page = explanation_html(explanation)
    return write_atomically(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))


def save_explanation(explanation: Explanation, path: str | Path) -> Path:
    """Writes `explanation` as PNG or HTML, chosen by the suffix of `path`."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return save_explanation_png(explanation, path)
    if suffix in (".html", ".htm"):
        return save_explanation_html(explanation, path)
    raise TextseqError(f"cannot write an explanation to {path}: the name must end in .png or .html")


# -- translation: source x target attention ---------------------------------------------------


def _check_cross(source: Sequence[str], target: Sequence[str], weights, layers) -> tuple:
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(target), len(source)):
        raise ValueError(
            f"attention has shape {weights.shape}, expected ({len(target)}, {len(source)}) "
            "(target tokens x source tokens)"
        )
    layers = [np.asarray(layer, dtype=float) for layer in layers or []]
    for index, layer in enumerate(layers):
        if layer.ndim != 3 or layer.shape[1:] != weights.shape:
            raise ValueError(
                f"layer {index + 1} attention has shape {layer.shape}, expected "
                f"(heads, {len(target)}, {len(source)})"
            )
    return weights, layers


def _cross_heatmap(ax, source, target, weights, *, title: str, labels: bool = True):
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")  # (T, S)
    ax.set_title(title, fontsize=9)
    if labels and max(len(source), len(target)) <= _ANNOTATE_MAX_TOKENS:
        ax.set_xticks(range(len(source)), labels=[_label(t) for t in source], rotation=90)
        ax.set_yticks(range(len(target)), labels=[_label(t) for t in target])
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    return image


def plot_translation_attention(
    source: Sequence[str],
    target: Sequence[str],
    weights: np.ndarray,  # (T, S)
    path: str | Path,
    *,
    layers: Sequence[np.ndarray] | None = None,  # L x (N, T, S) cross-attention per head
) -> Path:
    """A PNG of a translation's attention: the target x source matrix with tokens on both
    axes (source across, target down) and, for Transformers, a grid of every layer's and
    head's cross-attention below it."""
    weights, layers = _check_cross(source, target, weights, layers)
    cell = 0.32
    width = max(4.0, 1.8 + cell * len(source))
    height = max(3.0, 1.6 + cell * len(target))
    heads = layers[0].shape[0] if layers else 0
    figure = _figure(max(width, 2.6 * heads + 1.0), height + 2.4 * len(layers))
    if not layers:
        ax = figure.add_subplot()
        image = _cross_heatmap(ax, source, target, weights, title="attention (target x source)")
        ax.set_xlabel("source", fontsize=8)
        ax.set_ylabel("translation", fontsize=8)
        figure.colorbar(image, ax=ax, shrink=0.7, label="attention weight")
        return _save_figure(figure, Path(path))
    top, bottom = figure.subfigures(2, 1, height_ratios=[height, 2.4 * len(layers)])
    ax = top.add_subplot()
    image = _cross_heatmap(ax, source, target, weights, title="cross-attention, mean of all heads")
    top.colorbar(image, ax=ax, shrink=0.7, label="attention weight")
    axes = bottom.subplots(len(layers), heads, squeeze=False)
    for layer_index, layer in enumerate(layers):
        for h in range(heads):
            _cross_heatmap(
                axes[layer_index][h],
                source,
                target,
                layer[h],
                title=f"layer {layer_index + 1}, head {h + 1}",
                labels=False,
            )
    return _save_figure(figure, Path(path))


def translation_attention_html(
    source: Sequence[str],
    target: Sequence[str],
    weights: np.ndarray,
    *,
    layers: Sequence[np.ndarray] | None = None,
    title: str = "",
) -> str:
    """A self-contained HTML page of a translation's attention: the target x source table
    (hover a cell for its weight) and, for Transformers, one table per layer and head."""
    weights, layers = _check_cross(source, target, weights, layers)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>textseq: translation attention</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<p class="text">{html.escape(title)}</p>',
        '<p class="note">Row: a token of the translation; column: the source token it '
        "attends to; white is 0, orange 1.</p>",
        _attention_table(target, weights, "attention", key_tokens=source),
    ]
    parts += _layer_sections(target, layers, key_tokens=source, opened=False)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def save_translation_attention(
    source: Sequence[str],
    target: Sequence[str],
    weights: np.ndarray,
    path: str | Path,
    *,
    layers: Sequence[np.ndarray] | None = None,
    title: str = "",
) -> Path:
    """PNG or HTML, chosen by the suffix of `path`."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return plot_translation_attention(source, target, weights, path, layers=layers)
    if suffix in (".html", ".htm"):
        page = translation_attention_html(source, target, weights, layers=layers, title=title)
        return write_atomically(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    raise TextseqError(f"cannot write attention to {path}: the name must end in .png or .html")
