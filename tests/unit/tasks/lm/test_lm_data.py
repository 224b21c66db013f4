"""Language-model corpora: contiguous batching known answers, BPTT windows, named corpora read
from the mirror, and file errors that name the file and line."""

import gzip
import random

import pytest
import torch

from textseq.errors import DataError
from textseq.tasks.lm.data import BPTTWindows, batchify, read_corpus_lines, window_lengths
from textseq.tasks.lm.datasets import CORPORA, _tiny_shakespeare


def test_batchify_cuts_the_corpus_into_contiguous_streams():
    streams = batchify(torch.arange(11), 3)
    assert streams.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # token 9 and 10 dropped


def test_windows_continue_each_stream_where_the_last_one_stopped():
    windows = list(BPTTWindows(batchify(torch.arange(20), 2), bptt=4))
    assert [x.tolist() for x, _ in windows] == [
        [[0, 1, 2, 3], [10, 11, 12, 13]],
        [[4, 5, 6, 7], [14, 15, 16, 17]],
        [[8], [18]],
    ]
    assert [y.tolist() for _, y in windows] == [
        [[1, 2, 3, 4], [11, 12, 13, 14]],
        [[5, 6, 7, 8], [15, 16, 17, 18]],
        [[9], [19]],
    ]
    assert len(BPTTWindows(batchify(torch.arange(20), 2), bptt=4)) == 3


def test_every_target_is_predicted_exactly_once_per_epoch():
    streams = batchify(torch.arange(1000), 4)
    for variable in (False, True):
        windows = BPTTWindows(streams, bptt=7, variable=variable, seed=3)
        targets = torch.cat([y for _, y in windows], dim=1)
        assert torch.equal(targets, streams[:, 1:])


def test_variable_lengths_follow_merity_and_are_reproducible_per_epoch():
    lengths = window_lengths(10_000, 70, variable=True, rng=random.Random(1))
    assert sum(lengths) == 9_999
    assert min(lengths[:-1]) >= 5
    assert 60 < sum(lengths) / len(lengths) < 75  # 0.95 * 70 + 0.05 * 35 = 68.25 on average
    assert any(length < 50 for length in lengths)  # some half-length windows were drawn
    windows = BPTTWindows(batchify(torch.arange(3000), 2), bptt=20, variable=True, seed=5)
    first = windows.lengths()
    assert windows.lengths() == first
    windows.set_epoch(1)
    assert windows.lengths() != first


def test_too_little_data_is_an_error():
    with pytest.raises(DataError, match="3 tokens cannot fill 2 streams"):
        batchify(torch.arange(3), 2)


def test_corpus_files_are_read_with_errors_naming_file_and_line(tmp_path):
    good = tmp_path / "c.txt.gz"
    good.write_bytes(gzip.compress(b"one two\n\nthree\n"))
    assert read_corpus_lines(str(good)) == ["one two", "", "three"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nalso fine\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"bad\.txt, line 3: not valid UTF-8"):
        read_corpus_lines(str(bad))
    with pytest.raises(DataError, match=r"no such file: nope\.txt .*ptb:train"):
        read_corpus_lines("nope.txt")
    with pytest.raises(DataError, match="corpus 'ptb' has no split 'dev'; its splits are"):
        read_corpus_lines("ptb:dev")


def test_ptb_from_the_mirror_has_its_published_size(real_data_env):
    lines = read_corpus_lines("ptb:valid")
    assert len(lines) == CORPORA["ptb"].split_lines["valid"] == 3370
    assert sum(len(line.split()) + 1 for line in lines) == 73_760  # tokens incl. <eos>


def test_tiny_shakespeare_split_matches_the_mirror(real_data_env, tmp_path):
    source = tmp_path / "input.txt"
    source.write_bytes(
        gzip.decompress((real_data_env.mirror / "tiny_shakespeare" / "input.txt.gz").read_bytes())
    )
    for split in ("train", "valid"):
        mirror = gzip.decompress(
            (real_data_env.mirror / "tiny_shakespeare" / f"{split}.txt.gz").read_bytes()
        ).decode("utf-8")
        assert _tiny_shakespeare({"input": source}, split) == mirror
    assert len(_tiny_shakespeare({"input": source}, "valid")) == 111_540


def test_missing_corpus_says_where_to_get_it(data_env):
    from textseq.tasks.lm.datasets import prepared_corpus_split

    with pytest.raises(DataError) as error:
        prepared_corpus_split(CORPORA["wikitext2"], "train", download=False)
    message = str(error.value)
    assert "wikitext-2-v1.zip" in message
    assert "wikitext2/train.txt.gz" in message


def test_wikitext2_download_is_converted_checked_and_cached(data_env, monkeypatch, tmp_path):
    """The archive's layout (wikitext-2/wiki.SPLIT.tokens) is cut into gzip'd splits in the
    cache once; a split whose line count differs from the official one is refused."""
    import zipfile

    from textseq.data import catalog

    archive = tmp_path / "wikitext-2-v1.zip"
    counts = CORPORA["wikitext2"].split_lines
    with zipfile.ZipFile(archive, "w") as zipped:
        for split, lines in counts.items():
            body = " = Title = \n" + " the cat sat \n" * (lines - 1)
            zipped.writestr(f"wikitext-2/wiki.{split}.tokens", body)
    calls = []
    monkeypatch.setattr(catalog, "fetch", lambda remote: calls.append(remote.url) or archive)
    lines = read_corpus_lines("wikitext2:valid")
    assert len(lines) == counts["valid"] and lines[0] == " = Title = "
    assert (data_env.cache / "datasets" / "wikitext2" / "valid.txt.gz").is_file()
    read_corpus_lines("wikitext2:valid")
    assert len(calls) == 1  # the second read comes from the cache

    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("wikitext-2/wiki.test.tokens", "too short\n")
    with pytest.raises(DataError, match="wikitext2:test has 1 lines, but the official split"):
        read_corpus_lines("wikitext2:test")
