"""The catalog engine on its own: one flow (mirror -> cache -> download -> convert -> size check
-> atomic write) for an entry it knows nothing about, one "not available" message for every
task's named datasets, and reproducible files. Downloads are local files: no network."""

import ast
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import textseq.data
from textseq.data import catalog
from textseq.data.catalog import Converted, RemoteFile, named_split, prepared_file
from textseq.errors import DataError
from textseq.tasks.classify.datasets import DATASETS, prepared_split
from textseq.tasks.lm.datasets import CORPORA, prepared_corpus_split
from textseq.tasks.tag.datasets import TAGGED_DATASETS, prepared_tagged_split
from textseq.tasks.translate.datasets import PARALLEL_CORPORA, prepared_parallel_file


@dataclass(frozen=True)
class ToyEntry:
    name: str = "toy"
    folder: str = "toy_folder"
    splits: tuple[str, ...] = ("train", "test")


@pytest.fixture
def upstream(tmp_path) -> RemoteFile:
    path = tmp_path / "upstream" / "toy.txt"
    path.parent.mkdir()
    path.write_text("one\ntwo\nthree\n", encoding="utf-8")
    return RemoteFile(url=path.as_uri())


def _lines(files: dict[str, Path]) -> Converted:
    text = files["data"].read_text(encoding="utf-8").upper()
    return Converted(text=text, size=text.count("\n"))


def _prepare(remote: RemoteFile, **overrides) -> Path:
    arguments = dict(
        downloads={"data": remote},
        convert=_lines,
        official_size=3,
        size_in_words="has {} lines",
    )
    return prepared_file(ToyEntry(), "train", "train.txt.gz", **{**arguments, **overrides})


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def test_download_is_converted_into_the_cache_once_then_read_from_it(data_env, upstream):
    calls = []

    def counting(files):
        calls.append(files)
        return _lines(files)

    path = _prepare(upstream, convert=counting)
    assert path == data_env.cache / "datasets" / "toy_folder" / "train.txt.gz"
    assert gzip.decompress(path.read_bytes()).decode("utf-8") == "ONE\nTWO\nTHREE\n"
    assert calls == [{"data": data_env.cache / "downloads" / "toy.txt"}]
    assert _prepare(upstream, convert=counting) == path
    assert len(calls) == 1


def test_the_mirror_wins_and_nothing_is_downloaded(data_env, upstream, monkeypatch):
    mirrored = data_env.mirror / "toy_folder" / "train.txt.gz"
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(gzip.compress(b"x\n"))
    monkeypatch.setattr(catalog, "fetch", lambda remote: pytest.fail("no download"))
    assert _prepare(upstream) == mirrored
    assert files_under(data_env.cache) == []


def test_a_wrong_size_is_refused_in_the_entry_s_words_and_nothing_is_written(data_env, upstream):
    with pytest.raises(DataError) as error:
        _prepare(upstream, official_size=4, size_in_words="(de, raw) has {} lines")
    assert str(error.value) == (
        "toy:train (de, raw) has 3 lines, but the official split has 4; the download may be "
        f"damaged: delete {data_env.cache} and retry"
    )
    assert not (data_env.cache / "datasets").exists()


def test_official_size_zero_is_not_checked(data_env, upstream):
    assert _prepare(upstream, official_size=0).is_file()


def test_a_failing_converter_leaves_no_part_file(data_env, upstream):
    def broken(files):
        raise ValueError("bad archive")

    with pytest.raises(ValueError, match="bad archive"):
        _prepare(upstream, convert=broken)
    assert [p.name for p in files_under(data_env.cache)] == ["toy.txt"]  # the download only


def test_prepared_files_are_reproducible_and_readable_by_all(data_env, upstream):
    path = _prepare(upstream)
    first = path.read_bytes()
    assert first[3] == 0  # gzip FLG: no file name (a temporary's name would change every time)
    assert first[4:8] == bytes(4)  # mtime 0
    assert os.stat(path).st_mode & 0o777 == 0o644
    path.unlink()
    assert _prepare(upstream).read_bytes() == first
    assert [p.name for p in files_under(data_env.cache / "datasets")] == ["train.txt.gz"]


def test_tsv_bytes_are_those_of_the_earlier_row_by_row_writer(data_env, tmp_path):
    """Classification splits were written row by row through a text wrapper that was flushed
    before closing; `sync_flush` keeps their bytes the same (the text is the same either way)."""
    rows = [("1", f"a fine film number {i} " * (i % 7 + 1)) for i in range(3000)]
    earlier = io.BytesIO()
    with gzip.GzipFile(fileobj=earlier, mode="wb", mtime=0) as compressed:
        text = io.TextIOWrapper(compressed, encoding="utf-8", newline="\n")
        text.write("label\ttext\n")
        for label, body in rows:
            text.write(f"{label}\t{body}\n")
        text.flush()
        text.detach()
    body = "label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows)
    for sync_flush in (True, False):
        path = prepared_file(
            ToyEntry(),
            "test",
            f"test.{sync_flush}.tsv.gz",
            downloads={},
            convert=lambda files, flush=sync_flush: Converted(body, len(rows), sync_flush=flush),
            official_size=len(rows),
            size_in_words="converted to {} examples",
        )
        assert gzip.decompress(path.read_bytes()).decode("utf-8") == body
        assert (path.read_bytes() == earlier.getvalue()) is sync_flush


def test_named_split_finds_entries_of_any_registry():
    registry = {"toy": ToyEntry()}
    assert named_split("toy:test", registry, kind="corpus") == (ToyEntry(), "test")
    assert named_split("toy.tsv", registry, kind="corpus") is None
    with pytest.raises(DataError, match="corpus 'toy' has no split 'dev'; its splits are train"):
        named_split("toy:dev", registry, kind="corpus")


MISSING = {
    "classify": (
        lambda: prepared_split(DATASETS["imdb"], "test", download=False),
        "imdb/test.tsv.gz",
    ),
    "lm": (
        lambda: prepared_corpus_split(CORPORA["ptb"], "valid", download=False),
        "ptb/valid.txt.gz",
    ),
    "translate": (
        lambda: prepared_parallel_file(
            PARALLEL_CORPORA["multi30k"], "val", "de", "raw", download=False
        ),
        "multi30k_de_en/val.de.gz",
    ),
    "tag": (
        lambda: prepared_tagged_split(TAGGED_DATASETS["conll2003"], "dev", "pos", download=False),
        "conll2003/dev.pos.tsv.gz",
    ),
}


@pytest.mark.parametrize("task", sorted(MISSING))
def test_every_task_s_missing_dataset_is_explained_the_same_way(data_env, task, monkeypatch):
    monkeypatch.setattr(catalog, "fetch", lambda remote: pytest.fail("downloads are off"))
    prepare, where = MISSING[task]
    with pytest.raises(DataError) as error:
        prepare()
    message = str(error.value)
    assert "is not available: downloads are switched off. Provide it either way: (1)" in message
    assert f"into {data_env.cache / 'datasets'} (set $TEXTSEQ_CACHE to move the cache)" in message
    assert f"set $TEXTSEQ_DATASETS to a directory holding {where} (the layout" in message
    assert message.endswith(f"(it is set to {data_env.mirror}, which has no {where})")


def test_the_data_layer_imports_no_task():
    """data/ sits below tasks/: the catalog engine knows no task's entries."""
    for path in Path(textseq.data.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not [n for n in names if n.startswith("textseq.tasks")], path
