"""Positional encodings: the sinusoid formula of Vaswani et al. 2017 (section 3.5) by hand,
learned positions, offsets."""

import math

import pytest
import torch

from textseq.modules.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    build_positional,
)


def test_sinusoidal_table_equals_the_formula():
    dim = 6
    encoding = SinusoidalPositionalEncoding(dim=dim, max_length=20)
    out = encoding(torch.zeros(1, 10, dim))[0]  # adding to zeros exposes the table
    for pos in range(10):
        for i in range(dim // 2):
            angle = pos / 10000 ** (2 * i / dim)
            assert out[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert out[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_works_for_odd_dimensions_and_offsets():
    encoding = SinusoidalPositionalEncoding(dim=5, max_length=16)
    table = encoding(torch.zeros(1, 16, 5))[0]
    assert torch.allclose(encoding(torch.zeros(2, 4, 5), offset=3), table[3:7].expand(2, 4, 5))
    assert table[:, 4].abs().max() <= 1.0
    assert "table" not in encoding.state_dict()  # computed, never saved


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_too_long_inputs_are_an_error_naming_the_lengths(kind):
    module = build_positional(kind, dim=4, max_length=8)
    with pytest.raises(ValueError, match=r"positions up to 9 .* 8"):
        module(torch.zeros(1, 9, 4))


def test_learned_positions_add_one_trained_vector_per_position():
    module = LearnedPositionalEmbedding(dim=4, max_length=8)
    x = torch.randn(2, 5, 4)
    out = module(x)
    assert torch.allclose(out - x, module.embedding.weight[:5].expand(2, 5, 4), atol=1e-6)
    assert torch.allclose(
        module(x[:, :2], offset=3) - x[:, :2], module.embedding.weight[3:5], atol=1e-6
    )
    out.sum().backward()
    assert module.embedding.weight.grad[:5].abs().sum() > 0
    assert module.embedding.weight.grad[5:].abs().sum() == 0


def test_none_adds_nothing_and_unknown_kinds_are_errors():
    x = torch.randn(1, 3, 4)
    assert torch.equal(build_positional("none", dim=4, max_length=2)(x, offset=7), x)
    with pytest.raises(ValueError, match="'rotary'"):
        build_positional("rotary", dim=4, max_length=8)
