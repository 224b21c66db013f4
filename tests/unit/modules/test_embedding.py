import copy

import pytest
import torch
from torch import nn

from textseq.modules.embedding import (
    PartlyTrainedEmbedding,
    build_embedding,
    source_target_embeddings,
    train_only_rows,
)


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


# --- only the rows training reaches are trained --------------------------------------------

VOCAB, DIM, PAD = 12, 4, 0
REACHABLE = [1, 2, 3, 5, 8]  # token ids of the "training data"; the rest only vectors know


def _whole_table() -> nn.Embedding:
    return build_embedding(
        vocab_size=VOCAB, embedding_dim=DIM, pad_index=PAD, pretrained=torch.randn(VOCAB, DIM)
    )


def test_lookups_equal_the_whole_table_for_every_id():
    table = _whole_table()
    partly = train_only_rows(table, REACHABLE)
    assert isinstance(partly, PartlyTrainedEmbedding)
    assert partly.trained.shape == (len(REACHABLE), DIM)  # the padding row is not trained
    ids = torch.tensor([[0, 1, 11, 5], [4, 8, 2, 0]])
    torch.testing.assert_close(partly(ids), table(ids), rtol=0, atol=0)
    torch.testing.assert_close(partly.weight, table.weight.detach(), rtol=0, atol=0)


def test_training_steps_match_the_whole_table_exactly():
    """Adam over the reachable rows only gives the table Adam over every row gives, since
    the other rows' gradient is zero at every step."""
    torch.manual_seed(0)
    table = _whole_table()
    start = table.weight.detach().clone()
    partly = train_only_rows(copy.deepcopy(table), REACHABLE)
    head = nn.Linear(DIM, 1)
    for module in (table, partly):
        module_head = copy.deepcopy(head)
        optimiser = torch.optim.Adam([*module.parameters(), *module_head.parameters()], lr=0.1)
        generator = torch.Generator().manual_seed(1)
        for _ in range(5):
            ids = torch.tensor([*REACHABLE, PAD])[torch.randint(6, (3, 7), generator=generator)]
            loss = module_head(module(ids)).square().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    torch.testing.assert_close(partly.weight, table.weight.detach())
    moved = (partly.weight != start).any(1).nonzero().flatten().tolist()
    assert moved == REACHABLE


def test_state_dict_is_the_whole_table_and_round_trips_through_a_plain_embedding():
    partly = train_only_rows(_whole_table(), REACHABLE)
    with torch.no_grad():
        partly.trained.add_(1.0)  # as if trained
    state = partly.state_dict()
    assert list(state) == ["weight"] and state["weight"].shape == (VOCAB, DIM)
    plain = nn.Embedding(VOCAB, DIM, padding_idx=PAD)
    plain.load_state_dict(state)
    ids = torch.arange(VOCAB)
    torch.testing.assert_close(plain(ids), partly(ids), rtol=0, atol=0)
    fresh = train_only_rows(_whole_table(), REACHABLE)
    fresh.load_state_dict(plain.state_dict())
    torch.testing.assert_close(fresh(ids), partly(ids), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        fresh.load_state_dict({"weight": torch.zeros(VOCAB + 1, DIM)})
    with pytest.raises(RuntimeError, match="Missing key"):
        fresh.load_state_dict({})


def test_a_frozen_table_or_one_whose_every_row_is_reached_stays_as_it_is():
    frozen = build_embedding(
        vocab_size=VOCAB, embedding_dim=DIM, pretrained=torch.randn(VOCAB, DIM), freeze=True
    )
    assert train_only_rows(frozen, REACHABLE) is frozen
    table = _whole_table()
    assert train_only_rows(table, range(1, VOCAB)) is table  # all but padding


def test_translation_tables_are_one_when_shared_and_start_with_a_zero_padding_row():
    torch.manual_seed(0)
    src, tgt = source_target_embeddings(
        src_vocab_size=12, tgt_vocab_size=15, embedding_dim=4, pad_index=0
    )
    assert src is not tgt and src.weight.shape == (12, 4) and tgt.weight.shape == (15, 4)
    assert torch.equal(src.weight[0], torch.zeros(4)) and torch.equal(tgt.weight[0], torch.zeros(4))
    shared_src, shared_tgt = source_target_embeddings(
        src_vocab_size=12, tgt_vocab_size=12, embedding_dim=4, pad_index=0, share=True
    )
    assert shared_src is shared_tgt
    with pytest.raises(ValueError, match=r"one vocabulary, got sizes 12 \(source\) and 15"):
        source_target_embeddings(
            src_vocab_size=12, tgt_vocab_size=15, embedding_dim=4, pad_index=0, share=True
        )
