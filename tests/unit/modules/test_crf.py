"""The linear-chain CRF against brute force over every tag sequence of tiny inputs, constrained
decoding, marginals and padding invariance; the token softmax it is compared with."""

import itertools
import random

import pytest
import torch

from textseq.modules.crf import LinearChainCRF
from textseq.modules.token_softmax import TokenSoftmax
from textseq.text.tags import allowed_transitions, is_valid, scheme_tags

TAGS = scheme_tags(["PER", "LOC"], "bio")  # O B-LOC I-LOC B-PER I-PER
IOBES_TAGS = scheme_tags(["PER"], "iobes")  # O B-PER I-PER E-PER S-PER


def make_crf(tags=None, scheme="plain", seed=0, num_tags=3):
    torch.manual_seed(seed)
    if tags is None:
        crf = LinearChainCRF(num_tags=num_tags)
    else:
        start, pairs, end = allowed_transitions(tags, scheme)
        crf = LinearChainCRF(
            num_tags=len(tags),
            allowed_start=torch.tensor(start),
            allowed_pairs=torch.tensor(pairs),
            allowed_end=torch.tensor(end),
        )
    with torch.no_grad():  # scores far from the near-zero initialisation
        for p in crf.parameters():
            p.normal_(0, 1.0)
    return crf


def brute_force(crf, emissions, length):
    """Every tag sequence of one sentence with its score, from the definition."""
    start, transitions, end = (s.detach() for s in crf.scores())
    results = []
    for path in itertools.product(range(crf.num_tags), repeat=length):
        score = start[path[0]] + end[path[-1]]
        score = score + sum(emissions[t, path[t]] for t in range(length))
        score = score + sum(transitions[path[t - 1], path[t]] for t in range(1, length))
        results.append((path, float(score)))
    return results


def padded_batch(lengths, num_tags, seed=0):
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, generator=generator) * 2
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    # Garbage at padded positions must change nothing.
    emissions = torch.where(mask[:, :, None], emissions, torch.full_like(emissions, 50.0))
    return emissions.double(), mask


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_equals_brute_force_log_sum_exp(constrained):
    crf = make_crf(TAGS, "bio") if constrained else make_crf(num_tags=4)
    crf = crf.double()
    lengths = [1, 3, 4, 2]
    emissions, mask = padded_batch(lengths, crf.num_tags)
    log_z = crf.log_partition(emissions, mask)
    for b, length in enumerate(lengths):
        scores = torch.tensor(
            [s for _, s in brute_force(crf, emissions[b], length)], dtype=torch.double
        )
        assert log_z[b].item() == pytest.approx(torch.logsumexp(scores, 0).item(), abs=1e-9)


def test_sequence_score_and_log_likelihood_match_brute_force():
    crf = make_crf(num_tags=3).double()
    lengths = [3, 2]
    emissions, mask = padded_batch(lengths, 3, seed=1)
    for b, length in enumerate(lengths):
        table = brute_force(crf, emissions[b], length)
        scores = torch.tensor([s for _, s in table], dtype=torch.double)
        for path, score in table[:5]:
            tags = torch.tensor([list(path) + [0] * (max(lengths) - length)])
            got = crf.sequence_score(emissions[b : b + 1], tags, mask[b : b + 1])
            assert got.item() == pytest.approx(score, abs=1e-9)
            log_p = crf.log_likelihood(emissions[b : b + 1], tags, mask[b : b + 1])
            assert log_p.item() == pytest.approx(score - torch.logsumexp(scores, 0).item())


@pytest.mark.parametrize("constrained", [False, True])
def test_viterbi_and_nbest_equal_the_brute_force_ranking(constrained):
    crf = (make_crf(TAGS, "bio", seed=2) if constrained else make_crf(num_tags=3)).double()
    lengths = [3, 1, 2, 4]
    emissions, mask = padded_batch(lengths, crf.num_tags, seed=3)
    n = 4
    paths, scores = crf.nbest(emissions, mask, n=n)
    best = crf.viterbi(emissions, mask)
    for b, length in enumerate(lengths):
        ranking = sorted(brute_force(crf, emissions[b], length), key=lambda r: -r[1])
        assert best[b, :length].tolist() == list(ranking[0][0])
        for k in range(n):
            if k >= len(ranking):  # a one-token sentence over 3 tags has 3 sequences
                assert scores[b, k].item() == float("-inf")
                continue
            assert paths[b, k, :length].tolist() == list(ranking[k][0])
            assert scores[b, k].item() == pytest.approx(ranking[k][1], abs=1e-9)


def test_nbest_with_more_paths_asked_than_exist():
    crf = make_crf(num_tags=2).double()
    emissions, mask = padded_batch([1], 2)
    paths, scores = crf.nbest(emissions, mask, n=3)
    assert torch.isfinite(scores[0, :2]).all() and scores[0, 2] == float("-inf")
    assert sorted(paths[0, :2, 0].tolist()) == [0, 1]


@pytest.mark.parametrize(("tags", "scheme"), [(TAGS, "bio"), (IOBES_TAGS, "iobes")])
def test_constrained_decoding_never_emits_an_invalid_sequence(tags, scheme):
    crf = make_crf(tags, scheme, seed=4)
    rng = random.Random(0)
    for trial in range(30):
        lengths = [rng.randint(1, 8) for _ in range(6)]
        emissions, mask = padded_batch(lengths, len(tags), seed=trial)
        emissions = emissions * 3  # strong, random emissions pull towards invalid tags
        paths, _ = crf.nbest(emissions.float(), mask, n=3)
        for b, length in enumerate(lengths):
            for k in range(3):
                sequence = [tags[i] for i in paths[b, k, :length].tolist()]
                if length == 1 and k > 0 and scheme == "iobes":
                    continue  # fewer than 3 valid one-token sequences may score alike
                assert is_valid(sequence, scheme), sequence


def test_unconstrained_decoding_does_emit_invalid_sequences():
    """The constraint test above can fail: without constraints invalid sequences appear."""
    crf = make_crf(num_tags=len(TAGS), seed=4)
    emissions, mask = padded_batch([8] * 20, len(TAGS), seed=0)
    paths = crf.viterbi(emissions.float() * 3, mask)
    assert not all(is_valid([TAGS[i] for i in row], "bio") for row in paths.tolist())


@pytest.mark.parametrize("constrained", [False, True])
def test_marginals_sum_to_one_and_equal_brute_force(constrained):
    crf = (make_crf(TAGS, "bio", seed=5) if constrained else make_crf(num_tags=3)).double()
    lengths = [4, 2, 1]
    emissions, mask = padded_batch(lengths, crf.num_tags, seed=6)
    marginals = crf.marginals(emissions, mask)
    assert torch.allclose(marginals.sum(2), mask.double())
    for b, length in enumerate(lengths):
        table = brute_force(crf, emissions[b], length)
        probs = torch.softmax(torch.tensor([s for _, s in table], dtype=torch.double), 0)
        expected = torch.zeros(length, crf.num_tags, dtype=torch.double)
        for (path, _), p in zip(table, probs, strict=True):
            for t, tag in enumerate(path):
                expected[t, tag] += p
        assert torch.allclose(marginals[b, :length], expected, atol=1e-9)


def test_span_probability_equals_brute_force():
    crf = make_crf(TAGS, "bio", seed=7).double()
    emissions, mask = padded_batch([4], len(TAGS), seed=8)
    b_per, i_per = TAGS.index("B-PER"), TAGS.index("I-PER")
    # The entity PER over tokens 1..2: B-PER at 1, I-PER at 2, and no I-PER at 3.
    allowed = torch.ones(1, 4, len(TAGS), dtype=torch.bool)
    allowed[0, 1] = False
    allowed[0, 1, b_per] = True
    allowed[0, 2] = False
    allowed[0, 2, i_per] = True
    allowed[0, 3, i_per] = False
    got = crf.sequence_log_probability(emissions, mask, allowed).exp().item()
    table = brute_force(crf, emissions[0], 4)
    probs = torch.softmax(torch.tensor([s for _, s in table], dtype=torch.double), 0)
    expected = sum(
        float(p)
        for (path, _), p in zip(table, probs, strict=True)
        if path[1] == b_per and path[2] == i_per and path[3] != i_per
    )
    assert got == pytest.approx(expected, abs=1e-9)


def test_padding_changes_nothing():
    crf = make_crf(TAGS, "bio", seed=9).double()
    emissions, mask = padded_batch([5, 2, 3], len(TAGS), seed=10)
    for b, length in enumerate([5, 2, 3]):
        alone, alone_mask = emissions[b : b + 1, :length], mask[b : b + 1, :length]
        assert crf.log_partition(alone, alone_mask).item() == pytest.approx(
            crf.log_partition(emissions, mask)[b].item(), abs=1e-9
        )
        assert crf.viterbi(alone, alone_mask)[0].tolist() == (
            crf.viterbi(emissions, mask)[b, :length].tolist()
        )
        assert torch.allclose(
            crf.marginals(alone, alone_mask)[0], crf.marginals(emissions, mask)[b, :length]
        )


def test_gradient_of_log_partition_is_the_marginals():
    """d log Z / d E[t, j] = p(y_t = j): forward-backward agrees with autograd."""
    crf = make_crf(TAGS, "bio", seed=11).double()
    emissions, mask = padded_batch([4, 3], len(TAGS), seed=12)
    emissions.requires_grad_(True)
    crf.log_partition(emissions, mask).sum().backward()
    assert torch.allclose(emissions.grad, crf.marginals(emissions.detach(), mask), atol=1e-9)


def test_token_softmax_interface():
    output = TokenSoftmax(num_tags=3)
    emissions, mask = padded_batch([3, 1], 3)
    marginals = output.marginals(emissions, mask)
    assert torch.allclose(marginals.sum(2), mask.double())
    paths, _ = output.nbest(emissions, mask)
    assert paths[:, 0].tolist() == output.decode(emissions, mask).tolist()
    with pytest.raises(ValueError, match="needs a CRF"):
        output.nbest(emissions, mask, n=2)


@pytest.mark.parametrize(("tags", "scheme"), [(None, "plain"), (IOBES_TAGS, "iobes")])
def test_batched_viterbi_equals_one_sentence_at_a_time(tags, scheme):
    """The batched recursion and back-trace (masked updates, gathers) decode each sentence as
    if it were alone, for many lengths in one batch, and agree with n-best's first path."""
    crf = make_crf(tags, scheme, seed=13, num_tags=6)
    rng = random.Random(1)
    lengths = [rng.randint(1, 30) for _ in range(40)]
    emissions, mask = padded_batch(lengths, crf.num_tags, seed=14)
    emissions = emissions.float() * 3
    batched = crf.viterbi(emissions, mask)
    first_of_nbest = crf.nbest(emissions, mask, n=1)[0][:, 0]
    for b, length in enumerate(lengths):
        alone = crf.viterbi(emissions[b : b + 1, :length], mask[b : b + 1, :length])[0]
        assert batched[b, :length].tolist() == alone.tolist()
        assert first_of_nbest[b, :length].tolist() == alone.tolist()
        # Padding repeats the last real tag.
        assert set(batched[b, length:].tolist()) <= {alone[-1].item()}


def test_viterbi_path_scores_the_n_best_maximum():
    """The Viterbi path's score s(y) is the best score n-best reports, on longer sentences
    than brute force can enumerate."""
    crf = make_crf(TAGS, "bio", seed=15)
    emissions, mask = padded_batch([25, 9, 17], len(TAGS), seed=16)
    emissions = emissions.float()
    path = crf.viterbi(emissions, mask)
    _, scores = crf.nbest(emissions, mask, n=2)
    assert torch.allclose(crf.sequence_score(emissions, path, mask), scores[:, 0], atol=1e-4)
