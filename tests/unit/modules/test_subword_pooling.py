"""Subword states to word vectors: known answers for first-subword and mean pooling, specials
and padding never reach a word, and the layer mix."""

import pytest
import torch

from textseq.modules.subword_pooling import mix_layers, pool_subwords

# [CLS] New York ##er ##s visits [SEP] <pad>: words 0 (New), 1 (Yorkers: 3 pieces), 2 (visits)
WORD_INDEX = torch.tensor([[-1, 0, 1, 1, 1, 2, -1, -1]])
STATES = torch.arange(8.0).view(1, 8, 1).repeat(1, 1, 2) * torch.tensor([1.0, 10.0])


def test_first_subword_pooling_known_answer():
    words = pool_subwords(STATES, WORD_INDEX, num_words=4, pooling="first")  # (1, 4, 2)
    expected = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [5.0, 50.0], [0.0, 0.0]]])
    torch.testing.assert_close(words, expected)


def test_mean_pooling_known_answer():
    words = pool_subwords(STATES, WORD_INDEX, num_words=3, pooling="mean")  # (1, 3, 2)
    expected = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]]])
    torch.testing.assert_close(words, expected)


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_specials_and_padding_never_reach_a_word(pooling):
    garbage = STATES.clone()
    garbage[0, [0, 6, 7]] = 1e6
    torch.testing.assert_close(
        pool_subwords(garbage, WORD_INDEX, 3, pooling),
        pool_subwords(STATES, WORD_INDEX, 3, pooling),
    )


def test_gradients_flow_only_to_the_pooled_subwords():
    states = STATES.clone().requires_grad_(True)
    pool_subwords(states, WORD_INDEX, 3, "first").sum().backward()
    assert states.grad[0, :, 0].tolist() == [0, 1, 1, 0, 0, 1, 0, 0]


def test_mix_layers_averages_the_chosen_layers():
    layers = [torch.full((1, 2, 3), float(i)) for i in range(7)]  # embeddings + 6 layers
    torch.testing.assert_close(mix_layers(layers, [-1, -2]), torch.full((1, 2, 3), 5.5))
    with pytest.raises(ValueError, match="layer 7 is out of range for 7"):
        mix_layers(layers, [7])
