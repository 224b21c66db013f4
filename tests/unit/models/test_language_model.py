"""Language models: tied weights share storage, a carried state equals reading the whole
sequence, uniform output has perplexity equal to the vocabulary size, causality."""

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model

from textseq.models.language_model import build_rnn_language_model, vocabulary_decoder
from textseq.models.transformer_lm import build_transformer_language_model
from textseq.modules.rnn import detach_state
from textseq.tasks.lm.metrics import nll_of, summarize_nll


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tied_weights_share_storage_and_survive_saving(cell, tmp_path):
    model = build_rnn_language_model(
        vocab_size=40, embedding_dim=12, hidden_size=12, cell=cell, tie_weights=True
    )
    assert model.decoder.weight is model.embedding.weight
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel()
        for p in build_rnn_language_model(
            vocab_size=40, embedding_dim=12, hidden_size=12, cell=cell, tie_weights=False
        ).parameters()
    )
    save_model(model, str(tmp_path / "m.safetensors"))
    fresh = build_rnn_language_model(
        vocab_size=40, embedding_dim=12, hidden_size=12, cell=cell, tie_weights=True
    )
    load_model(fresh, str(tmp_path / "m.safetensors"))
    assert fresh.decoder.weight.data_ptr() == fresh.embedding.weight.data_ptr()
    assert torch.equal(fresh.embedding.weight, model.embedding.weight)


def test_transformer_tied_weights_share_storage():
    model = build_transformer_language_model(
        vocab_size=40, embedding_dim=16, num_heads=2, ff_dim=32, num_layers=1, max_length=8
    )
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()


def test_tying_needs_equal_sizes():
    with pytest.raises(ValueError, match=r"embedding size \(10\) to equal the encoder's output"):
        build_rnn_language_model(vocab_size=40, embedding_dim=10, hidden_size=12, tie_weights=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carrying_state_across_two_halves_equals_the_whole_sequence(cell):
    torch.manual_seed(0)
    model = build_rnn_language_model(
        vocab_size=25, embedding_dim=8, hidden_size=8, num_layers=2, cell=cell, dropout=0.3
    ).eval()
    tokens = torch.randint(0, 25, (3, 21))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]  # (3, 20)
    whole, _ = model(inputs)
    first, state = model(inputs[:, :10])
    second, _ = model(inputs[:, 10:], detach_state(state))
    halves = torch.cat([first, second], dim=1)
    torch.testing.assert_close(halves, whole)

    def loss(logits, y):
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    halves_loss = (loss(first, targets[:, :10]) + loss(second, targets[:, 10:])) / 2
    torch.testing.assert_close(halves_loss, loss(whole, targets))
    # Without the state the second half is read from scratch and scores differently.
    fresh, _ = model(inputs[:, 10:])
    assert not torch.allclose(fresh, second)


def test_detached_state_cuts_the_graph():
    model = build_rnn_language_model(vocab_size=10, embedding_dim=4, hidden_size=4)
    _, state = model(torch.randint(0, 10, (2, 5)))
    assert all(s.requires_grad for s in state)
    assert not any(s.requires_grad for s in detach_state(state))


@pytest.mark.parametrize("vocab_size", [7, 100])
def test_uniform_output_has_perplexity_equal_to_the_vocabulary_size(vocab_size):
    model = build_rnn_language_model(vocab_size=vocab_size, embedding_dim=6, hidden_size=6)
    with torch.no_grad():
        model.decoder.weight.zero_()  # tied: the embeddings are zero too; the output is flat
        model.decoder.bias.zero_()
    ids = torch.randint(0, vocab_size, (500,))
    total, count = nll_of(model, ids, batch_size=4, bptt=9)
    assert count == 4 * (500 // 4 - 1)
    result = summarize_nll(total, count, character_level=False)
    assert result["perplexity"] == pytest.approx(vocab_size, rel=1e-5)
    assert result["loss"] == pytest.approx(math.log(vocab_size), rel=1e-5)
    bits = summarize_nll(total, count, character_level=True)["bits_per_character"]
    assert bits == pytest.approx(math.log2(vocab_size), rel=1e-5)


def test_transformer_is_causal():
    torch.manual_seed(0)
    model = build_transformer_language_model(
        vocab_size=30, embedding_dim=16, num_heads=4, ff_dim=32, num_layers=2, max_length=12
    ).eval()
    tokens = torch.randint(0, 30, (2, 12))
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 30  # a different future
    full, state = model(tokens)
    assert state is None
    torch.testing.assert_close(model(changed).logits[:, :7], full[:, :7])
    assert not torch.allclose(model(changed).logits[:, 7:], full[:, 7:])
    with pytest.raises(ValueError, match=r"window of 13 tokens exceeds the context size \(12\)"):
        model(torch.zeros(1, 13, dtype=torch.long))


def test_the_vocabulary_decoder_is_the_embedding_table_when_tied_and_starts_without_bias():
    embedding = torch.nn.Embedding(30, 6)
    tied = vocabulary_decoder(embedding, 6, tie_weights=True)
    assert tied.weight is embedding.weight
    assert torch.equal(tied.bias, torch.zeros(30))
    untied = vocabulary_decoder(embedding, 8, tie_weights=False)
    assert untied.weight.shape == (30, 8) and untied.weight is not embedding.weight
