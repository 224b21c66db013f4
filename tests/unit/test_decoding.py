"""Greedy and beam search over the shared step interface: beam 1 is greedy, a wide beam finds
the brute-force best, batched decoding equals one sentence at a time, <eos> ends a hypothesis."""

import itertools
import math
from typing import ClassVar

import pytest
import torch

from textseq.decoding import beam_search, greedy_decode, length_penalty, select_batch
from textseq.models.seq2seq import RecurrentSeq2Seq

PAD, UNK, SOS, EOS = 0, 1, 2, 3


def tiny_model(vocab_size=7, seed=0, attention="bahdanau", cell="gru"):
    torch.manual_seed(seed)
    model = RecurrentSeq2Seq(
        src_vocab_size=vocab_size,
        tgt_vocab_size=vocab_size,
        embedding_dim=8,
        cell=cell,
        encoder_hidden_size=6,
        decoder_hidden_size=10,
        attention=attention,
        attention_dim=5,
    ).eval()
    with torch.no_grad():  # spread the logits so that the search has real choices to make
        model.decoder.output.weight.mul_(8.0)
    return model


def brute_force_best(model, src, lengths, *, words, max_steps, alpha):
    """Every sequence over `words` ending in <eos> within `max_steps` tokens, scored as beam
    search scores it."""
    encoded = model.encode(src, lengths)
    best = None
    with torch.inference_mode():
        for n in range(max_steps):
            for prefix in itertools.product(words, repeat=n):
                sequence = [*prefix, EOS]
                state, y_prev, log_prob = model.start(encoded), torch.tensor([SOS]), 0.0
                for token in sequence:
                    logits, state, _ = model.step(y_prev, state, encoded)
                    log_prob += float(torch.log_softmax(logits, dim=-1)[0, token])
                    y_prev = torch.tensor([token])
                score = log_prob / length_penalty(len(sequence), alpha)
                if best is None or score > best[1]:
                    best = (list(prefix), score)
    return best


def tiny_transformer(vocab_size=7, seed=0, norm_first=True):
    from textseq.models.seq2seq_transformer import TransformerSeq2Seq

    torch.manual_seed(seed)
    model = TransformerSeq2Seq(
        src_vocab_size=vocab_size,
        tgt_vocab_size=vocab_size,
        embedding_dim=8,
        encoder_layers=1,
        decoder_layers=2,
        num_heads=2,
        ff_dim=16,
        norm_first=norm_first,
    ).eval()
    with torch.no_grad():
        model.output.weight.mul_(8.0)
    return model


MODELS = {
    "gru": lambda seed=0: tiny_model(seed=seed),
    "lstm_general": lambda seed=0: tiny_model(seed=seed, cell="lstm", attention="general"),
    "gru_no_attention": lambda seed=0: tiny_model(seed=seed, attention="none"),
    "transformer": lambda seed=0: tiny_transformer(seed=seed),
}


def batch(seed=1, b=5, vocab_size=7):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 7, (b,), generator=generator)
    src = torch.randint(4, vocab_size, (b, int(lengths.max())), generator=generator)
    src[torch.arange(src.size(1))[None, :] >= lengths[:, None]] = PAD
    return src, lengths


COMMON = dict(sos_index=SOS, eos_index=EOS, forbidden=(PAD, SOS, UNK))


@pytest.mark.parametrize("kind", MODELS)
def test_beam_of_one_is_greedy(kind):
    model = MODELS[kind]()
    src, lengths = batch()
    greedy = greedy_decode(model, src, lengths, **COMMON)
    beam = beam_search(model, src, lengths, beam_size=1, alpha=0.6, **COMMON)
    for g, (b,) in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens
        assert math.isclose(g.log_prob, b.log_prob, rel_tol=1e-5, abs_tol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize(("kind", "seed"), [("gru", 0), ("gru", 1), ("transformer", 2)])
def test_wide_beam_finds_the_brute_force_best(alpha, kind, seed):
    # Output vocabulary of 4 (three words and <eos>), at most 4 tokens.
    model = MODELS[kind](seed)
    src, lengths = batch(seed=seed, b=2)
    words = [4, 5, 6]
    limit = dict(max_length_a=0.0, max_length_b=4)
    results = beam_search(model, src, lengths, beam_size=64, alpha=alpha, **limit, **COMMON)
    for i, (best,) in enumerate(results):
        expected, score = brute_force_best(
            model,
            src[i : i + 1, : lengths[i]],
            lengths[i : i + 1],
            words=words,
            max_steps=4,
            alpha=alpha,
        )
        assert best.tokens == expected
        assert math.isclose(best.score, score, rel_tol=1e-4, abs_tol=1e-4)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_steps_from_its_cache_equal_the_teacher_forced_decoder(norm_first):
    # The key/value cache must give, step by step, what the decoder computes over the whole
    # prefix at once: the logits at every position and the top layer's cross-attention.
    model = tiny_transformer(seed=3, norm_first=norm_first)
    src, lengths = batch(seed=4, b=4)
    tgt_in = torch.cat(
        [torch.full((4, 1), SOS), torch.randint(4, 7, (4, 5), generator=torch.Generator())], 1
    )  # (B, T)
    with torch.inference_mode():
        expected = model(src, lengths, tgt_in)  # (B, T, V)
        expected_cross = model.cross_attention(src, lengths, tgt_in)[-1].mean(dim=1)  # (B, T, S)
        encoded = model.encode(src, lengths)
        state = model.start(encoded)
        for t in range(tgt_in.size(1)):
            logits, state, alphas = model.step(tgt_in[:, t], state, encoded)
            torch.testing.assert_close(logits, expected[:, t], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(alphas, expected_cross[:, t], atol=1e-6, rtol=1e-5)
            assert state.length == t + 1


@pytest.mark.parametrize("beam_size", [1, 3])
@pytest.mark.parametrize("kind", MODELS)
def test_batched_decoding_equals_one_sentence_at_a_time(beam_size, kind):
    model = MODELS[kind]()
    src, lengths = batch(b=6)
    together = beam_search(model, src, lengths, beam_size=beam_size, nbest=beam_size, **COMMON)
    greedy_together = greedy_decode(model, src, lengths, **COMMON)
    for i in range(src.size(0)):
        one_src, one_len = src[i : i + 1, : lengths[i]], lengths[i : i + 1]
        alone = beam_search(model, one_src, one_len, beam_size=beam_size, nbest=beam_size, **COMMON)
        assert [h.tokens for h in alone[0]] == [h.tokens for h in together[i]]
        for a, t in zip(alone[0], together[i], strict=True):
            assert math.isclose(a.score, t.score, rel_tol=1e-5, abs_tol=1e-5)
        assert greedy_decode(model, one_src, one_len, **COMMON)[0].tokens == (
            greedy_together[i].tokens
        )


class ScriptedModel:
    """A step model whose next-token distribution depends on the previous token only:
    after <sos>: <eos> 0.6, word 4 0.4; after 4: word 5 (0.9) or <eos>; after 5: <eos>."""

    table: ClassVar = {SOS: {EOS: 0.6, 4: 0.4}, 4: {5: 0.9, EOS: 0.1}, 5: {EOS: 1.0}}

    def encode(self, src, src_lengths):
        return torch.zeros(src.size(0), src.size(1), 1)

    def start(self, encoded):
        return torch.zeros(encoded.size(0), 1)

    def step(self, y_prev, state, encoded):
        probs = torch.full((y_prev.size(0), 7), 1e-9)
        for row, token in enumerate(y_prev.tolist()):
            for target, p in self.table.get(token, {EOS: 1.0}).items():
                probs[row, target] = p
        return probs.log(), state, torch.ones(y_prev.size(0), encoded.size(1))


def test_eos_at_the_first_step_ends_the_hypothesis():
    model = ScriptedModel()
    src, lengths = torch.tensor([[4, 5], [6, 0]]), torch.tensor([2, 1])
    for hypothesis in greedy_decode(model, src, lengths, **COMMON):
        assert hypothesis.tokens == []
        assert hypothesis.log_prob == pytest.approx(math.log(0.6), abs=1e-6)
    for hypotheses in beam_search(model, src, lengths, beam_size=2, nbest=2, alpha=0.0, **COMMON):
        assert [h.tokens for h in hypotheses] == [[], [4, 5]]  # nothing grows after <eos>
        assert hypotheses[0].log_prob == pytest.approx(math.log(0.6), abs=1e-6)
        assert hypotheses[1].log_prob == pytest.approx(math.log(0.4 * 0.9), abs=1e-6)


def test_nbest_is_sorted_and_distinct():
    model = tiny_model()
    src, lengths = batch(b=2)
    for hypotheses in beam_search(model, src, lengths, beam_size=4, nbest=4, **COMMON):
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hypotheses}) == len(hypotheses)


def test_max_length_forces_eos():
    model = tiny_model()
    src, lengths = batch(b=4)
    for hypothesis in greedy_decode(
        model, src, lengths, max_length_a=0.0, max_length_b=2, **COMMON
    ):
        assert len(hypothesis.tokens) <= 1


def test_select_batch_reaches_into_dataclasses_and_tuples():
    from dataclasses import dataclass

    @dataclass
    class S:
        a: torch.Tensor
        b: tuple

    s = S(torch.arange(3), (torch.arange(3) * 2, None))
    picked = select_batch(s, torch.tensor([2, 0]))
    assert picked.a.tolist() == [2, 0] and picked.b[0].tolist() == [4, 0] and picked.b[1] is None
