"""Data from where users keep it: Parquet and Arrow files, `datasets` folders (`hf:`,
`hf-disk:`), rows in memory, and label maps. All offline: the datasets are written here."""

import json
import random

import datasets
import pandas as pd
import pytest
from tokenizers import Tokenizer

import textseq
from textseq.cli import main
from textseq.data.readers import apply_label_map, parse_label_map, read_examples
from textseq.data.sources import examples_from_memory, in_memory, read_source
from textseq.errors import ConfigError, DataError
from textseq.tasks import load_config
from textseq.tasks.classify.data import load_examples

FEATURES = datasets.Features(
    {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
)


def _sst_like() -> datasets.Dataset:
    rows = {"sentence": ["a dull film", "a fine film", "so good"], "label": [0, 1, 1]}
    return datasets.Dataset.from_dict(rows, features=FEATURES)


def _pairs(examples) -> list[tuple[str, str]]:
    return [(e.text, e.label) for e in examples]


EXPECTED = [("a dull film", "neg"), ("a fine film", "pos"), ("so good", "pos")]


def test_parquet_and_arrow_files_map_class_labels_to_names(tmp_path):
    dataset = _sst_like()
    dataset.to_parquet(str(tmp_path / "d.parquet"))
    dataset.save_to_disk(str(tmp_path / "saved"))
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    for path in (tmp_path / "d.parquet", arrow):
        examples = read_examples(path, text_column="sentence")
        assert _pairs(examples) == EXPECTED
        assert examples[1].where() == f"{path}, line 2"
    with pytest.raises(DataError, match=r"no column 'text'.*'sentence'"):
        read_examples(tmp_path / "d.parquet")
    # A plain table (pandas, no ClassLabel): integer labels stay their decimal text.
    pd.DataFrame({"text": ["x", "y"], "label": [3, 4]}).to_parquet(tmp_path / "p.parquet")
    assert _pairs(read_examples(tmp_path / "p.parquet")) == [("x", "3"), ("y", "4")]
    (tmp_path / "bad.arrow").write_bytes(b"not arrow at all")
    with pytest.raises(DataError, match=r"bad\.arrow: not a readable arrow table"):
        read_examples(tmp_path / "bad.arrow")


def test_hf_disk_specs_read_a_dataset_or_a_split_of_a_dataset_dict(tmp_path):
    _sst_like().save_to_disk(str(tmp_path / "one"))
    dataset_dict = datasets.DatasetDict({"train": _sst_like(), "validation": _sst_like()})
    dataset_dict.save_to_disk(str(tmp_path / "both"))
    columns = dict(text_column="sentence", label_column="label")
    assert _pairs(load_examples(f"hf-disk:{tmp_path}/one", **columns)) == EXPECTED
    examples = load_examples(f"hf-disk:{tmp_path}/both:validation", **columns)
    assert _pairs(examples) == EXPECTED
    assert examples[0].source == f"hf-disk:{tmp_path}/both:validation"
    with pytest.raises(DataError, match="holds the splits train, validation; name one"):
        load_examples(f"hf-disk:{tmp_path}/both", **columns)
    with pytest.raises(DataError, match="holds a single split"):
        load_examples(f"hf-disk:{tmp_path}/one:train", **columns)
    with pytest.raises(DataError, match="no such folder"):
        load_examples(f"hf-disk:{tmp_path}/none", **columns)


def test_hf_spec_loads_a_local_folder_of_parquet_files_through_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # never the network
    folder = tmp_path / "reviews"
    folder.mkdir()
    _sst_like().to_parquet(str(folder / "train.parquet"))
    examples = read_source(f"hf:{folder}:train", text_column="sentence")
    assert _pairs(examples) == EXPECTED
    with pytest.raises(DataError, match=r"hf:NAME\[:CONFIG\]:SPLIT"):
        read_source("hf:glue")


def test_rows_in_memory_in_every_accepted_shape():
    pairs = [("good", 1), ("bad", 0)]
    expected = [("good", "1"), ("bad", "0")]
    assert _pairs(examples_from_memory(pairs)) == expected
    assert _pairs(examples_from_memory([{"text": t, "label": y} for t, y in pairs])) == expected
    frame = pd.DataFrame({"review": ["good", "bad"], "stars": [1, 0]})
    assert _pairs(examples_from_memory(frame, text_column="review", label_column="stars")) == (
        expected
    )
    assert _pairs(examples_from_memory(_sst_like(), text_column="sentence")) == EXPECTED
    assert [e.text for e in examples_from_memory(["x", "y"], label_column=None)] == ["x", "y"]
    with pytest.raises(DataError, match="no column 'label'"):
        examples_from_memory(["x"])
    with pytest.raises(DataError, match="cannot read examples from a dict"):
        examples_from_memory({"text": "x"})
    with pytest.raises(DataError, match="line 2: empty text"):
        examples_from_memory([("ok", 1), ("  ", 0)])
    with in_memory(train=pairs, val=None) as specs:
        assert list(specs) == ["train"]
        assert _pairs(load_examples(specs["train"])) == expected
    with pytest.raises(DataError, match="not kept with the model"):
        load_examples(specs["train"])


def test_label_maps_from_yaml_and_the_command_line():
    assert parse_label_map("0=negative, 1=positive") == {"0": "negative", "1": "positive"}
    assert parse_label_map('{"0": "negative", "1": 2}') == {"0": "negative", "1": "2"}
    with pytest.raises(DataError, match="FROM=TO"):
        parse_label_map("0:negative")
    examples = examples_from_memory([("a", 0), ("b", 1), ("c", "other")])
    mapped = apply_label_map(examples, {"0": "negative", "1": "positive"})
    assert [e.label for e in mapped] == ["negative", "positive", "other"]
    config = load_config({"data": {"label_map": {0: "negative", 1: "positive"}}})
    assert config.data.label_map == {"0": "negative", "1": "positive"}
    with pytest.raises(ConfigError, match="label_map"):
        load_config({"data": {"label_map": {0: ["negative"]}}})


def test_training_on_a_dataframe_and_evaluating_a_mapped_dataset(tmp_path, capsys):
    rng = random.Random(3)
    words = [f"w{i}" for i in range(20)]

    def rows(n):  # label 1 when the text holds w1
        out = []
        for i in range(n):
            tokens = rng.choices(words[2:], k=5)
            if i % 2:
                tokens[rng.randrange(5)] = "w1"
            out.append({"text": " ".join(tokens), "label": i % 2})
        return out

    config = {
        "seed": 1,
        "data": {"batch_size": 16, "label_map": {0: "no", 1: "yes"}},
        "text": {"tokenizer": "whitespace"},
        "model": {
            "embedding": {"dim": 8},
            "encoder": {"cell": "gru", "hidden_size": 8},
            "pooling": {"type": "max"},
        },
        "optim": {"lr": 0.02},
        "trainer": {"max_epochs": 3, "progress_bar": False, "threads": 1},
    }
    directory = textseq.train(
        config, out=tmp_path / "model", train=pd.DataFrame(rows(400)), val=rows(100)
    )
    model = textseq.load(directory)
    assert model.labels == ["no", "yes"]
    assert model.config.data.train.startswith("memory:train-")
    # The word-level pipeline is also a portable tokenizer.json (textseq.text.portable).
    portable = Tokenizer.from_file(str(directory / "tokenizer.json"))
    text = "w1 w3 unseen W2"
    assert portable.encode(text).ids == model.pipeline.encode(text)
    test = datasets.Dataset.from_dict(
        {"text": [r["text"] for r in rows(100)], "label": [r["label"] for r in rows(100)]}
    )
    with pytest.raises(DataError, match="label '0' is not one this model knows"):
        model.evaluate(test)
    assert model.evaluate(test, label_map={"0": "no", "1": "yes"})["accuracy"] > 0.9
    # The CLI: a jsonl with the integer labels of a Hugging Face export, renamed on the way in.
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in test.to_list()))
    assert main(["evaluate", str(directory), "--data", str(data), "--label-map", "0=no,1=yes"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9
