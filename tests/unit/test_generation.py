"""Decoding: top-k 1 is greedy, nucleus sampling keeps the smallest set reaching p, sampling is
reproducible for a seed."""

import math

import pytest
import torch

from textseq.generation import generate_ids, next_token, top_k_filter, top_p_filter
from textseq.models.language_model import build_rnn_language_model
from textseq.models.transformer_lm import build_transformer_language_model


def _kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits).nonzero().flatten().tolist()


PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])  # ranked: 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)


@pytest.mark.parametrize(
    ("p", "kept"),
    [
        (0.3, [1]),  # the top token alone already reaches p
        (0.5, [1]),
        (0.51, [1, 3]),
        (0.8, [1, 3]),  # 0.5 + 0.3 reaches 0.8 exactly
        (0.81, [1, 2, 3]),
        (0.95, [1, 2, 3]),
        (0.96, [0, 1, 2, 3]),
        (1.0, [0, 1, 2, 3]),
    ],
)
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    assert _kept(top_p_filter(PROBS.log(), p)) == kept


def test_top_p_renormalises_over_the_nucleus():
    probs = torch.softmax(top_p_filter(PROBS.log(), 0.8), dim=-1)
    assert probs.tolist() == pytest.approx([0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8])


def test_top_k_keeps_the_k_best():
    assert _kept(top_k_filter(PROBS.log(), 2)) == [1, 3]
    assert _kept(top_k_filter(PROBS.log(), 10)) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"top_k \(0\) must be at least 1"):
        top_k_filter(PROBS, 0)
    with pytest.raises(ValueError, match=r"top_p \(0\.0\) must be in \(0, 1\]"):
        top_p_filter(PROBS, 0.0)


def test_sampling_frequencies_follow_the_nucleus():
    generator = torch.Generator().manual_seed(0)
    draws = [next_token(PROBS.log(), top_p=0.8, generator=generator) for _ in range(4000)]
    assert set(draws) == {1, 3}
    assert draws.count(1) / len(draws) == pytest.approx(0.625, abs=0.03)


def _models():
    torch.manual_seed(0)
    rnn = build_rnn_language_model(vocab_size=30, embedding_dim=16, hidden_size=16)
    transformer = build_transformer_language_model(
        vocab_size=30, embedding_dim=16, num_heads=2, ff_dim=32, num_layers=2, max_length=8
    )
    return [rnn.eval(), transformer.eval()]


@pytest.mark.parametrize("model", _models(), ids=["rnn", "transformer"])
def test_top_k_1_equals_greedy(model):
    greedy = list(generate_ids(model, [1, 2], max_tokens=20, temperature=0))
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        sampled = generate_ids(
            model, [1, 2], max_tokens=20, temperature=1.5, top_k=1, generator=generator
        )
        assert list(sampled) == greedy


@pytest.mark.parametrize("model", _models(), ids=["rnn", "transformer"])
def test_greedy_equals_argmax_of_a_full_forward_pass(model):
    """Generating token by token (state carried, or the context re-read) agrees with scoring
    the whole generated sequence at once."""
    prompt = [4, 5, 6]
    generated = list(generate_ids(model, prompt, max_tokens=5, temperature=0))
    sequence = torch.tensor([prompt + generated])  # (1, 8): fits the transformer's context
    logits, _ = model(sequence)
    assert logits[0, len(prompt) - 1 : -1].argmax(-1).tolist() == generated


@pytest.mark.parametrize("model", _models(), ids=["rnn", "transformer"])
def test_sampling_is_reproducible_for_a_seed(model):
    def sample(seed):
        generator = torch.Generator().manual_seed(seed)
        return list(generate_ids(model, [3], max_tokens=30, top_p=0.95, generator=generator))

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_generation_stops_after_the_stop_token():
    model = _models()[0]
    greedy = list(generate_ids(model, [1], max_tokens=30, temperature=0))
    stop = greedy[3]
    first = greedy.index(stop)
    assert (
        list(generate_ids(model, [1], max_tokens=30, temperature=0, stop=stop))
        == greedy[: first + 1]
    )
    assert math.isfinite(first)
