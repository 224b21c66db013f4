"""Saliency and attention read out of classifiers (textseq.explain)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from textseq.explain import explain_texts, gradient_x_input
from textseq.models.classifier import ClassifierOutput, TextClassifier, build_text_classifier
from textseq.modules.pooling import MeanPooling
from textseq.text.cleaning import TextCleaner
from textseq.text.pipeline import TextPipeline
from textseq.text.tokenizers import WhitespaceTokenizer
from textseq.text.vocab import Vocabulary

WORDS = ["good", "bad", "film", "not", "very", "dull", "fun", "plot"]


class _PassThrough(nn.Module):
    """An 'encoder' that returns the embeddings unchanged: the model becomes linear."""

    output_size = 4

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return x


def _linear_model() -> TextClassifier:
    """logits = W · mean_t(x_t) + b over real tokens: linear in the embeddings."""
    torch.manual_seed(0)
    embedding = nn.Embedding(len(WORDS) + 2, 4, padding_idx=0)
    return TextClassifier(
        embedding=embedding,
        encoder=_PassThrough(),
        pooling=MeanPooling(),
        head=nn.Linear(4, 3),
    ).eval()


def _pipeline() -> TextPipeline:
    return TextPipeline(TextCleaner(), WhitespaceTokenizer(), Vocabulary(WORDS))


LABELS = Vocabulary(["negative", "neutral", "positive"], specials=())


def test_gradient_x_input_equals_the_hand_computed_gradient_times_input():
    model = _linear_model()
    token_ids = torch.tensor([[2, 5, 3, 4], [7, 6, 0, 0]])  # second row padded
    lengths = torch.tensor([4, 2])
    saliency = gradient_x_input(model, token_ids, lengths)  # (B, T)

    weight, bias = model.head.weight.detach(), model.head.bias.detach()  # (C, E), (C,)
    for row in range(2):
        n = int(lengths[row])
        x = model.embedding.weight.detach()[token_ids[row, :n]]  # (n, E)
        logits = weight @ x.mean(dim=0) + bias  # (C,)
        c = int(logits.argmax())
        # d z_c / d x_t = W_c / n, so s_t = W_c · x_t / n.
        expected = x @ weight[c] / n  # (n,)
        assert torch.allclose(saliency[row, :n], expected, atol=1e-6)
        assert torch.allclose(saliency[row, :n].sum(), logits[c] - bias[c], atol=1e-6)
        assert torch.all(saliency[row, n:] == 0)  # nothing at padding


def test_gradient_x_input_for_a_chosen_class():
    model = _linear_model()
    token_ids, lengths = torch.tensor([[2, 5, 3]]), torch.tensor([3])
    saliency = gradient_x_input(model, token_ids, lengths, target=torch.tensor([1]))
    x = model.embedding.weight.detach()[token_ids[0]]  # (3, E)
    assert torch.allclose(saliency[0], x @ model.head.weight.detach()[1] / 3, atol=1e-6)


def test_gradient_x_input_works_with_frozen_embeddings_and_leaves_no_hook():
    model = build_text_classifier(
        vocab_size=12, num_labels=2, pad_index=0, embedding_dim=6, hidden_size=5,
        pooling_attention_dim=4, pretrained=torch.randn(12, 6), freeze_embeddings=True,
    ).eval()  # fmt: skip
    saliency = gradient_x_input(model, torch.tensor([[3, 4, 5]]), torch.tensor([3]))
    assert saliency.shape == (1, 3) and torch.all(saliency != 0)
    assert not model.embedding._forward_hooks
    assert model.embedding.weight.grad is None


def _explain_model(pooling: str) -> TextClassifier:
    torch.manual_seed(0)
    return build_text_classifier(
        vocab_size=len(WORDS) + 2, num_labels=3, pad_index=0, embedding_dim=8,
        hidden_size=6, pooling_attention_dim=5, pooling_num_heads=2, pooling=pooling,
    ).eval()  # fmt: skip


@pytest.mark.parametrize("pooling", ["attention", "multihead", "mean", "last"])
def test_explanations_cover_exactly_the_real_tokens_and_ignore_the_batch(pooling):
    model, pipeline = _explain_model(pooling), _pipeline()
    texts = ["good film", "not very good , dull plot", "fun"]
    together = explain_texts(model, pipeline, LABELS, texts)
    for text, explanation in zip(texts, together, strict=True):
        alone = explain_texts(model, pipeline, LABELS, [text])[0]
        assert explanation.tokens == text.split()
        assert len(explanation.saliency) == len(explanation.tokens)
        assert max(abs(s) for s in explanation.saliency) == pytest.approx(1.0)
        assert explanation.saliency == pytest.approx(alone.saliency, abs=1e-5)
        assert explanation.saliency_scale == pytest.approx(alone.saliency_scale, rel=1e-5)
        assert explanation.probs == pytest.approx(alone.probs, abs=1e-6)
        assert explanation.label == max(explanation.probs, key=explanation.probs.get)
        assert explanation.layer_attention is None  # recurrent encoder
        if pooling in ("attention", "multihead"):
            assert len(explanation.attention) == len(explanation.tokens)
            assert sum(explanation.attention) == pytest.approx(1.0, abs=1e-5)
            assert explanation.attention == pytest.approx(alone.attention, abs=1e-6)
        else:
            assert explanation.attention is None


def test_raw_saliency_is_normalised_saliency_times_scale():
    model, pipeline = _linear_model(), _pipeline()
    explanation = explain_texts(model, pipeline, LABELS, ["good film not dull"])[0]
    ids = torch.tensor([pipeline.encode("good film not dull")])
    raw = gradient_x_input(model, ids, torch.tensor([4]))[0]
    scaled = [s * explanation.saliency_scale for s in explanation.saliency]
    assert scaled == pytest.approx(raw.tolist(), abs=1e-6)


class _FakeTransformer(nn.Module):
    """Stands in for a Transformer classifier: per-layer (B, N, T, T) attention that depends on
    the padding mask, returned only when asked for."""

    def __init__(self, *, cls: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(len(WORDS) + 2, 4, padding_idx=0)
        self.cls = nn.Parameter(torch.randn(1, 1, 4)) if cls else None
        self.head = nn.Linear(4, 3)

    def forward(self, token_ids, lengths, *, return_layer_attention=False):
        x = self.embedding(token_ids)  # (B, T, E)
        if self.cls is not None:  # a [CLS] position in front of the tokens
            x = torch.cat([self.cls.expand(x.size(0), -1, -1), x], dim=1)  # (B, T+1, E)
            lengths = lengths + 1
        mask = torch.arange(x.size(1)) < lengths[:, None]  # (B, T')
        scores = x @ x.transpose(1, 2)  # (B, T, T)
        scores = scores.masked_fill(~mask[:, None, :], -1e9)
        weights = torch.softmax(scores, dim=-1)  # (B, T, T)
        layers = [weights[:, None].expand(-1, 2, -1, -1)] * 3  # 3 × (B, 2, T, T)
        pooled = (weights @ x * mask[..., None]).sum(1) / lengths[:, None]  # (B, E)
        return ClassifierOutput(self.head(pooled), None, layers if return_layer_attention else None)


@pytest.mark.parametrize("cls", [False, True])
def test_layer_attention_is_cut_to_each_texts_tokens(cls):
    torch.manual_seed(0)
    model, pipeline = _FakeTransformer(cls=cls).eval(), _pipeline()
    texts = ["good", "not very good film", "dull plot"]
    for text, explanation in zip(texts, explain_texts(model, pipeline, LABELS, texts), strict=True):
        assert explanation.layer_tokens == ["[CLS]"] * cls + text.split()
        assert len(explanation.saliency) == len(text.split())
        t = len(text.split()) + cls
        assert len(explanation.layer_attention) == 3
        for layer in explanation.layer_attention:
            assert layer.shape == (2, t, t)
            assert layer.sum(axis=-1) == pytest.approx(1.0, abs=1e-5)
        alone = explain_texts(model, pipeline, LABELS, [text])[0]
        for together_layer, alone_layer in zip(
            explanation.layer_attention, alone.layer_attention, strict=True
        ):
            assert together_layer == pytest.approx(alone_layer, abs=1e-6)
        as_json = explanation.to_dict()["layer_attention"]
        assert len(as_json) == 3 and len(as_json[0]) == 2 and len(as_json[0][0]) == t


def test_empty_text_is_an_error():
    from textseq.errors import DataError

    with pytest.raises(DataError, match="text 2 is empty"):
        explain_texts(_linear_model(), _pipeline(), LABELS, ["good", "  "])


def test_layer_attention_that_fits_no_labelling_is_an_error():
    class TwoExtra(_FakeTransformer):
        def forward(self, token_ids, lengths, *, return_layer_attention=False):
            output = super().forward(token_ids, lengths)
            layer = torch.zeros(token_ids.size(0), 2, token_ids.size(1) + 2, token_ids.size(1) + 2)
            return ClassifierOutput(output.logits, None, [layer])

    with pytest.raises(ValueError, match=r"do(es)? not match the 2 input positions"):
        explain_texts(TwoExtra().eval(), _pipeline(), LABELS, ["good film"])


# -- integrated gradients (Captum) ------------------------------------------------------------


class _Bent(nn.Module):
    """A non-linear 'encoder' (tanh of a linear map): IG and gradient × input then differ."""

    output_size = 4

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.tanh(3 * self.mix(x))  # (B, T, 4)


def _bent_model() -> TextClassifier:
    torch.manual_seed(1)
    embedding = nn.Embedding(len(WORDS) + 2, 4, padding_idx=0)
    nn.init.normal_(embedding.weight, std=1.5)
    with torch.no_grad():
        embedding.weight[0].zero_()
    head = nn.Linear(4, 3)
    nn.init.normal_(head.weight, std=3.0)
    return TextClassifier(
        embedding=embedding, encoder=_Bent(), pooling=MeanPooling(), head=head
    ).eval()


def _logits_at_the_baseline(model: TextClassifier, token_ids, lengths) -> torch.Tensor:
    """z(0): the same model with every embedding row zeroed (IG's baseline), computed without
    Captum."""
    import copy

    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed.embedding.weight.zero_()
        return zeroed(token_ids, lengths).logits  # (B, C)


def test_integrated_gradients_are_complete_within_captums_delta():
    from textseq.explain import integrated_gradients

    model = _bent_model()
    token_ids = torch.tensor([[2, 5, 3, 4, 8], [7, 6, 0, 0, 0]])  # second row padded
    lengths = torch.tensor([5, 2])
    with torch.no_grad():
        logits = model(token_ids, lengths).logits  # (B, C)
    target = logits.argmax(dim=-1)  # (B,)
    change = (logits - _logits_at_the_baseline(model, token_ids, lengths)).gather(
        1, target[:, None]
    )[:, 0]  # (B,): z_c(x) - z_c(0)
    assert torch.all(change.abs() > 0.1)  # the test means something: the logit does move

    scores, delta = integrated_gradients(model, token_ids, lengths, steps=64)  # (B, T), (B,)
    assert torch.all(scores[1, 2:] == 0)  # nothing at padding
    # Completeness (Sundararajan et al. 2017, Prop. 1): the scores add up to the change of
    # the logit, up to the quadrature error Captum reports as the delta, which is small.
    assert torch.all((scores.sum(dim=1) - change).abs() <= delta.abs() + 1e-5)
    assert torch.all(delta.abs() < 0.01 * change.abs())
    # The curvature matters: gradient × input (IG with one point) does not add up.
    gxi = gradient_x_input(model, token_ids, lengths)
    assert (gxi.sum(dim=1) - change).abs().max() > 20 * delta.abs().max()


def test_integrated_gradients_equal_gradient_x_input_for_a_linear_model():
    from textseq.explain import integrated_gradients

    model = _linear_model()
    token_ids, lengths = torch.tensor([[2, 5, 3, 4], [7, 6, 0, 0]]), torch.tensor([4, 2])
    scores, delta = integrated_gradients(model, token_ids, lengths)
    assert torch.allclose(scores, gradient_x_input(model, token_ids, lengths), atol=1e-5)
    assert delta.abs().max() < 1e-4
    assert not model.embedding._forward_hooks  # both hooks removed


def test_explanations_say_which_method_made_the_saliency():
    model, pipeline = _bent_model(), _pipeline()
    texts = ["good film not dull", "fun plot"]
    plain = explain_texts(model, pipeline, LABELS, texts)
    ig = explain_texts(model, pipeline, LABELS, texts, method="ig")
    for a, b in zip(plain, ig, strict=True):
        assert a.method == "gradient-x-input" and a.convergence_delta is None
        assert b.method == "ig" and abs(b.convergence_delta) < 1e-2
        assert b.method_name.startswith("integrated gradients")
        assert b.probs == a.probs and b.tokens == a.tokens
        assert max(abs(s) for s in b.saliency) == pytest.approx(1.0)
        assert b.saliency != pytest.approx(a.saliency, abs=1e-3)  # another method, other scores
        assert b.to_dict()["method"] == "ig"
    with pytest.raises(ValueError, match=r"method .'lime'. must be one of gradient-x-input, ig"):
        explain_texts(model, pipeline, LABELS, texts, method="lime")
