"""The encoder-decoder without attention (Cho et al. 2014): the source reaches the decoder
only through its final encoder states, which initialise the decoder and are fed at every
step."""

import pytest
import torch

from textseq.models.seq2seq import RecurrentSeq2Seq


def tiny(seed=0, **options):
    torch.manual_seed(seed)
    return RecurrentSeq2Seq(
        src_vocab_size=9,
        tgt_vocab_size=9,
        embedding_dim=8,
        encoder_hidden_size=6,
        decoder_hidden_size=10,
        attention="none",
        **options,
    ).eval()


def step_logits(model, encoded, state=None, steps=3):
    state = model.start(encoded) if state is None else state
    y, out = torch.full((encoded.memory.size(0),), 2), []
    for _ in range(steps):
        logits, state, alphas = model.step(y, state, encoded)
        out.append(logits)
        y = logits.argmax(-1)
    return torch.stack(out, 1), alphas


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_only_the_final_states_reach_the_decoder(cell):
    model = tiny(cell=cell)
    src, lengths = torch.tensor([[4, 5, 6, 7], [8, 4, 0, 0]]), torch.tensor([4, 2])
    encoded = model.encode(src, lengths)
    logits, alphas = step_logits(model, encoded)
    assert alphas.abs().sum() == 0  # it attends to no position
    encoded.memory = torch.randn_like(encoded.memory)  # every state but the summary changed
    torch.testing.assert_close(step_logits(model, encoded)[0], logits)


def test_the_summary_is_fed_at_every_step_not_only_at_the_start():
    """With the initial state zeroed, the source still changes the output: c is part of
    every step's input (Cho et al. 2014, sec. 2.2)."""
    model = tiny()
    lengths = torch.tensor([3])
    outputs = []
    for src in (torch.tensor([[4, 5, 6]]), torch.tensor([[7, 8, 4]])):
        encoded = model.encode(src, lengths)
        state = model.start(encoded)
        state.hidden = torch.zeros_like(state.hidden)
        outputs.append(step_logits(model, encoded, state)[0])
    assert not torch.allclose(outputs[0], outputs[1])


def test_the_bridge_cannot_be_left_out():
    with pytest.raises(ValueError, match="needs the bridge"):
        tiny(bridge=False)


def test_the_config_chooses_it_and_refuses_the_keys_it_does_not_read():
    from textseq.errors import ConfigError
    from textseq.tasks import load_config

    cfg = load_config({"task": "translate"}, ["model.rnn.attention=none"])
    assert "bridge" not in cfg.to_dict()["model"]["rnn"]
    for key in ("model.rnn.bridge=false", "model.rnn.attention_dim=16"):
        with pytest.raises(ConfigError, match=r"does not apply to model\.rnn\.attention 'none'"):
            load_config({"task": "translate"}, ["model.rnn.attention=none", key])
