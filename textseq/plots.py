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
from collections.abc import Mapping, Sequence
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
_STRIP_VALUES_MAX_TOKENS = 16  # write the weights in a [CLS]-row strip up to this many tokens

_WHITE = np.array([255, 255, 255])
_ORANGE = np.array([230, 85, 13])
_BLUE = np.array([33, 102, 172])
_RED = np.array([178, 24, 43])


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise TextseqError("PNG output needs matplotlib: pip install matplotlib") from None
    figure = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(figure)  # a renderer to measure text with (`repel_labels`)
    return figure


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


def _first_row_name(tokens: Sequence[str]) -> str:
    return "[CLS] row" if tokens[0] == "[CLS]" else f"first-token row ({_label(tokens[0])})"


def draw_attention_grid(
    figure: Figure | SubFigure, tokens: Sequence[str], layers: Sequence[np.ndarray]
) -> None:
    """Draws an L × (N + 1) grid on `figure`, one row per layer: a heatmap per head, in which
    row i is query token i and column j the weight it gives token j, then the layer's
    summary strip: the first token's row (`[CLS]`, the position a CLS-pooled classifier reads
    its sentence from) of every head, one head per line. Each head is scaled to its own
    largest weight (printed in its title; in the strip, each line to its own): a head that
    spreads its attention thinly would otherwise be a dark square beside one that attends
    sharply."""
    layers = _check_layers(tokens, layers)
    heads = layers[0].shape[0]
    axes = figure.subplots(len(layers), heads + 1, squeeze=False)
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
        _first_row_strip(axes[layer_index][heads], tokens, layer, show_labels=show_labels)
        axes[layer_index][heads].set_title(
            f"layer {layer_index + 1}: {_first_row_name(tokens)}", fontsize=9
        )
    figure.colorbar(image, ax=axes, shrink=0.6, label="attention weight / the head's max")


def _first_row_strip(ax, tokens: Sequence[str], layer: np.ndarray, *, show_labels: bool) -> None:
    """Line h: what the first token attends to in head h, scaled to that line's largest
    weight, the weight written in each cell when there is room."""
    rows = layer[:, 0, :]  # (N, T)
    scaled = rows / np.maximum(rows.max(axis=1, keepdims=True), 1e-12)  # (N, T)
    ax.imshow(scaled, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    heads = rows.shape[0]
    ax.set_yticks(range(heads), labels=[f"head {h + 1}" for h in range(heads)], fontsize=7)
    if show_labels:
        labels = [_label(token) for token in tokens]
        ax.set_xticks(range(len(tokens)), labels=labels, rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
    if len(tokens) <= _STRIP_VALUES_MAX_TOKENS:
        for h, t in np.ndindex(*rows.shape):
            colour = "black" if scaled[h, t] > 0.6 else "white"  # viridis is light at the top
            ax.text(t, h, f"{rows[h, t]:.2f}"[1:] if rows[h, t] < 1 else "1", ha="center",
                    va="center", fontsize=6, color=colour)  # fmt: skip


def plot_attention_grid(
    tokens: Sequence[str], layers: Sequence[np.ndarray], path: str | Path
) -> Path:
    """A PNG of per-layer, per-head attention maps with each layer's first-token ([CLS]) row
    summary beside them: `layers` holds one (N, T, T) array per layer, `tokens` the T tokens
    labelling both axes."""
    layers = _check_layers(tokens, layers)
    width, height = _grid_size(len(tokens), layers)
    figure = _figure(width, height)
    draw_attention_grid(figure, tokens, layers)
    return _save_figure(figure, Path(path))


def _grid_size(t: int, layers: Sequence[np.ndarray]) -> tuple[float, float]:
    """Inches of the grid: a square cell per head and one for the summary strip, per layer."""
    cell = max(2.5, 0.28 * t)
    return cell * (layers[0].shape[0] + 1) + 1.5, cell * len(layers) + 0.5


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
    width = strips_width = max(6.0, _TOKEN_WIDTH * per_row + 3.0)
    strips_height = 1.1 * len(strips) * rows + 0.8 * len(strips) + 1.4  # + legends
    layers = explanation.layer_attention
    layer_tokens = explanation.layer_tokens or tokens
    grid_height = 0.0
    if layers:
        grid_width, grid_height = _grid_size(len(layer_tokens), layers)
        width = max(width, grid_width)
    figure = _figure(width, strips_height + grid_height)
    top = figure
    if layers:
        top, bottom = figure.subfigures(2, 1, height_ratios=[strips_height, grid_height])
        draw_attention_grid(bottom, layer_tokens, layers)
    probability = explanation.probs[explanation.label]
    top.suptitle(
        f"predicted {explanation.label} (p = {probability:.3f}); saliency by "
        f"{explanation.method_name}",
        fontsize=11,
    )
    if width > strips_width + 0.5:  # a wide grid below: the strips keep their token width
        top = top.subfigures(1, 2, width_ratios=[strips_width, width - strips_width])[0]
    axes = top.subplots(len(strips) * rows, 1, squeeze=False)[:, 0]
    legends = {
        "attention": "attention weight (pooling)",
        "saliency": f"saliency by {explanation.method_name}: blue towards "
        f"{explanation.label}, red away",
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


_NO_GROUP = "(no group)"


def embeddings_figure(projection: Projection, groups: Mapping[str, str] | None = None) -> Figure:
    """A scatter of projected words, each point labelled with its word, the labels pushed
    apart until none overlaps another or a point (`repel_labels`); the axes name the
    projection's components (with their share of the variance for PCA). With `groups`
    ({word: group}, matched as written or case-insensitively), each group has its colour and a
    legend entry; words of no group are grey."""
    figure = _figure(7.5, 6.0)
    ax = figure.subplots()
    points = projection.points  # (n, 2)
    folded = {word.casefold(): group for word, group in (groups or {}).items()}
    names = [
        (groups or {}).get(word, folded.get(word.casefold(), _NO_GROUP))
        for word in projection.words
    ]
    order = list(dict.fromkeys(name for name in names if name != _NO_GROUP))
    palette = matplotlib_colours(len(order))
    for index, name in enumerate([*order, _NO_GROUP]):
        members = [i for i, n in enumerate(names) if n == name]
        if not members:
            continue
        colour = palette[index] if name != _NO_GROUP else "0.55" if groups else "tab:blue"
        label = name if groups else None
        ax.scatter(points[members, 0], points[members, 1], s=22, color=colour, label=label,
                   zorder=3)  # fmt: skip
    line = {"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 0, "shrinkB": 3}
    labels = [
        ax.annotate(
            _label(w),
            (x, y),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=9,
            arrowprops=line,
        )
        for w, (x, y) in zip(projection.words, points, strict=True)
    ]
    x_label, y_label = projection.axis_labels()
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(f"word embeddings, {projection.method.upper()} to 2-D", fontsize=11)
    ax.margins(0.15)
    ax.grid(alpha=0.25)
    if groups:
        ax.legend(title="group", fontsize=8, title_fontsize=8, loc="best")
    repel_labels(figure, ax, labels)
    return figure


def matplotlib_colours(n: int) -> list:
    """`n` distinct colours: tab10, then tab20's lighter shades for more groups."""
    from matplotlib import colormaps

    base = list(colormaps["tab10"].colors)
    extra = [colormaps["tab20"].colors[i] for i in range(1, 20, 2)]
    colours = base + extra
    return [colours[i % len(colours)] for i in range(n)]


def repel_labels(
    figure, ax, labels, *, steps: int = 500, pad: float = 2.0, largest_step: float = 3.0
) -> int:
    """Moves the annotations `labels` (texts offset from their points) until no two text
    boxes overlap and no text covers a point, by repeated small nudges measured with the
    renderer's own text extents (in pixels), as adjustText does: each overlapping pair is
    pushed apart along the axis where it overlaps least, half each way, a text over a point
    is pushed off it, and no text moves more than `largest_step` px a round, so crowded
    labels spread out gradually instead of flying to the frame. Texts stay inside the axes.
    A label still overlapping after `steps` rounds (surrounded by points of a dense cluster,
    pushed evenly from every side) is put on the nearest free spot of a spiral around its
    point. Returns the number of nudging rounds (0: nothing overlapped)."""
    from matplotlib.text import Text

    if not labels:
        return 0
    figure.canvas.draw()  # lays the figure out, so extents are final
    for label in labels:
        label.set_in_layout(False)  # moving a label must not re-run the layout
    renderer = figure.canvas.get_renderer()
    scale = 72.0 / figure.dpi  # pixels -> points (annotation offsets are in points)
    anchors = ax.transData.transform(np.array([label.xy for label in labels]))  # (n, 2) px
    markers = np.concatenate([anchors - 4.0, anchors + 4.0], axis=1)  # (n, 4), ~ 8 px
    frame = ax.get_window_extent(renderer)
    # Text extents measured once: a move shifts a box without changing its size, so the
    # rounds run on the boxes and the labels are moved once at the end.
    # (the text's own box: an annotation's would include its connecting line)
    boxes = np.array([Text.get_window_extent(label, renderer).extents for label in labels])
    boxes += np.array([-pad, -pad, pad, pad])  # (n, 4): x0, y0, x1, y1
    shift = np.zeros((len(labels), 2))  # (n, 2) px moved so far
    rounds = steps
    for step in range(1, steps + 1):
        between = _pushes(boxes, boxes)  # (n, n, 2): how far j must leave i
        moves = 0.5 * between.sum(axis=0) - _pushes(markers, boxes).sum(axis=0)  # (n, 2)
        if not moves.any():
            rounds = step - 1
            break
        moves = np.clip(moves, -largest_step, largest_step)
        # keep the texts in the axes: a move past the frame is cut back to the frame
        moves[:, 0] = np.clip(moves[:, 0], frame.x0 - boxes[:, 0], frame.x1 - boxes[:, 2])
        moves[:, 1] = np.clip(moves[:, 1], frame.y0 - boxes[:, 1], frame.y1 - boxes[:, 3])
        boxes += np.concatenate([moves, moves], axis=1)
        shift += moves
    start = boxes - np.concatenate([shift, shift], axis=1)
    boxes = _place_the_stuck(boxes, markers, anchors, frame.extents)
    shift = boxes[:, :2] - start[:, :2]
    for label, (dx, dy) in zip(labels, shift, strict=True):
        ox, oy = label.xyann
        label.xyann = (ox + dx * scale, oy + dy * scale)
    return rounds


def _place_the_stuck(boxes, markers, anchors, frame) -> np.ndarray:
    """`boxes` (n, 4) with each box that still overlaps another box or a marker moved, in
    turn, to the first spot around its anchor (rings 6 px apart, 16 directions, the frame
    (x0, y0, x1, y1) permitting) where it overlaps nothing; one with no such spot stays."""
    boxes = boxes.copy()
    n = len(boxes)
    for i in range(n):
        others = np.concatenate([np.delete(boxes, i, axis=0), markers])
        if not np.abs(_pushes(others, boxes[i : i + 1])).any():
            continue
        width, height = boxes[i, 2] - boxes[i, 0], boxes[i, 3] - boxes[i, 1]
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        for radius in np.arange(6.0, 400.0, 6.0):
            centres = anchors[i] + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
            half = np.array([width / 2, height / 2])
            candidates = np.concatenate([centres - half, centres + half], axis=1)  # (16, 4)
            inside = (candidates[:, 0] >= frame[0]) & (candidates[:, 1] >= frame[1])
            inside &= (candidates[:, 2] <= frame[2]) & (candidates[:, 3] <= frame[3])
            free = inside & ~np.abs(_pushes(others, candidates)).any(axis=(0, 2))
            if free.any():
                boxes[i] = candidates[int(np.argmax(free))]
                break
    return boxes


def _pushes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For boxes a (m, 4) and b (n, 4) as x0, y0, x1, y1: (m, n, 2), how far (px) box b[j]
    must move away from box a[i] to stop overlapping it, along the axis of least overlap
    (plus a quarter of the other, to break ties); zero where they do not overlap, and
    between a box and itself when a is b."""
    dx = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    dy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    overlap = (dx > 0) & (dy > 0)  # (m, n)
    if a is b:
        np.fill_diagonal(overlap, False)
    centre_a = (a[:, :2] + a[:, 2:]) / 2  # (m, 2)
    centre_b = (b[:, :2] + b[:, 2:]) / 2  # (n, 2)
    # away from a's centre; at the same centre, the later box goes up and right
    order = np.where(np.arange(len(b))[None, :] > np.arange(len(a))[:, None], 1.0, -1.0)
    sign = np.sign(centre_b[None, :, :] - centre_a[:, None, :])  # (m, n, 2)
    sign = np.where(sign == 0, order[..., None], sign)
    along_x = dx < dy  # (m, n)
    size = np.stack([np.where(along_x, dx + 1, 0.25 * (dx + 1)),
                     np.where(along_x, 0.25 * (dy + 1), dy + 1)], axis=-1)  # fmt: skip
    return np.where(overlap[..., None], sign * size, 0.0)


def plot_embeddings(
    projection: Projection, path: str | Path, *, groups: Mapping[str, str] | None = None
) -> Path:
    """A PNG of `embeddings_figure`."""
    return _save_figure(embeddings_figure(projection, groups), Path(path))


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
table.values td { width: 2.6em; font-variant-numeric: tabular-nums; }
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
    *,
    per_row: bool = False,
) -> str:
    """A coloured table: row i is query token i, column j key token j (the same tokens for
    self-attention; `key_tokens` for cross-attention). With `per_row`, each row is coloured
    against its own largest weight (the darkest cell of a row is where that token looks
    most) and every cell shows its weight (two decimals); otherwise white is 0, orange 1
    and the weight is in the cell's tooltip only."""
    escaped = [html.escape(token) for token in tokens]
    keys = escaped if key_tokens is None else [html.escape(token) for token in key_tokens]
    rows = ["<tr><th></th>" + "".join(f'<th class="col">{t}</th>' for t in keys) + "</tr>"]
    for i, query in enumerate(escaped):
        top = max(float(weights[i].max()), 1e-12) if per_row else 1.0
        cells = []
        for j, key in enumerate(keys):
            background, foreground = _mix(_ORANGE, float(weights[i, j]) / top)
            shown = f"{weights[i, j]:.2f}" if per_row else ""
            cells.append(
                f'<td style="background:{background};color:{foreground}" title="{query} → '
                f'{key}: {weights[i, j]:.4f}">{shown}</td>'
            )
        rows.append(f"<tr><th>{query}</th>" + "".join(cells) + "</tr>")
    kind = "map values" if per_row else "map"
    return f'<table class="{kind}"><caption>{caption}</caption>' + "".join(rows) + "</table>"


def _layer_sections(
    tokens: Sequence[str],
    layers: Sequence[np.ndarray],
    *,
    key_tokens: Sequence[str] | None = None,
    opened: bool,
    per_row: bool = False,
) -> list[str]:
    """One collapsible section per layer (N, T, T') holding a table per head, bottom layer
    first; `key_tokens` and `per_row` as in `_attention_table`."""
    sections = []
    for layer_index, layer in enumerate(layers):
        tables = "".join(
            _attention_table(
                tokens, layer[h], f"head {h + 1}", key_tokens=key_tokens, per_row=per_row
            )
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
    label = html.escape(e.label)
    if e.method == "ig":
        delta = "" if e.convergence_delta is None else f": {e.convergence_delta:.2g}"
        how = (
            f"Integrated gradients (Captum) of the logit of {label} along the straight path "
            "from an all-zero embedding to the text's embeddings, per token; they add up to "
            f"the logit's change along the path (Captum's convergence delta{delta})"
        )
    else:
        how = f"(∂ logit of {label} / ∂ embedding) · embedding per token"
    parts += [
        f'<h2 id="saliency-method">Saliency by {html.escape(e.method_name)}</h2>',
        f'<p class="note">{how}, divided by the largest magnitude '
        f"({e.saliency_scale:.4g}): blue pushes towards {label}, red away from it.</p>",
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
    """A self-contained HTML page of a translation's attention: the target x source table,
    each cell showing its weight and each row coloured against its own largest weight, and,
    for Transformers, one such table per layer and head (collapsed)."""
    weights, layers = _check_cross(source, target, weights, layers)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>textseq: translation attention</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<p class="text">{html.escape(title)}</p>',
        '<p class="note">Row: a token of the translation; column: the source token it '
        "attends to; each cell shows the weight (a row sums to 1). Each row is coloured "
        "against its own largest weight: white is 0, the darkest orange that row's "
        "maximum.</p>",
        _attention_table(target, weights, "attention", key_tokens=source, per_row=True),
    ]
    parts += _layer_sections(target, layers, key_tokens=source, opened=False, per_row=True)
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
