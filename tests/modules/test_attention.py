"""Attention modules: masking, normalisation and parity with PyTorch's implementations."""

import torch
from torch import nn

from textseq.modules.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    masked_softmax,
    scaled_dot_product_attention,
)


def test_masked_softmax_gives_exact_zeros_and_no_nan_for_empty_rows():
    scores = torch.randn(3, 5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    weights = masked_softmax(scores, mask)
    assert torch.all(weights[~mask] == 0)
    assert torch.allclose(weights[0].sum(), torch.tensor(1.0))
    assert torch.allclose(weights[1], torch.softmax(scores[1], dim=-1))
    assert torch.all(weights[2] == 0)
    assert not torch.isnan(weights).any()


def test_masked_softmax_gradient_is_finite_for_fully_masked_rows():
    scores = torch.randn(2, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    masked_softmax(scores, mask).sum().backward()
    assert torch.isfinite(scores.grad).all()


def test_scaled_dot_product_matches_pytorch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    mask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    mask[0, ..., 4:] = False
    context, weights = scaled_dot_product_attention(q, k, v, mask)
    expected = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(context, expected, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 4))
    assert torch.all(weights[0, ..., 4:] == 0)


def test_multi_head_attention_matches_torch_with_copied_weights():
    torch.manual_seed(0)
    embed, heads = 16, 4
    ours = MultiHeadAttention(embed_dim=embed, num_heads=heads).eval()
    reference = nn.MultiheadAttention(embed, heads, batch_first=True).eval()
    with torch.no_grad():
        w_q, w_k, w_v = reference.in_proj_weight.chunk(3)
        b_q, b_k, b_v = reference.in_proj_bias.chunk(3)
        for proj, w, b in (
            (ours.q_proj, w_q, b_q),
            (ours.k_proj, w_k, b_k),
            (ours.v_proj, w_v, b_v),
        ):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        ours.out_proj.weight.copy_(reference.out_proj.weight)
        ours.out_proj.bias.copy_(reference.out_proj.bias)
    query, keys = torch.randn(3, 5, embed), torch.randn(3, 7, embed)
    key_mask = torch.ones(3, 7, dtype=torch.bool)
    key_mask[1, 3:] = False
    out, weights = ours(query, keys, keys, key_mask=key_mask)
    expected, expected_weights = reference(
        query, keys, keys, key_padding_mask=~key_mask, average_attn_weights=False
    )
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(weights, expected_weights, atol=1e-5)


def test_multi_head_attention_rejects_indivisible_heads():
    try:
        MultiHeadAttention(embed_dim=10, num_heads=4)
    except ValueError as error:
        assert "10" in str(error) and "4" in str(error)
    else:
        raise AssertionError("expected ValueError")


def test_additive_attention_equals_its_formula():
    torch.manual_seed(0)
    attention = AdditiveAttention(key_dim=6, attention_dim=5, query_dim=3)
    keys, query = torch.randn(2, 4, 6), torch.randn(2, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    context, alphas = attention(keys, mask, query=query)
    energy = attention.energy(
        torch.tanh(attention.key_projection(keys) + attention.query_projection(query)[:, None])
    ).squeeze(-1)
    expected_alphas = masked_softmax(energy, mask)
    assert torch.allclose(alphas, expected_alphas)
    assert torch.allclose(context, (expected_alphas[..., None] * keys).sum(1), atol=1e-6)
    assert torch.all(alphas[1, 2:] == 0)
