import pytest
import torch

from textseq.modules.embedding import build_embedding


def test_learned_table_has_a_zero_padding_row_that_gets_no_gradient():
    torch.manual_seed(0)
    table = build_embedding(vocab_size=10, embedding_dim=4, pad_index=0)
    assert torch.equal(table.weight[0], torch.zeros(4))
    table(torch.tensor([[0, 3, 3]])).sum().backward()
    assert torch.equal(table.weight.grad[0], torch.zeros(4))
    assert table.weight.grad[3].abs().sum() > 0


def test_uniform_init_stays_inside_its_range_and_normal_uses_its_scale():
    torch.manual_seed(0)
    uniform = build_embedding(vocab_size=2000, embedding_dim=12, init="uniform")
    bound = (3 / 12) ** 0.5
    assert uniform.weight.abs().max() <= bound
    assert uniform.weight.abs().max() > 0.9 * bound
    lm = build_embedding(vocab_size=2000, embedding_dim=12, init="uniform", init_scale=0.1)
    assert lm.weight.abs().max() <= 0.1
    normal = build_embedding(vocab_size=4000, embedding_dim=16, init="normal")
    assert normal.weight.std().item() == pytest.approx(16**-0.5, rel=0.05)


def test_pretrained_vectors_are_used_as_given_and_frozen_on_request():
    vectors = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    table = build_embedding(vocab_size=3, embedding_dim=4, pretrained=vectors, freeze=True)
    assert torch.equal(table.weight, vectors.float())
    assert not table.weight.requires_grad
    assert build_embedding(vocab_size=3, embedding_dim=4, freeze=True).weight.requires_grad is False


def test_wrong_shapes_and_unknown_init_are_errors():
    with pytest.raises(ValueError, match=r"shape \(3, 4\), expected \(3, 5\)"):
        build_embedding(vocab_size=3, embedding_dim=5, pretrained=torch.zeros(3, 4))
    with pytest.raises(ValueError, match="init"):
        build_embedding(vocab_size=3, embedding_dim=4, init="xavier")
