"""Transformer encoder: parity with `torch.nn.TransformerEncoderLayer` (copied weights), the
fused fast path equals the weights path, causality and padding invariance."""

import pytest
import torch
from test_attention import copy_from_torch
from torch import nn

from textseq.modules.attention import causal_mask
from textseq.modules.transformer import TransformerEncoder, TransformerEncoderLayer

D_MODEL, HEADS, FF = 16, 4, 32


def copy_layer_from_torch(ours: TransformerEncoderLayer, reference: nn.TransformerEncoderLayer):
    copy_from_torch(ours.self_attn, reference.self_attn)
    with torch.no_grad():
        for name in ("linear1", "linear2", "norm1", "norm2"):
            for parameter in ("weight", "bias"):
                getattr(getattr(ours, name), parameter).copy_(
                    getattr(getattr(reference, name), parameter)
                )


def padded_batch(seed: int = 0):
    torch.manual_seed(seed)
    x = torch.randn(3, 7, D_MODEL)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 5:] = False
    mask[2, 2:] = False
    return x, mask


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("causal", [False, True])
def test_layer_matches_torch_with_copied_weights(norm_first, activation, causal):
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(
        D_MODEL,
        HEADS,
        FF,
        dropout=0.1,
        activation=activation,
        batch_first=True,
        norm_first=norm_first,
    ).eval()
    ours = TransformerEncoderLayer(
        d_model=D_MODEL,
        num_heads=HEADS,
        ff_dim=FF,
        dropout=0.1,
        norm_first=norm_first,
        activation=activation,
    ).eval()
    copy_layer_from_torch(ours, reference)
    x, mask = padded_batch()
    with torch.no_grad():
        expected = reference(
            x,
            src_mask=~causal_mask(7) if causal else None,  # torch: True = hidden
            src_key_padding_mask=~mask,
            is_causal=causal,
        )
        slow, weights = ours(x, mask, causal=causal, need_weights=True)
        fast, none = ours(x, mask, causal=causal)
    assert none is None
    assert weights.shape == (3, HEADS, 7, 7)
    # torch's fast path may write zeros at padded positions: compare the real ones
    assert torch.allclose(slow[mask], expected[mask], atol=1e-5)
    assert torch.allclose(fast[mask], expected[mask], atol=1e-5)
    assert torch.allclose(slow[mask], fast[mask], atol=1e-5)


def test_layer_weights_hide_padding_and_sum_to_one():
    x, mask = padded_batch(1)
    layer = TransformerEncoderLayer(d_model=D_MODEL, num_heads=HEADS, ff_dim=FF).eval()
    _, weights = layer(x, mask, need_weights=True)  # (B, N, T, T)
    hidden = ~mask[:, None, None, :].expand_as(weights)
    assert torch.all(weights[hidden] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(3, HEADS, 7), atol=1e-6)


def encoder(norm_first: bool = True, dropout: float = 0.0) -> TransformerEncoder:
    torch.manual_seed(5)
    return TransformerEncoder(
        num_layers=2,
        d_model=D_MODEL,
        num_heads=HEADS,
        ff_dim=FF,
        dropout=dropout,
        norm_first=norm_first,
        activation="gelu",
    ).eval()


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_matches_a_stack_of_torch_layers(norm_first):
    ours = encoder(norm_first)
    reference = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(
            D_MODEL,
            HEADS,
            FF,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=norm_first,
        ),
        num_layers=2,
        norm=nn.LayerNorm(D_MODEL) if norm_first else None,
        enable_nested_tensor=False,
    ).eval()
    for our_layer, layer in zip(ours.layers, reference.layers, strict=True):
        copy_layer_from_torch(our_layer, layer)
    if norm_first:
        ours.norm.load_state_dict(reference.norm.state_dict())
    x, mask = padded_batch(2)
    with torch.no_grad():
        expected = reference(x, src_key_padding_mask=~mask)
        states, weights = ours(x, mask, need_weights=True)
        fast, none = ours(x, mask)
    assert none is None and len(weights) == 2
    assert torch.allclose(states[mask], expected[mask], atol=1e-5)
    assert torch.allclose(fast[mask], states[mask], atol=1e-5)


def test_padding_never_changes_real_outputs():
    """A sequence alone equals the same sequence inside a padded batch."""
    model = encoder()
    x, mask = padded_batch(3)
    batch_states, batch_weights = model(x, mask, need_weights=True)
    for row in range(3):
        length = int(mask[row].sum())
        alone, alone_weights = model(x[row : row + 1, :length], need_weights=True)
        assert torch.allclose(batch_states[row, :length], alone[0], atol=1e-5)
        for layer_weights, single in zip(batch_weights, alone_weights, strict=True):
            assert torch.allclose(layer_weights[row, :, :length, :length], single[0], atol=1e-5)
        # garbage in the padding does not leak in either
        noisy = x.clone()
        noisy[row, length:] = 100.0
        noisy_states, _ = model(noisy, mask)
        assert torch.allclose(noisy_states[row, :length], alone[0], atol=1e-5)


@pytest.mark.parametrize("need_weights", [True, False])
def test_causal_encoder_output_at_t_ignores_later_tokens(need_weights):
    model = encoder()
    x = torch.randn(2, 8, D_MODEL)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 3, D_MODEL)
    a, _ = model(x, causal=True, need_weights=need_weights)
    b, _ = model(changed, causal=True, need_weights=need_weights)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_dropout_is_active_in_training_only():
    model = encoder(dropout=0.5)
    x, mask = padded_batch(4)
    evaluated = model(x, mask)[0]
    assert torch.equal(evaluated, model(x, mask)[0])
    model.train()
    assert not torch.allclose(model(x, mask)[0], evaluated)


def test_bad_arguments_name_their_values():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by num_heads \(4\)"):
        TransformerEncoder(num_layers=1, d_model=10, num_heads=4, ff_dim=8)
    with pytest.raises(ValueError, match=r"num_layers \(0\)"):
        TransformerEncoder(num_layers=0, d_model=8, num_heads=2, ff_dim=8)
    with pytest.raises(ValueError, match="'swish'"):
        TransformerEncoderLayer(d_model=8, num_heads=2, ff_dim=8, activation="swish")


# --- decoder layer ----------------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch_with_copied_weights(norm_first, activation):
    from textseq.modules.transformer import TransformerDecoderLayer

    torch.manual_seed(0)
    reference = nn.TransformerDecoderLayer(
        D_MODEL,
        HEADS,
        FF,
        dropout=0.1,
        activation=activation,
        batch_first=True,
        norm_first=norm_first,
    ).eval()
    ours = TransformerDecoderLayer(
        d_model=D_MODEL,
        num_heads=HEADS,
        ff_dim=FF,
        dropout=0.1,
        norm_first=norm_first,
        activation=activation,
    ).eval()
    copy_from_torch(ours.self_attn, reference.self_attn)
    copy_from_torch(ours.multihead_attn, reference.multihead_attn)
    with torch.no_grad():
        for name in ("linear1", "linear2", "norm1", "norm2", "norm3"):
            for parameter in ("weight", "bias"):
                getattr(getattr(ours, name), parameter).copy_(
                    getattr(getattr(reference, name), parameter)
                )
    x, mask = padded_batch(2)  # target side (B, T, E)
    memory, memory_mask = padded_batch(3)
    memory, memory_mask = memory[:, :5], memory_mask[:, :5]  # (B, S, E), S != T
    with torch.no_grad():
        expected = reference(
            x,
            memory,
            tgt_mask=~causal_mask(7),  # torch: True = hidden
            tgt_key_padding_mask=~mask,
            memory_key_padding_mask=~memory_mask,
            tgt_is_causal=True,
        )
        slow, self_weights, cross_weights = ours(x, memory, mask, memory_mask, need_weights=True)
        fast, none, _ = ours(x, memory, mask, memory_mask)
    assert none is None
    assert self_weights.shape == (3, HEADS, 7, 7) and cross_weights.shape == (3, HEADS, 7, 5)
    assert torch.allclose(slow[mask], expected[mask], atol=1e-5)
    assert torch.allclose(fast[mask], expected[mask], atol=1e-5)
    # causal: no weight on the future; padding of the memory: no weight at all
    assert torch.all(self_weights.triu(1) == 0)
    assert torch.all(cross_weights[~memory_mask[:, None, None, :].expand_as(cross_weights)] == 0)


def test_decoder_positions_do_not_see_the_future():
    from textseq.modules.transformer import TransformerDecoder

    torch.manual_seed(0)
    decoder = TransformerDecoder(num_layers=2, d_model=D_MODEL, num_heads=HEADS, ff_dim=FF).eval()
    x, _ = padded_batch(4)
    memory, _ = padded_batch(5)
    with torch.no_grad():
        full, _ = decoder(x, memory)
        changed = x.clone()
        changed[:, 4:] = torch.randn_like(changed[:, 4:])
        prefix, _ = decoder(changed, memory)
    assert torch.allclose(full[:, :4], prefix[:, :4], atol=1e-6)
    assert not torch.allclose(full[:, 4:], prefix[:, 4:])
