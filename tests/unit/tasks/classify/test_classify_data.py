"""Data specs: a file path or NAME:SPLIT to examples, and the seeded validation split."""

import gzip
from pathlib import Path

import pytest

from textseq.data.readers import TextExample
from textseq.data.splits import split_off
from textseq.errors import DataError
from textseq.tasks.classify.data import load_examples


def test_file_spec_reads_the_file_with_the_given_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\ngreat,5\nawful,1\n", encoding="utf-8")
    examples = load_examples(str(path), text_column="review", label_column="stars")
    assert [(e.text, e.label, e.line) for e in examples] == [("great", "5", 2), ("awful", "1", 3)]


def test_file_spec_without_labels(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    assert [e.text for e in load_examples(str(path), label_column=None)] == ["one", "two"]


def test_file_spec_expands_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "d.tsv").write_text("label\ttext\nx\thello\n", encoding="utf-8")
    assert [e.text for e in load_examples("~/d.tsv")] == ["hello"]


def test_named_spec_reads_the_mirror(data_env):
    path = data_env.mirror / "sst2_glue" / "dev.tsv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(b"label\ttext\n0\tbad .\n1\tgood .\n"))
    examples = load_examples("sst2:dev", text_column="ignored", label_column="ignored")
    assert examples == [
        TextExample("bad .", "negative", source=str(path), line=2),
        TextExample("good .", "positive", source=str(path), line=3),
    ]


def test_named_spec_with_unknown_split_lists_the_splits():
    with pytest.raises(DataError, match="its splits are train, dev, test"):
        load_examples("sst2_sentences:validation")


def test_missing_file_suggests_the_named_dataset_syntax(tmp_path):
    spec = str(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match=r"named datasets are written NAME:SPLIT \(ag_news, imdb"):
        load_examples(spec)
    with pytest.raises(DataError) as error:
        load_examples(spec)
    assert str(error.value).startswith(f"no such file: {spec}")


def test_unknown_name_with_a_colon_says_it_is_not_a_named_dataset():
    with pytest.raises(
        DataError, match=r"no such file: sst3:dev; 'sst3' is not a named dataset either \(known: "
    ):
        load_examples("sst3:dev")


def test_real_named_split_through_load_examples(real_data_env):
    examples = load_examples("sst2:dev")
    assert len(examples) == 872
    assert Path(examples[0].source) == real_data_env.mirror / "sst2_glue" / "dev.tsv.gz"


# --- split_off -----------------------------------------------------------------------------


def _examples(n: int) -> list[TextExample]:
    return [TextExample(f"text {i}", str(i % 2), line=i) for i in range(n)]


def test_split_off_partitions_and_keeps_order():
    examples = _examples(100)
    rest, held_out = split_off(examples, 0.2, seed=1)
    assert len(held_out) == 20
    assert len(rest) == 80
    assert sorted(rest + held_out, key=lambda e: e.line) == examples
    assert [e.line for e in rest] == sorted(e.line for e in rest)
    assert [e.line for e in held_out] == sorted(e.line for e in held_out)


def test_split_off_depends_only_on_the_seed():
    examples = _examples(50)
    assert split_off(examples, 0.3, seed=5) == split_off(examples, 0.3, seed=5)
    assert split_off(examples, 0.3, seed=5) != split_off(examples, 0.3, seed=6)


def test_split_off_holds_out_at_least_one_example():
    rest, held_out = split_off(_examples(3), 0.01, seed=0)
    assert (len(rest), len(held_out)) == (2, 1)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_off_rejects_fractions_outside_zero_one(fraction):
    with pytest.raises(DataError, match=r"data\.val_fraction .* must be between 0 and 1"):
        split_off(_examples(10), fraction, seed=0)


def test_split_off_refuses_to_leave_no_training_examples():
    with pytest.raises(DataError, match="cannot hold out 90% of 1 training examples"):
        split_off(_examples(1), 0.9, seed=0)
