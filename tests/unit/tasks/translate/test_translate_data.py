"""Parallel text: aligned files checked line by line, the multi30k named corpus, vocabularies
from the training pairs, length filtering and target-length batches."""

import gzip

import pytest

from textseq.data.batching import BucketBatchSampler
from textseq.errors import DataError
from textseq.tasks.translate.data import (
    ParallelEncoder,
    SentencePair,
    Seq2SeqCollator,
    load_parallel,
    parse_direction,
    read_parallel,
)


def write(path, lines, gz=False):
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_reads_aligned_files_plain_and_gzip(tmp_path):
    src = write(tmp_path / "a.de.gz", ["ein hund .", "", "zwei katzen ."], gz=True)
    tgt = write(tmp_path / "a.en", ["a dog .", "", "two cats ."])
    pairs = read_parallel(src, tgt)
    assert [(p.src, p.tgt, p.line) for p in pairs] == [
        ("ein hund .", "a dog .", 1),
        ("zwei katzen .", "two cats .", 3),
    ]


def test_mismatched_line_counts_name_the_file_and_line(tmp_path):
    src = write(tmp_path / "s.txt", ["a", "b", "c"])
    tgt = write(tmp_path / "t.txt", ["x", "y"])
    with pytest.raises(DataError) as error:
        read_parallel(src, tgt)
    assert str(error.value).startswith(f"{src}, line 3: ")
    assert str(tgt) in str(error.value)
    with pytest.raises(DataError, match=r"s.txt, line 3: this file has more lines than .*t.txt"):
        read_parallel(tgt, src)


def test_a_line_empty_on_one_side_only_is_an_error(tmp_path):
    src = write(tmp_path / "s.txt", ["a", "b", "c"])
    tgt = write(tmp_path / "t.txt", ["x", "  ", "z"])
    with pytest.raises(DataError) as error:
        read_parallel(src, tgt)
    assert str(error.value).startswith(f"{tgt}, line 2: empty line")


def test_direction():
    assert parse_direction("de-en") == ("de", "en")
    with pytest.raises(DataError, match="SRC-TGT"):
        parse_direction("deen")


def test_multi30k_from_the_mirror(real_data_env):
    pairs = load_parallel("multi30k:test2016", direction="de-en")
    assert len(pairs) == 1000
    assert pairs[0].src.startswith("ein mann mit einem orangefarbenen hut ,")
    assert pairs[0].tgt.startswith("a man in an orange hat")
    reverse = load_parallel("multi30k:val", direction="en-de", variant="raw")
    assert len(reverse) == 1014 and reverse[0].src[0].isupper()
    with pytest.raises(DataError, match="no split 'test'"):
        load_parallel("multi30k:test")


def test_missing_named_split_says_how_to_get_it(data_env):
    from textseq.tasks.translate.datasets import PARALLEL_CORPORA, prepared_parallel_file

    with pytest.raises(DataError, match=r"multi30k_de_en/val.lc.norm.tok.en.gz") as error:
        prepared_parallel_file(PARALLEL_CORPORA["multi30k"], "val", "en", "tok", download=False)
    assert "a3d2e0d26b56f3846f66a952536ffed4e401d05a" in str(error.value)


PAIRS = [
    SentencePair("a b c", "x y"),
    SentencePair("a b", "x"),
    SentencePair("a d d d d", "z z z z z z"),
]


def test_vocabularies_come_from_training_pairs_separate_or_joint():
    encoder = ParallelEncoder.fit(PAIRS, min_freq=1)
    assert encoder.src_vocab.itos[:4] == ["<pad>", "<unk>", "<sos>", "<eos>"]
    assert set(encoder.src_vocab.itos[4:]) == {"a", "b", "c", "d"}
    assert set(encoder.tgt_vocab.itos[4:]) == {"x", "y", "z"}
    joint = ParallelEncoder.fit(PAIRS, min_freq=2, joint=True)
    assert joint.src_vocab is joint.tgt_vocab
    assert set(joint.src_vocab.itos[4:]) == {"a", "b", "d", "x", "z"}  # seen at least twice
    assert joint.encode_target("x q") == [2, joint.tgt_vocab.stoi["x"], 1, 3]  # <sos> x <unk> <eos>
    assert joint.decode_target([2, joint.tgt_vocab.stoi["x"], 3, 5]) == ["x"]


def test_length_filter_drops_and_counts_long_pairs():
    encoder = ParallelEncoder.fit(PAIRS)
    dataset = encoder.dataset(PAIRS, max_src_length=4, max_tgt_length=5)
    assert len(dataset) == 2 and dataset.dropped == 1 and dataset.kept == [0, 1]
    assert len(encoder.dataset(PAIRS)) == 3  # no limits (validation, test)


def test_batches_are_bucketed_by_target_length():
    encoder = ParallelEncoder.fit(PAIRS)
    dataset = encoder.dataset(PAIRS)
    assert dataset.lengths == [4, 3, 8]  # target lengths with <sos> and <eos>
    sampler = BucketBatchSampler(dataset.lengths, batch_size=2, shuffle=False)
    assert list(sampler) == [[1, 0], [2]]
    batch = Seq2SeqCollator(0)([dataset[i] for i in [1, 0]])
    a, b, c = (encoder.src_vocab.stoi[w] for w in "abc")
    assert batch.src.tolist() == [[a, b, 0], [a, b, c]]
    assert batch.src_lengths.tolist() == [2, 3]
    assert batch.tgt_in[:, 0].tolist() == [2, 2]
    assert batch.tgt_out.tolist()[0] == [encoder.tgt_vocab.stoi["x"], 3, 0]


def test_bpe_is_one_joint_subword_model_and_detokenizes(tmp_path):
    pairs = [SentencePair("das haus ist klein .", "the house is small .")] * 20 + [
        SentencePair("das hausboot .", "the houseboat .")
    ] * 5
    encoder = ParallelEncoder.fit(pairs, tokenizer="bpe", bpe_vocab_size=60)
    pieces = encoder.tokens("the smallhouse is small .")
    assert any(piece.startswith("##") for piece in pieces)
    assert encoder.detokenize(pieces) == "the smallhouse is small ."
    encoder.save(tmp_path)
    loaded = ParallelEncoder.load(tmp_path, tokenizer="bpe", lowercase=False)
    assert loaded.tokens("the smallhouse is small .") == pieces
    assert loaded.tgt_vocab == encoder.tgt_vocab
