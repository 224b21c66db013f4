"""Named datasets: mirror, then cache, then a checksum-verified download converted into the
cache. Downloads use local `file://` URLs, so no test touches the network."""

import dataclasses
import gzip
import hashlib
import io
import logging
import shutil
import tarfile
import urllib.error
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from textseq import progress
from textseq.data import catalog
from textseq.data.catalog import RemoteFile, cache_dir, fetch, mirror_dir
from textseq.data.readers import TextExample
from textseq.errors import DataError
from textseq.tasks.classify.datasets import (
    DATASETS,
    NamedDataset,
    load_named,
    parse_named,
    prepared_split,
)


def write_split(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A prepared split: gzip'd `label<TAB>text` TSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows)
    path.write_bytes(gzip.compress(body.encode("utf-8"), mtime=0))
    return path


def read_split(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SST2_ROWS = [("0", "a dull film ."), ("1", "it 's a charming journey ."), ("1", "great !")]


# --- where things are ----------------------------------------------------------------------


def test_cache_and_mirror_come_from_the_environment(data_env):
    assert cache_dir() == data_env.cache
    assert mirror_dir() == data_env.mirror


def test_default_cache_is_under_home_and_no_mirror_when_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTSEQ_CACHE", raising=False)
    monkeypatch.setenv("TEXTSEQ_DATASETS", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("textseq.data.catalog.BESIDE_CHECKOUT", tmp_path / "absent")
    assert cache_dir() == tmp_path / ".cache" / "textseq"
    assert mirror_dir() is None


def test_known_datasets_and_remote_filenames():
    assert {"sst2", "sst2_sentences", "imdb", "ag_news"} <= set(DATASETS)
    assert DATASETS["sst2"].splits == ("train", "dev")
    assert DATASETS["sst2"].folder == "sst2_glue"
    assert DATASETS["sst2"].downloads["archive"].filename == "SST-2.zip"


# --- NAME:SPLIT ----------------------------------------------------------------------------


def test_parse_named_finds_dataset_and_split():
    assert parse_named("sst2:dev") == (DATASETS["sst2"], "dev")
    assert parse_named("imdb:test") == (DATASETS["imdb"], "test")


@pytest.mark.parametrize("spec", ["reviews.tsv", "nosuch:train", "C:/data/file.tsv", "sst2"])
def test_parse_named_returns_none_for_files_and_unknown_names(spec):
    assert parse_named(spec) is None


def test_unknown_split_lists_the_splits():
    with pytest.raises(
        DataError, match=r"dataset 'sst2' has no split 'test'; its splits are train, dev"
    ):
        parse_named("sst2:test")


# --- mirror and cache lookup ---------------------------------------------------------------


def test_split_is_read_from_the_mirror_with_label_names(data_env):
    path = write_split(data_env.mirror / "sst2_glue" / "dev.tsv.gz", SST2_ROWS)
    examples = load_named(DATASETS["sst2"], "dev")
    assert examples == [
        TextExample("a dull film .", "negative", source=str(path), line=2),
        TextExample("it 's a charming journey .", "positive", source=str(path), line=3),
        TextExample("great !", "positive", source=str(path), line=4),
    ]
    assert files_under(data_env.cache) == []  # the mirror is used as is


def test_split_is_read_from_the_cache_when_the_mirror_lacks_it(data_env):
    write_split(data_env.mirror / "sst2_glue" / "train.tsv.gz", SST2_ROWS)  # other split only
    cached = write_split(data_env.cache / "datasets" / "sst2_glue" / "dev.tsv.gz", SST2_ROWS[:1])
    assert prepared_split(DATASETS["sst2"], "dev", download=False) == cached
    assert [(e.text, e.label) for e in load_named(DATASETS["sst2"], "dev", download=False)] == [
        ("a dull film .", "negative")
    ]


def test_cache_is_used_without_a_mirror(data_env, monkeypatch):
    monkeypatch.delenv("TEXTSEQ_DATASETS")
    monkeypatch.setattr("textseq.data.catalog.BESIDE_CHECKOUT", data_env.mirror / "absent")
    cached = write_split(data_env.cache / "datasets" / "sst2_glue" / "dev.tsv.gz", SST2_ROWS)
    assert prepared_split(DATASETS["sst2"], "dev", download=False) == cached


def test_without_the_variable_the_mirror_beside_the_checkout_is_used(data_env, monkeypatch):
    monkeypatch.delenv("TEXTSEQ_DATASETS")
    beside = data_env.mirror.parent / "shared" / "datasets"
    monkeypatch.setattr("textseq.data.catalog.BESIDE_CHECKOUT", beside)
    assert mirror_dir() is None  # not there: no mirror
    mirrored = write_split(beside / "sst2_glue" / "dev.tsv.gz", SST2_ROWS)
    assert mirror_dir() == beside
    assert prepared_split(DATASETS["sst2"], "dev", download=False) == mirrored


def test_mirror_wins_over_cache(data_env):
    mirrored = write_split(data_env.mirror / "sst2_glue" / "dev.tsv.gz", SST2_ROWS)
    write_split(data_env.cache / "datasets" / "sst2_glue" / "dev.tsv.gz", SST2_ROWS[:1])
    assert prepared_split(DATASETS["sst2"], "dev") == mirrored


def test_unexpected_labels_in_a_split_are_an_error(data_env):
    path = write_split(data_env.mirror / "sst2_glue" / "dev.tsv.gz", [("0", "a"), ("2", "b")])
    with pytest.raises(
        DataError, match=r"unexpected labels \['2'\] in sst2:dev; expected \['0', '1'\]"
    ):
        load_named(DATASETS["sst2"], "dev")
    with pytest.raises(DataError) as error:
        load_named(DATASETS["sst2"], "dev")
    assert error.value.path == str(path)


# --- a missing dataset ---------------------------------------------------------------------


def _assert_missing_message(message: str, env, dataset: NamedDataset, split: str) -> None:
    assert f"dataset {dataset.name}:{split} is not available" in message
    for remote in dataset.downloads.values():
        assert remote.url in message
    assert "$TEXTSEQ_DATASETS" in message
    assert f"{dataset.folder}/{split}.tsv.gz" in message
    assert f"it is set to {env.mirror}, which has no {dataset.folder}/{split}.tsv.gz" in message
    assert str(env.cache / "datasets") in message
    assert "$TEXTSEQ_CACHE" in message


def test_missing_dataset_with_downloads_off_explains_both_ways_to_provide_it(data_env, monkeypatch):
    def no_download(remote):
        raise AssertionError("fetch must not be called")

    monkeypatch.setattr(catalog, "fetch", no_download)
    with pytest.raises(DataError, match="downloads are switched off") as error:
        load_named(DATASETS["sst2"], "dev", download=False)
    _assert_missing_message(str(error.value), data_env, DATASETS["sst2"], "dev")


def test_failed_download_explains_both_ways_and_the_reason(data_env, monkeypatch):
    def offline(remote):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(catalog, "fetch", offline)
    with pytest.raises(DataError, match="no route to host") as error:
        load_named(DATASETS["sst2_sentences"], "train")
    _assert_missing_message(str(error.value), data_env, DATASETS["sst2_sentences"], "train")
    assert files_under(data_env.cache) == []


def test_missing_message_without_mirror_has_no_mirror_note(data_env, monkeypatch):
    monkeypatch.delenv("TEXTSEQ_DATASETS")
    monkeypatch.setattr("textseq.data.catalog.BESIDE_CHECKOUT", data_env.mirror / "absent")
    with pytest.raises(DataError) as error:
        prepared_split(DATASETS["imdb"], "test", download=False)
    assert "it is set to" not in str(error.value)
    assert "set $TEXTSEQ_DATASETS to a directory holding imdb/test.tsv.gz" in str(error.value)


# --- downloading through file:// URLs ------------------------------------------------------


def _lines_converter(files: dict[str, Path], split: str):
    """`label text` per line, the format of the Kim (2014) SST files."""
    for line in files["data"].read_text(encoding="utf-8").splitlines():
        label, text = line.split(" ", 1)
        yield label, text


def _fake_dataset(source: Path, *, sha256=None, md5=None, rows: int = 3) -> NamedDataset:
    return NamedDataset(
        name="toy",
        folder="toy_folder",
        description="a local stand-in for a public dataset",
        label_names={"0": "no", "1": "yes"},
        split_sizes={"train": rows},
        downloads={"data": RemoteFile(url=source.as_uri(), sha256=sha256, md5=md5)},
        convert=_lines_converter,
    )


@pytest.fixture
def source_file(tmp_path) -> Path:
    path = tmp_path / "upstream" / "toy.train.txt"
    path.parent.mkdir()
    path.write_text("1 a fine film\n0 a dull one\n1 caf\u00e9 au lait\n", encoding="utf-8")
    return path


def test_download_is_verified_converted_and_cached(data_env, source_file, monkeypatch):
    dataset = _fake_dataset(
        source_file,
        sha256=sha256_of(source_file),
        md5=hashlib.md5(source_file.read_bytes()).hexdigest(),
    )
    calls = []
    monkeypatch.setattr(catalog, "fetch", lambda remote: calls.append(remote) or fetch(remote))

    examples = load_named(dataset, "train")
    assert [(e.text, e.label) for e in examples] == [
        ("a fine film", "yes"),
        ("a dull one", "no"),
        ("café au lait", "yes"),
    ]
    prepared = data_env.cache / "datasets" / "toy_folder" / "train.tsv.gz"
    assert examples[0].source == str(prepared)
    assert read_split(prepared) == "label\ttext\n1\ta fine film\n0\ta dull one\n1\tcafé au lait\n"
    assert prepared.read_bytes()[4:8] == bytes(4)  # gzip mtime 0: reproducible files
    assert (data_env.cache / "downloads" / "toy.train.txt").read_bytes() == source_file.read_bytes()
    assert len(calls) == 1

    source_file.unlink()  # a second load must not download again
    assert load_named(dataset, "train") == examples
    assert len(calls) == 1


def test_download_keeps_a_downloaded_file_and_does_not_fetch_it_again(data_env, source_file):
    remote = RemoteFile(url=source_file.as_uri(), sha256=sha256_of(source_file))
    first = fetch(remote)
    source_file.unlink()
    assert fetch(remote) == first == data_env.cache / "downloads" / "toy.train.txt"


def test_download_already_in_cache_needs_no_network(data_env):
    target = data_env.cache / "downloads" / "SST-2.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"cached")
    assert fetch(DATASETS["sst2"].downloads["archive"]) == target


@pytest.mark.parametrize("kind", ["sha256", "md5"])
def test_checksum_mismatch_is_an_error_and_leaves_nothing_in_the_cache(data_env, source_file, kind):
    dataset = _fake_dataset(source_file, **{kind: "0" * (64 if kind == "sha256" else 32)})
    with pytest.raises(DataError, match=rf"checksum mismatch for {source_file.as_uri()}: {kind}"):
        load_named(dataset, "train")
    assert files_under(data_env.cache) == []


def test_wrong_row_count_is_an_error_and_no_split_is_written(data_env, source_file):
    dataset = _fake_dataset(source_file, sha256=sha256_of(source_file), rows=4)
    with pytest.raises(
        DataError, match=r"toy:train converted to 3 examples, but the official split has 4"
    ) as error:
        load_named(dataset, "train")
    assert str(data_env.cache) in str(error.value)
    assert not (data_env.cache / "datasets").exists()


def test_unreachable_file_url_is_a_missing_dataset_error(data_env, tmp_path):
    dataset = _fake_dataset(tmp_path / "nowhere" / "toy.train.txt")
    with pytest.raises(DataError, match="toy:train is not available") as error:
        load_named(dataset, "train")
    message = str(error.value)
    assert (tmp_path / "nowhere" / "toy.train.txt").as_uri() in message
    assert "$TEXTSEQ_DATASETS" in message
    assert files_under(data_env.cache) == []


# --- the real converters, fed small archives of the canonical layout -----------------------


def _with_local_downloads(dataset: NamedDataset, files: dict[str, Path], sizes: dict[str, int]):
    downloads = {
        key: RemoteFile(url=files[key].as_uri(), sha256=sha256_of(files[key]))
        for key in dataset.downloads
    }
    return dataclasses.replace(dataset, downloads=downloads, split_sizes=sizes)


def test_glue_sst2_archive_is_converted(data_env, tmp_path):
    archive = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("SST-2/dev.tsv", "sentence\tlabel\nit 's fine \t1\n\na dud\t0\n")
        zf.writestr("SST-2/train.tsv", "sentence\tlabel\nok\t1\n")
    dataset = _with_local_downloads(DATASETS["sst2"], {"archive": archive}, {"train": 1, "dev": 2})
    assert [(e.text, e.label) for e in load_named(dataset, "dev")] == [
        ("it 's fine", "positive"),
        ("a dud", "negative"),
    ]
    assert read_split(data_env.cache / "datasets" / "sst2_glue" / "dev.tsv.gz") == (
        "label\ttext\n1\tit 's fine\n0\ta dud\n"
    )


def test_sst2_sentences_files_are_converted(data_env, tmp_path):
    files = {}
    for split, body in [("train", "1 good .\n0 bad .\n"), ("dev", "0 meh\n"), ("test", "1 x\n")]:
        files[split] = tmp_path / f"stsa.binary.{split}"
        files[split].write_text(body, encoding="utf-8")
    dataset = _with_local_downloads(
        DATASETS["sst2_sentences"], files, {"train": 2, "dev": 1, "test": 1}
    )
    assert [(e.text, e.label) for e in load_named(dataset, "train")] == [
        ("good .", "positive"),
        ("bad .", "negative"),
    ]


def test_imdb_archive_is_converted_in_label_then_id_order(data_env, tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    members = {
        "aclImdb/test/pos/10_9.txt": "Loved it.<br />Really\tdid.",
        "aclImdb/test/pos/2_8.txt": "Fine\r\nfilm ",
        "aclImdb/test/neg/7_1.txt": "Awful.",
        "aclImdb/test/unsup/3_0.txt": "ignored",
        "aclImdb/train/neg/1_2.txt": "other split",
        "aclImdb/test/urls_pos.txt": "ignored",
        "aclImdb/README": "ignored",
    }
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dataset = _with_local_downloads(DATASETS["imdb"], {"archive": archive}, {"train": 1, "test": 3})
    assert [(e.text, e.label) for e in load_named(dataset, "test")] == [
        ("Awful.", "negative"),
        ("Fine  film", "positive"),
        ("Loved it.<br />Really did.", "positive"),
    ]


def test_ag_news_csv_is_converted(data_env, tmp_path):
    files = {}
    for split in ("train", "test"):
        files[split] = tmp_path / f"{split}.csv"
        files[split].write_text(
            '"3","Wall St. Bears","Reuters - Short-sellers,\\ are back\\n again."\n'
            '"2","Win","A  big\none"\n',
            encoding="utf-8",
        )
    dataset = _with_local_downloads(DATASETS["ag_news"], files, {"train": 2, "test": 2})
    assert [(e.text, e.label) for e in load_named(dataset, "test")] == [
        ("Wall St. Bears Reuters - Short-sellers, are back again.", "Business"),
        ("Win A big one", "Sports"),
    ]


# --- the real offline copies ---------------------------------------------------------------


def test_real_sst2_dev_from_the_mirror(real_data_env):
    examples = load_named(DATASETS["sst2"], "dev", download=False)
    assert len(examples) == 872
    assert Counter(e.label for e in examples) == {"negative": 428, "positive": 444}
    assert examples[0].text == "it 's a charming and often affecting journey ."
    assert examples[0].label == "positive"
    assert examples[0].source == str(real_data_env.mirror / "sst2_glue" / "dev.tsv.gz")
    assert files_under(real_data_env.cache) == []


def test_real_sst2_sentences_train_from_the_mirror(real_data_env):
    examples = load_named(DATASETS["sst2_sentences"], "train", download=False)
    assert len(examples) == 6920
    assert {e.label for e in examples} == {"negative", "positive"}
    assert all(e.text == e.text.strip() and "\t" not in e.text for e in examples)


def test_a_download_is_counted_and_its_preparation_logged(data_env, source_file, caplog, capsys):
    dataset = _fake_dataset(source_file, sha256=sha256_of(source_file))
    size = source_file.stat().st_size
    with progress.showing(True), caplog.at_level(logging.INFO, logger="textseq"):
        path = prepared_split(dataset, "train")
    err = capsys.readouterr().err
    assert f"download toy.train.txt: {size}/{size} bytes (" in err
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "preparing toy:train (train.tsv.gz) from toy.train.txt"
    assert messages[1].startswith("prepared toy:train (converted to 3 examples) in ")
    assert messages[1].endswith(f" s: {path}")
    # Off: the same download and preparation, nothing on stderr
    shutil.rmtree(cache_dir())
    with progress.showing(False):
        assert prepared_split(dataset, "train") == path
    assert capsys.readouterr().err == ""
