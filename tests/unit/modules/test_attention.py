"""Attention modules: masking, normalisation and parity with PyTorch's implementations."""

import math

import pytest
import torch
from torch import nn

from textseq.modules.attention import (
    AdditiveAttention,
    LuongAttention,
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
)


def copy_from_torch(ours: MultiHeadAttention, reference: nn.MultiheadAttention) -> None:
    """Copies `nn.MultiheadAttention`'s packed q/k/v projection and output projection."""
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
    copy_from_torch(ours, reference)
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


# --- scaled dot-product and multi-head: causal masks, fast path ---------------------------


def test_scaled_dot_product_with_a_causal_and_padding_mask_matches_pytorch():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    key_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    mask = key_mask[:, None, None, :] & causal_mask(5)  # (B, 1, T, T)
    context, weights = scaled_dot_product_attention(q, k, v, mask)
    expected = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(context, expected, atol=1e-5)
    causal_only, _ = scaled_dot_product_attention(q, k, v, causal_mask(5))
    expected = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(causal_only, expected, atol=1e-5)
    assert torch.all(weights.masked_select(~mask.expand_as(weights)) == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 5))


def test_causal_mask_is_lower_triangular():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]


@pytest.mark.parametrize("need_weights", [True, False])
def test_multi_head_attention_with_causal_and_padding_masks_matches_torch(need_weights):
    torch.manual_seed(2)
    embed, heads, t = 12, 3, 6
    ours = MultiHeadAttention(embed_dim=embed, num_heads=heads).eval()
    reference = nn.MultiheadAttention(embed, heads, batch_first=True).eval()
    copy_from_torch(ours, reference)
    x = torch.randn(3, t, embed)
    key_mask = torch.ones(3, t, dtype=torch.bool)
    key_mask[1, 4:] = False
    key_mask[2, 2:] = False
    out, weights = ours(x, x, x, key_mask=key_mask, causal=True, need_weights=need_weights)
    expected, expected_weights = reference(
        x,
        x,
        x,
        key_padding_mask=~key_mask,
        attn_mask=~causal_mask(t),
        average_attn_weights=False,
    )
    real = key_mask  # torch's output at fully hidden rows is undefined; compare real positions
    assert torch.allclose(out[real], expected[real], atol=1e-5)
    if need_weights:
        assert torch.allclose(
            weights.transpose(1, 2)[real], expected_weights.transpose(1, 2)[real], atol=1e-5
        )
        assert torch.all(weights.triu(diagonal=1) == 0)  # nothing from the future
    else:
        assert weights is None


def test_multi_head_fast_path_equals_the_weights_path():
    torch.manual_seed(3)
    attention = MultiHeadAttention(embed_dim=16, num_heads=4).eval()
    x = torch.randn(2, 7, 16)
    key_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3], dtype=torch.bool)
    for causal in (False, True):
        for mask in (None, key_mask):
            slow, weights = attention(x, x, x, key_mask=mask, causal=causal)
            fast, none = attention(x, x, x, key_mask=mask, causal=causal, need_weights=False)
            assert none is None and weights is not None
            assert torch.allclose(slow, fast, atol=1e-5)


def test_multi_head_causal_output_at_t_ignores_later_tokens():
    torch.manual_seed(4)
    attention = MultiHeadAttention(embed_dim=8, num_heads=2).eval()
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[:, 3:] = torch.randn(1, 3, 8)
    for need_weights in (True, False):
        a, _ = attention(x, x, x, causal=True, need_weights=need_weights)
        b, _ = attention(changed, changed, changed, causal=True, need_weights=need_weights)
        assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
        assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_multi_head_fully_masked_rows_give_zero_weights_and_no_nan():
    attention = MultiHeadAttention(embed_dim=8, num_heads=2).eval()
    x = torch.randn(2, 3, 8)
    hide_all = torch.zeros(2, 3, 3, dtype=torch.bool)
    hide_all[0] = True  # example 0 sees everything, example 1 nothing
    out, weights = attention(x, x, x, attn_mask=hide_all)
    assert torch.isfinite(out).all()
    assert torch.all(weights[1] == 0)
    assert torch.allclose(weights[0].sum(-1), torch.ones(2, 3))
    fast, _ = attention(x, x, x, attn_mask=hide_all, need_weights=False)
    assert torch.isfinite(fast).all()


def test_multi_head_causal_needs_square_attention():
    attention = MultiHeadAttention(embed_dim=8, num_heads=2)
    with pytest.raises(ValueError, match=r"as many queries \(2\) as keys \(3\)"):
        attention(torch.randn(1, 2, 8), torch.randn(1, 3, 8), torch.randn(1, 3, 8), causal=True)


# --- Luong (2015) ---------------------------------------------------------------------------


def _tiny_luong_inputs():
    query = torch.tensor([[1.0, 0.0], [0.5, -1.0]])  # (B=2, Q=2)
    keys = torch.tensor(
        [[[1.0, 2.0], [0.0, 1.0], [-1.0, 0.5]], [[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]]]
    )  # (B=2, Tk=3, K=2)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    return query, keys, mask


def _softmax(scores: list[float]) -> torch.Tensor:
    exps = [math.exp(s) for s in scores]
    return torch.tensor([e / sum(exps) for e in exps])


def test_luong_dot_equals_the_hand_computed_formula():
    query, keys, mask = _tiny_luong_inputs()
    context, alphas = LuongAttention(query_dim=2, key_dim=2, score="dot")(query, keys, mask)
    # example 0: h_t . h_s = 1, 0, -1 ; example 1: 1, -0.5, (masked)
    expected_0 = _softmax([1.0, 0.0, -1.0])
    expected_1 = torch.cat([_softmax([1.0, -0.5]), torch.zeros(1)])
    assert torch.allclose(alphas[0], expected_0, atol=1e-6)
    assert torch.allclose(alphas[1], expected_1, atol=1e-6)
    assert alphas[1, 2] == 0
    assert torch.allclose(context[0], expected_0 @ keys[0], atol=1e-6)
    assert torch.allclose(context[1], expected_1 @ keys[1], atol=1e-6)


def test_luong_general_equals_the_hand_computed_formula():
    query, keys, mask = _tiny_luong_inputs()
    attention = LuongAttention(query_dim=2, key_dim=2, score="general")
    with torch.no_grad():
        attention.weight.weight.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))  # W_a
    _, alphas = attention(query, keys, mask)
    # W_a h_s = (h_s[1], 2 h_s[0]); example 0 with h_t = (1, 0): scores 2, 1, 0.5
    assert torch.allclose(alphas[0], _softmax([2.0, 1.0, 0.5]), atol=1e-6)
    # example 1 with h_t = (0.5, -1): W_a h_s = (0, 4), (1, 2) -> scores -4, -1.5
    assert torch.allclose(alphas[1, :2], _softmax([-4.0, -1.5]), atol=1e-6)


def test_luong_concat_equals_the_hand_computed_formula():
    query, keys, mask = _tiny_luong_inputs()
    attention = LuongAttention(query_dim=2, key_dim=2, score="concat", attention_dim=2)
    with torch.no_grad():
        attention.concat_projection.weight.copy_(
            torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
        )  # W_a [h_t; h_s] = (h_t[0] + h_s[0], h_s[1])
        attention.energy.weight.copy_(torch.tensor([[1.0, -1.0]]))  # v_a
    _, alphas = attention(query, keys, mask)
    expected = [math.tanh(1 + k0) - math.tanh(k1) for k0, k1 in keys[0].tolist()]
    assert torch.allclose(alphas[0], _softmax(expected), atol=1e-6)
    expected = [math.tanh(0.5 + k0) - math.tanh(k1) for k0, k1 in keys[1, :2].tolist()]
    assert torch.allclose(alphas[1, :2], _softmax(expected), atol=1e-6)


def test_luong_takes_several_queries_and_returns_one_row_each():
    query, keys, mask = _tiny_luong_inputs()
    attention = LuongAttention(query_dim=2, key_dim=2, score="general")
    single, single_alphas = attention(query, keys, mask)
    several, alphas = attention(query.unsqueeze(1).repeat(1, 4, 1), keys, mask)  # (B, 4, Q)
    assert several.shape == (2, 4, 2) and alphas.shape == (2, 4, 3)
    assert torch.allclose(several[:, 3], single, atol=1e-6)
    assert torch.allclose(alphas[:, 0], single_alphas, atol=1e-6)


def test_luong_rejects_bad_arguments():
    with pytest.raises(ValueError, match="'bilinear'"):
        LuongAttention(query_dim=2, key_dim=2, score="bilinear")
    with pytest.raises(ValueError, match=r"query_dim \(3\) equal to key_dim \(2\)"):
        LuongAttention(query_dim=3, key_dim=2, score="dot")
