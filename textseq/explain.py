"""Seeing what a classifier does: attention weights read out of the model, and gradient × input
saliency per token for any model, attention or not.

Shapes: B batch, T longest length, E embedding size, C classes, N heads, L encoder layers.

Saliency is gradient × input (Shrikumar et al. 2016, "Not just a black box"; Denil et al. 2014;
the gradient alone is the saliency map of Simonyan et al. 2014). For token t with input
embedding x_t ∈ R^E (the output of the model's `embedding` module) and z_c the logit (before
the softmax) of the predicted class c:

    s_t = (∂ z_c / ∂ x_t) · x_t

*Sign*: s_t > 0 means token t pushes the model towards the predicted class, s_t < 0 away from
it. For a model whose logits are linear in the embeddings, z = W (1/T Σ_t x_t) + b, the scores
add up to the logit: Σ_t s_t = z_c - b_c.

Integrated Gradients (Sundararajan et al. 2017, "Axiomatic attribution for deep networks",
eq. 1), through Captum, is the other method (`method="ig"`): from the all-zero embedding
baseline x' = 0 to the text's embeddings x,

    IG_t = Σ_e (x_te - x'_te) · ∫_0^1 ∂ z_c(x' + α (x - x')) / ∂ x_te dα

computed with `IG_STEPS` points of Gauss-Legendre quadrature. Its scores add up to the change
of the logit (completeness, their Proposition 1): Σ_t IG_t = z_c(x) - z_c(0), up to the
quadrature's error, which Captum reports as the convergence delta
(`Explanation.convergence_delta`). Gradient × input is IG's one-point approximation: the two
agree exactly when the logit is linear in the embeddings. Same sign convention and
normalisation; `Explanation.method` names the method that made the scores.

*Normalisation*: `Explanation.saliency` is s / max_t |s_t|, so it lies in [-1, 1] and the most
influential token is ±1; `Explanation.saliency_scale` is max_t |s_t|, so the raw scores are
`saliency * saliency_scale`. `gradient_x_input` returns the raw scores.

Attention: `Explanation.attention` holds the pooling weights over tokens (attention poolings:
they sum to 1 over the tokens); `Explanation.layer_attention` holds, for Transformer encoders,
one (N, T, T) array per layer (row: query token, column: attended token; each row sums to 1),
its axes labelled by `Explanation.layer_tokens`: the tokens, preceded by `[CLS]` when the
encoder prepends a classification position of its own (maps one position wider than the
input). Both cover exactly the real tokens of the text, never padding.

    import textseq
    model = textseq.load("runs/sst2")
    explanation = model.explain("not bad at all")
    explanation.saliency, explanation.attention
    explanation.save("why.html")  # or why.png
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textseq.data.batching import Collator, EncodedDataset
from textseq.errors import DataError, TextseqError
from textseq.plots import plot_tag_marginals, save_explanation, save_translation_attention
from textseq.text.pipeline import TextPipeline
from textseq.text.vocab import Vocabulary

IG_STEPS = 50  # quadrature points of integrated gradients (Captum's default)
SALIENCY_METHODS = {
    "gradient-x-input": "gradient × input",
    "ig": f"integrated gradients ({IG_STEPS} steps, zero-embedding baseline)",
}


@dataclass
class Explanation:
    """Why a classifier labelled one text as it did. See the module docstring for the
    definitions, sign convention and normalisation."""

    text: str
    tokens: list[str]
    label: str
    probs: dict[str, float]
    saliency: list[float]  # (T,) gradient × input / max |gradient × input|, in [-1, 1]
    saliency_scale: float  # max_t |gradient × input|
    attention: list[float] | None = None  # (T,) pooling weights, or None
    layer_attention: list[np.ndarray] | None = None  # per layer (N, T', T'), or None
    layer_tokens: list[str] | None = None  # the T' labels of the maps' axes
    method: str = "gradient-x-input"  # what made the saliency: one of SALIENCY_METHODS
    convergence_delta: float | None = None  # ig: Σ_t IG_t - (z_c(x) - z_c(0)), from Captum

    @property
    def method_name(self) -> str:
        """The saliency method as a person reads it, e.g. "integrated gradients (50 steps,
        zero-embedding baseline)"."""
        return SALIENCY_METHODS[self.method]

    def to_dict(self, *, digits: int = 6) -> dict[str, Any]:
        """A JSON-ready dict: text, tokens, label, probs, saliency, saliency_scale, method
        (gradient-x-input or ig), convergence_delta (ig only, else null), attention (null
        without attention pooling), layer_attention (per layer, per head, a T' × T' list of
        lists; null without a Transformer encoder) and layer_tokens (its axes)."""
        layers = None
        if self.layer_attention is not None:
            layers = [np.round(layer, digits).tolist() for layer in self.layer_attention]
        return {
            "text": self.text,
            "tokens": self.tokens,
            "label": self.label,
            "probs": {label: round(p, digits) for label, p in self.probs.items()},
            "saliency": [round(s, digits) for s in self.saliency],
            "saliency_scale": self.saliency_scale,
            "method": self.method,
            "convergence_delta": self.convergence_delta,
            "attention": None
            if self.attention is None
            else [round(a, digits) for a in self.attention],
            "layer_attention": layers,
            "layer_tokens": self.layer_tokens,
        }

    def save(self, path: str | Path) -> Path:
        """Writes the explanation as a PNG figure or a self-contained HTML page, chosen by the
        suffix of `path` (.png, .html or .htm)."""
        return save_explanation(self, path)


@dataclass
class TagExplanation:
    """A tagger's uncertainty over one sentence: for every token t and tag k the marginal
    p(y_t = k | sentence) (forward-backward for a CRF, the softmax for a per-token output);
    each row sums to 1."""

    tokens: list[str]
    tags: list[str]  # the predicted tags, as `predict` prints them (BIO for entities)
    tag_names: list[str]  # the columns of `marginals`
    marginals: np.ndarray  # (T, K)

    def to_dict(self, *, digits: int = 6) -> dict[str, Any]:
        """A JSON-ready dict: tokens, tags, tag_names and marginals (T lists of K floats)."""
        return {
            "tokens": self.tokens,
            "tags": self.tags,
            "tag_names": self.tag_names,
            "marginals": np.round(self.marginals, digits).tolist(),
        }

    def save(self, path: str | Path) -> Path:
        """Writes the marginals as a heatmap (PNG: tokens down, tags across)."""
        return plot_tag_marginals(self.tokens, self.tag_names, self.marginals, path)


@dataclass
class TranslationExplanation:
    """Where a translation looked: for every target token (with `<eos>`) its attention over
    the source tokens (rows sum to 1); for Transformers also every decoder layer's and head's
    cross-attention (`weights` is then their mean)."""

    source: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    weights: np.ndarray  # (T, S)
    layers: list[np.ndarray] | None = None  # L x (N, T, S)

    def to_dict(self, *, digits: int = 6) -> dict[str, Any]:
        return {
            "source": self.source,
            "translation": self.translation,
            "source_tokens": self.source_tokens,
            "target_tokens": self.target_tokens,
            "attention": np.round(self.weights, digits).tolist(),
            "layer_attention": None
            if self.layers is None
            else [np.round(layer, digits).tolist() for layer in self.layers],
        }

    def save(self, path: str | Path) -> Path:
        """A heatmap with tokens on both axes: PNG (matplotlib) or HTML."""
        return save_translation_attention(
            self.source_tokens,
            self.target_tokens,
            self.weights,
            path,
            layers=self.layers,
            title=f"{self.source} -> {self.translation}",
        )


class _EmbeddingTap:
    """A forward hook on the model's `embedding` that swaps its output for a leaf tensor which
    requires grad, so ∂ logits / ∂ embeddings can be read without touching `forward` (and works
    for frozen embedding tables too)."""

    def __init__(self, embedding: nn.Module):
        self.embedding = embedding
        self.inputs: list[torch.Tensor] = []

    def __enter__(self) -> _EmbeddingTap:
        self.handle = self.embedding.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.remove()

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        x = output.detach().requires_grad_(True)  # (B, T, E)
        self.inputs.append(x)
        return x

    @property
    def x(self) -> torch.Tensor:
        if len(self.inputs) != 1:
            raise RuntimeError(
                f"the model called its embedding {len(self.inputs)} times in one forward pass; "
                "saliency needs exactly one call"
            )
        return self.inputs[0]


@dataclass
class _Forward:
    logits: torch.Tensor  # (B, C)
    saliency: torch.Tensor  # (B, T), zero at padding
    attention: torch.Tensor | None  # (B, T)
    layer_attention: list[torch.Tensor] | None  # L × (B, N, T, T)


def _forward_with_saliency(
    model: nn.Module,
    token_ids: torch.Tensor,
    lengths: torch.Tensor,
    target: torch.Tensor | None,
    *,
    layer_attention: bool,
) -> _Forward:
    if not isinstance(getattr(model, "embedding", None), nn.Module):
        raise TypeError(f"{type(model).__name__} has no `embedding` module to explain through")
    extra = {"return_layer_attention": True} if layer_attention else {}
    with _EmbeddingTap(model.embedding) as tap, torch.enable_grad():
        output = model(token_ids, lengths, **extra)
        logits = output.logits  # (B, C)
        if target is None:
            target = logits.argmax(dim=-1)  # (B,)
        # Rows do not interact in eval mode, so the gradient of the sum of each row's chosen
        # logit gives every row its own gradient in one backward pass.
        chosen = logits.gather(1, target[:, None]).sum()
        (gradient,) = torch.autograd.grad(chosen, tap.x)  # (B, T, E)
        x = tap.x.detach()
    mask = torch.arange(token_ids.size(1), device=lengths.device) < lengths[:, None]  # (B, T)
    saliency = (gradient * x).sum(dim=-1) * mask  # (B, T)
    attention = getattr(output, "attention", None)
    layers = getattr(output, "layer_attention", None)
    return _Forward(
        logits=logits.detach(),
        saliency=saliency.detach(),
        attention=None if attention is None else attention.detach(),
        layer_attention=None if layers is None else [layer.detach() for layer in layers],
    )


def _extra_positions(layers: list[torch.Tensor], t: int) -> int:
    """0 when the (B, N, T', T') maps are over the T input positions, 1 when the encoder put
    a [CLS] position in front of them; anything else cannot be labelled with tokens."""
    extra = layers[0].size(-1) - t
    if extra not in (0, 1) or any(layer.shape[-2:] != layers[0].shape[-2:] for layer in layers):
        shapes = ", ".join(str(tuple(layer.shape)) for layer in layers)
        raise ValueError(
            f"layer attention of shapes {shapes} does not match the {t} input positions "
            f"(expected (B, N, {t}, {t}), or {t + 1} with a leading [CLS] position)"
        )
    return extra


def gradient_x_input(
    model: nn.Module,
    token_ids: torch.Tensor,
    lengths: torch.Tensor,
    *,
    target: torch.Tensor | None = None,
) -> torch.Tensor:
    """Raw gradient × input saliency s_t = (∂ z_c / ∂ x_t) · x_t, (B, T), exactly zero at
    padding positions.

    token_ids: (B, T) padded ids; lengths: (B,); target: (B,) class ids c (default: each row's
    predicted class). `model` is a classifier with an `embedding` module, called as
    `model(token_ids, lengths)` and returning an object with `logits` (B, C); put it in eval
    mode first, or dropout makes the scores random.
    """
    return _forward_with_saliency(model, token_ids, lengths, target, layer_attention=False).saliency


class _EmbeddingSwap:
    """A forward hook on the model's `embedding` that replaces its output by `embedded`, so
    the model can be run from given embeddings (Captum's path from the baseline to x)."""

    def __init__(self, embedding: nn.Module, embedded: torch.Tensor):
        self.embedding, self.embedded = embedding, embedded

    def __enter__(self) -> _EmbeddingSwap:
        self.handle = self.embedding.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.remove()

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        if output.shape != self.embedded.shape:
            raise RuntimeError(
                f"embedding output {tuple(output.shape)} and the embeddings to swap in "
                f"{tuple(self.embedded.shape)} differ"
            )
        return self.embedded


def integrated_gradients(
    model: nn.Module,
    token_ids: torch.Tensor,
    lengths: torch.Tensor,
    *,
    target: torch.Tensor | None = None,
    steps: int = IG_STEPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients per token from the all-zero embedding baseline (see the module
    docstring), through Captum's `IntegratedGradients`: (B, T) scores, exactly zero at
    padding, and (B,) Captum's convergence deltas Σ_t IG_t - (z_c(x) - z_c(0)).

    token_ids, lengths, target and `model` as for `gradient_x_input`."""
    try:
        from captum.attr import IntegratedGradients
    except ImportError:
        raise TextseqError(
            "integrated gradients need Captum: pip install 'textseq[explain]'"
        ) from None
    if not isinstance(getattr(model, "embedding", None), nn.Module):
        raise TypeError(f"{type(model).__name__} has no `embedding` module to explain through")
    with torch.no_grad(), _EmbeddingTap(model.embedding) as tap:
        logits = model(token_ids, lengths).logits  # (B, C)
    x = tap.x.detach()  # (B, T, E)
    if target is None:
        target = logits.argmax(dim=-1)  # (B,)

    def logits_from(embedded: torch.Tensor, ids: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        # Captum stacks the `steps` points of the path along the batch: (steps·B, T, E)
        with _EmbeddingSwap(model.embedding, embedded):
            return model(ids, n).logits  # (steps·B, C)

    with torch.enable_grad():
        attributions, delta = IntegratedGradients(logits_from).attribute(
            x,
            baselines=torch.zeros_like(x),
            target=target,
            additional_forward_args=(token_ids, lengths),
            n_steps=steps,
            return_convergence_delta=True,
        )  # (B, T, E), (B,)
    mask = torch.arange(token_ids.size(1), device=lengths.device) < lengths[:, None]  # (B, T)
    return (attributions.sum(dim=-1) * mask).detach(), delta.detach()


def explain_texts(
    model: nn.Module,
    pipeline: TextPipeline,
    labels: Vocabulary,
    texts: Sequence[str],
    *,
    method: str = "gradient-x-input",
) -> list[Explanation]:
    """One `Explanation` per text, its saliency made by `method` (gradient-x-input or ig).
    The texts are padded into one batch; each explanation covers only its own tokens."""
    if method not in SALIENCY_METHODS:
        raise ValueError(f"method ({method!r}) must be one of {', '.join(SALIENCY_METHODS)}")
    if isinstance(texts, str):
        raise TypeError("explain_texts takes a list of texts; wrap a single text in a list")
    for position, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"text {position + 1} is empty; every text needs some content")
    if not texts:
        return []
    model.eval()
    tokens = [pipeline.tokens(text) for text in texts]
    dataset = EncodedDataset([pipeline.vocab.encode(t) for t in tokens])
    batch = Collator(pipeline.vocab.pad_index)([dataset[i] for i in range(len(dataset))])
    result = _forward_with_saliency(
        model, batch.token_ids, batch.lengths, None, layer_attention=True
    )
    saliency, deltas = result.saliency, None  # (B, T)
    if method == "ig":
        target = result.logits.argmax(dim=-1)  # (B,)
        saliency, deltas = integrated_gradients(
            model, batch.token_ids, batch.lengths, target=target
        )
    probabilities = torch.softmax(result.logits.float(), dim=-1)  # (B, C)
    explanations = []
    for row, text in enumerate(texts):
        length = int(batch.lengths[row])
        raw = saliency[row, :length].double()  # (T,)
        scale = float(raw.abs().max())
        normalised = raw / scale if scale > 0 else raw
        attention = None
        if result.attention is not None:
            attention = result.attention[row, :length].tolist()
        layers, layer_tokens = None, None
        if result.layer_attention:
            extra = _extra_positions(result.layer_attention, batch.token_ids.size(1))
            span = length + extra
            layers = [
                layer[row, :, :span, :span].float().numpy()  # (N, T', T')
                for layer in result.layer_attention
            ]
            layer_tokens = ["[CLS]"] * extra + tokens[row]
        probs = probabilities[row]
        explanations.append(
            Explanation(
                text=text,
                tokens=tokens[row],
                label=labels.itos[int(probs.argmax())],
                probs={label: float(p) for label, p in zip(labels.itos, probs, strict=True)},
                saliency=normalised.tolist(),
                saliency_scale=scale,
                attention=attention,
                layer_attention=layers,
                layer_tokens=layer_tokens,
                method=method,
                convergence_delta=None if deltas is None else float(deltas[row]),
            )
        )
    return explanations
