"""CoNLL files: columns, separators, -DOCSTART-, gzip; errors naming the file and line; the
named dataset conll2003 from the mirror and converted from its original files."""

import gzip

import pytest

from textseq.errors import DataError
from textseq.tasks.tag.conll import read_conll
from textseq.tasks.tag.datasets import (
    TAGGED_DATASETS,
    _conll2003,
    load_tagged,
    prepared_tagged_split,
)

EXAMPLE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def write(path, text):
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            stream.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["eng.train", "eng.train.gz"])
def test_reads_sentences_skipping_docstart(tmp_path, name):
    sentences = read_conll(write(tmp_path / name, EXAMPLE))
    assert [s.tokens for s in sentences] == [
        ["EU", "rejects", "German"],
        ["Peter", "Blackburn"],
        ["BRUSSELS"],
    ]
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert [s.line for s in sentences] == [3, 7, 12]


def test_column_indices_and_tabs(tmp_path):
    path = write(tmp_path / "pos.tsv", "New York\tNNP\tB-LOC\nis\tVBZ\tO\n\nOK\tUH\tO\n")
    sentences = read_conll(path, token_column=0, tag_column=1)
    assert sentences[0].tokens == ["New York", "is"]  # tabs: spaces stay inside tokens
    assert sentences[0].tags == ["NNP", "VBZ"]
    assert read_conll(path, tag_column=None)[1].tags is None


def test_a_lone_i_tag_is_fine(tmp_path):
    sentences = read_conll(write(tmp_path / "a.txt", "Ekeus I-PER\nsaid O\n"))
    assert sentences[0].tags == ["I-PER", "O"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("EU B-ORG\nrejects\nGerman B-MISC\n", 2, "a token with no tag: 1 columns"),
        ("EU NNP B-ORG\nrejects VBZ\n", 2, "2 columns, but the file's first token line has 3"),
        ("\n\nEU\n", 3, "a token with no tag"),
        ("EU B-ORG\n\nx y z\n", 3, "3 columns"),
    ],
)
def test_malformed_lines_name_the_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path / "bad.conll", text)
    with pytest.raises(DataError) as error:
        read_conll(path)
    assert str(error.value).startswith(f"{path}, line {line}: ")
    assert message in str(error.value)


def test_missing_empty_and_too_few_columns(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_conll(tmp_path / "nope.conll")
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path / "empty.conll", "\n-DOCSTART- O\n\n"))
    with pytest.raises(DataError, match="tag_column=3 need at least 4"):
        read_conll(write(tmp_path / "two.conll", "EU B-ORG\n"), tag_column=3)
    with pytest.raises(DataError, match="neither a file nor a known tagging dataset"):
        load_tagged("conll2099:train")
    with pytest.raises(DataError, match="has no split 'valid'"):
        load_tagged("conll2003:valid")


def test_named_dataset_from_the_mirror(real_data_env):
    dataset = TAGGED_DATASETS["conll2003"]
    for split, size in dataset.split_sizes.items():
        assert len(load_tagged(f"conll2003:{split}")) == size
    pos = load_tagged("conll2003:dev", tag_set="pos")
    ner = load_tagged("conll2003:dev")
    assert pos[0].tokens == ner[0].tokens and pos[0].tags[0] == "NNP"
    with pytest.raises(DataError, match="no tag set 'chunk'"):
        load_tagged("conll2003:dev", tag_set="chunk")


def test_download_is_converted_like_the_mirror(datasets_dir, data_env):
    """The converter turns an original file (space-separated `token POS chunk NER-IOB1`, here
    rebuilt from the mirror's 4-column copy and put where a download would land) into exactly
    the mirror's BIO and POS files."""
    full = read_conll(datasets_dir / "conll2003" / "dev.full.tsv.gz", tag_column=None)
    lines = []
    with gzip.open(datasets_dir / "conll2003" / "dev.full.tsv.gz", "rt", encoding="utf-8") as f:
        lines = [line.replace("\t", " ") for line in f]
    downloads = data_env.cache / "downloads"
    downloads.mkdir()
    (downloads / "eng.testa").write_text("".join(lines), encoding="utf-8")
    dataset = TAGGED_DATASETS["conll2003"]
    for tag_set, suffix in dataset.tag_sets.items():
        path = prepared_tagged_split(dataset, "dev", tag_set)
        assert path.parent.parent == data_env.cache / "datasets"
        mirror = read_conll(datasets_dir / "conll2003" / f"dev.{suffix}.tsv.gz")
        converted = read_conll(path)
        assert len(converted) == len(full) == 3250
        assert [s.tokens for s in converted] == [s.tokens for s in mirror]
        assert [s.tags for s in converted] == [s.tags for s in mirror]
    assert len(_conll2003(downloads / "eng.testa", "ner")) == 3250


def test_missing_dataset_explains_both_ways_to_provide_it(data_env):
    dataset = TAGGED_DATASETS["conll2003"]
    with pytest.raises(DataError) as error:
        prepared_tagged_split(dataset, "test", "ner", download=False)
    message = str(error.value)
    assert "eng.testb" in message and "TEXTSEQ_DATASETS" in message
    assert "conll2003/test.bio.tsv.gz" in message
