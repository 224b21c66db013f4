"""Parallel text for translation: sentence pairs read from two aligned files (or a named
corpus), checked line by line, tokenised per side, looked up in source and target
vocabularies, and padded into batches bucketed by target length.

Shapes: B batch size, S longest source in the batch, T longest target in the batch (with
`<sos>` and `<eos>`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import torch
from torch.utils.data import Dataset

from textseq.data.readers import iter_lines
from textseq.errors import DataError, ModelDirError
from textseq.tasks.translate.datasets import (
    PARALLEL_CORPORA,
    parse_named_parallel,
    prepared_parallel_file,
)
from textseq.text.portable import save_word_level_tokenizer
from textseq.text.tokenizers import Tokenizer, create_tokenizer, load_tokenizer
from textseq.text.vocab import EOS, PAD, SOS, UNK, Vocabulary

log = logging.getLogger("textseq")

SPECIALS = (PAD, UNK, SOS, EOS)  # the same ids on both sides, so a joint vocabulary fits both
DIRECTIONS = ("de-en", "en-de")


@dataclass(frozen=True)
class SentencePair:
    """One source sentence and its translation, with where they were read."""

    src: str
    tgt: str
    source: str = ""  # the source file
    line: int = 0  # line number in both files, from 1


def parse_direction(direction: str) -> tuple[str, str]:
    """`de-en` -> ("de", "en")."""
    src, sep, tgt = direction.partition("-")
    if not sep or not src or not tgt or src == tgt:
        raise DataError(f"direction {direction!r} must be SRC-TGT, e.g. de-en")
    return src, tgt


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[SentencePair]:
    """Sentence pairs from two files (UTF-8, optionally .gz) whose line i translate each
    other. Lines empty on both sides are skipped; a line empty on one side only, or files of
    different lengths, are errors naming the file and line."""
    pairs: list[SentencePair] = []
    skipped = 0
    src_lines, tgt_lines = iter_lines(src_path), iter_lines(tgt_path)
    for src_item, tgt_item in zip_longest(src_lines, tgt_lines):
        if src_item is None or tgt_item is None:
            short, long_, item = (
                (src_path, tgt_path, tgt_item)
                if src_item is None
                else (tgt_path, src_path, src_item)
            )
            raise DataError(
                f"this file has more lines than {short}, which ends before line {item[0]}; "
                "parallel files need one sentence per line on both sides",
                path=long_,
                line=item[0],
            )
        (number, src), (_, tgt) = src_item, tgt_item
        src, tgt = src.strip(), tgt.strip()
        if not src and not tgt:
            skipped += 1
            continue
        if not src or not tgt:
            empty, other = (src_path, tgt_path) if not src else (tgt_path, src_path)
            raise DataError(
                f"empty line, but line {number} of {other} is not: every sentence needs its "
                "translation",
                path=empty,
                line=number,
            )
        pairs.append(SentencePair(src, tgt, source=str(src_path), line=number))
    if skipped:
        log.warning("%s: skipped %d lines empty on both sides", src_path, skipped)
    if not pairs:
        raise DataError("no sentence pairs", path=src_path)
    return pairs


def load_parallel(
    spec: str | None = None,
    *,
    src: str | Path | None = None,
    tgt: str | Path | None = None,
    direction: str = "de-en",
    variant: str = "tok",
) -> list[SentencePair]:
    """The pairs of a named split (`multi30k:val`, in `direction` and `variant`: `tok` for
    the official lower-cased tokenised files, `raw` for the original text) or of two files."""
    if spec is not None:
        if src is not None or tgt is not None:
            raise DataError("give a named split or source and target files, not both")
        named = parse_named_parallel(spec)
        if named is None:
            raise DataError(
                f"{spec!r} is not a known parallel corpus split (known corpora: "
                f"{', '.join(PARALLEL_CORPORA)}); give files as source and target instead"
            )
        corpus, split = named
        src_lang, tgt_lang = parse_direction(direction)
        return read_parallel(
            prepared_parallel_file(corpus, split, src_lang, variant),
            prepared_parallel_file(corpus, split, tgt_lang, variant),
        )
    if src is None or tgt is None:
        raise DataError("parallel data needs a named split or both a source and a target file")
    return read_parallel(src, tgt)


# --- tokens and ids --------------------------------------------------------------------------


class ParallelEncoder:
    """Tokenizer and vocabularies of both sides. The source and target vocabularies are
    learnt from the training pairs only; with `joint` they are one vocabulary over both
    sides (so embeddings can be shared). A BPE tokenizer is always learnt jointly."""

    def __init__(
        self,
        *,
        src_vocab: Vocabulary,
        tgt_vocab: Vocabulary,
        tokenizer: Tokenizer,
        lowercase: bool = False,
    ):
        for name, vocab in (("source", src_vocab), ("target", tgt_vocab)):
            if tuple(vocab.itos[: len(SPECIALS)]) != SPECIALS:
                raise ValueError(f"the {name} vocabulary must start with {SPECIALS}")
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.tokenizer = tokenizer
        self.lowercase = lowercase

    pad_index = SPECIALS.index(PAD)
    unk_index = SPECIALS.index(UNK)
    sos_index = SPECIALS.index(SOS)
    eos_index = SPECIALS.index(EOS)
    forbidden = (SPECIALS.index(PAD), SPECIALS.index(SOS))  # ids a decoder must never produce

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text.lower() if self.lowercase else text)

    @classmethod
    def fit(
        cls,
        pairs: Sequence[SentencePair],
        *,
        tokenizer: str = "whitespace",
        bpe_vocab_size: int = 8000,
        lowercase: bool = False,
        min_freq: int = 1,
        max_vocab_size: int | None = None,
        joint: bool = False,
    ) -> ParallelEncoder:
        tok = create_tokenizer(tokenizer, bpe_vocab_size=bpe_vocab_size)
        lower = str.lower if lowercase else str
        if hasattr(tok, "fit"):
            tok.fit([lower(p.src) for p in pairs] + [lower(p.tgt) for p in pairs])
        src_tokens = [tok.tokenize(lower(p.src)) for p in pairs]
        tgt_tokens = [tok.tokenize(lower(p.tgt)) for p in pairs]
        build = dict(min_freq=min_freq, max_size=max_vocab_size, specials=SPECIALS)
        if joint:
            src_vocab = tgt_vocab = Vocabulary.build(src_tokens + tgt_tokens, **build)
        else:
            src_vocab = Vocabulary.build(src_tokens, **build)
            tgt_vocab = Vocabulary.build(tgt_tokens, **build)
        return cls(src_vocab=src_vocab, tgt_vocab=tgt_vocab, tokenizer=tok, lowercase=lowercase)

    def save(self, directory: Path) -> None:
        """vocab.json (source), tgt_vocab.json (target) and the BPE tokenizer, if any; for
        word-level tokenizers, each side as a portable Hugging Face tokenizer, tokenizer.json
        (source) and tgt_tokenizer.json (target; `textseq.text.portable`)."""
        self.src_vocab.save(directory / "vocab.json")
        self.tgt_vocab.save(directory / "tgt_vocab.json")
        save = getattr(self.tokenizer, "save", None)
        if save is not None:
            save(directory)
            return
        for filename, vocab in (
            ("tokenizer.json", self.src_vocab),
            ("tgt_tokenizer.json", self.tgt_vocab),
        ):
            save_word_level_tokenizer(
                directory,
                filename,
                tokenizer=self.tokenizer.name,
                vocab=vocab,
                lowercase=self.lowercase,
            )

    @classmethod
    def load(cls, directory: Path, *, tokenizer: str, lowercase: bool) -> ParallelEncoder:
        try:
            src_vocab = Vocabulary.load(directory / "vocab.json")
            tgt_vocab = Vocabulary.load(directory / "tgt_vocab.json")
        except (OSError, ValueError, KeyError) as error:
            raise ModelDirError(
                f"the vocabularies in {directory} cannot be read: {error}"
            ) from None
        return cls(
            src_vocab=src_vocab,
            tgt_vocab=tgt_vocab,
            tokenizer=load_tokenizer(tokenizer, directory),
            lowercase=lowercase,
        )

    def encode_source(self, text: str) -> list[int]:
        return self.src_vocab.encode(self.tokens(text) or [UNK])

    def encode_target(self, text: str) -> list[int]:
        """`<sos>` + target ids + `<eos>`."""
        return [self.sos_index, *self.tgt_vocab.encode(self.tokens(text)), self.eos_index]

    def decode_target(self, ids: Sequence[int]) -> list[str]:
        """Target ids as tokens, up to the first `<eos>`, without `<sos>` and padding."""
        tokens = []
        for i in ids:
            if i == self.eos_index:
                break
            if i not in (self.sos_index, self.pad_index):
                tokens.append(self.tgt_vocab.itos[i])
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Target tokens as text: joined by spaces (word tokens), or BPE pieces merged back
        into words (the `##` continuation marks of textseq's BPE)."""
        if getattr(self.tokenizer, "save", None) is None:
            return " ".join(tokens)
        words: list[str] = []
        for token in tokens:
            if token.startswith("##") and words:
                words[-1] += token[2:]
            else:
                words.append(token)
        return " ".join(words)

    def dataset(
        self,
        pairs: Sequence[SentencePair],
        *,
        max_src_length: int | None = None,
        max_tgt_length: int | None = None,
    ) -> ParallelDataset:
        """The pairs as ids; with length limits, longer pairs are dropped (training only)."""
        src_ids, tgt_ids, kept = [], [], []
        for index, pair in enumerate(pairs):
            s = self.encode_source(pair.src)
            t = self.encode_target(pair.tgt)
            if (max_src_length is not None and len(s) > max_src_length) or (
                max_tgt_length is not None and len(t) - 2 > max_tgt_length
            ):
                continue
            src_ids.append(s)
            tgt_ids.append(t)
            kept.append(index)
        return ParallelDataset(src_ids, tgt_ids, kept=kept, total=len(pairs))


class ParallelDataset(Dataset):
    """Source ids and target ids (with `<sos>`/`<eos>`); `lengths` are the target lengths,
    by which the batch sampler buckets. Item i is (i, source ids, target ids)."""

    def __init__(
        self,
        src_ids: Sequence[Sequence[int]],
        tgt_ids: Sequence[Sequence[int]],
        *,
        kept: Sequence[int] | None = None,
        total: int | None = None,
    ):
        if len(src_ids) != len(tgt_ids):
            raise ValueError(f"{len(src_ids)} sources but {len(tgt_ids)} targets")
        self.src_ids = [torch.as_tensor(ids, dtype=torch.long) for ids in src_ids]
        self.tgt_ids = [torch.as_tensor(ids, dtype=torch.long) for ids in tgt_ids]
        self.lengths = [len(ids) for ids in tgt_ids]
        self.kept = list(range(len(src_ids))) if kept is None else list(kept)
        self.total = len(src_ids) if total is None else total

    @property
    def dropped(self) -> int:
        """Pairs left out by the length filter."""
        return self.total - len(self.src_ids)

    def __len__(self) -> int:
        return len(self.src_ids)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        return index, self.src_ids[index], self.tgt_ids[index]


@dataclass
class Seq2SeqBatch:
    src: torch.Tensor  # (B, S) source ids, padded
    src_lengths: torch.Tensor  # (B,)
    tgt: torch.Tensor  # (B, T) <sos> target <eos>, padded
    index: torch.Tensor  # (B,) positions of the pairs in their dataset

    @property
    def tgt_in(self) -> torch.Tensor:
        return self.tgt[:, :-1]  # (B, T-1) decoder inputs: <sos> y_1 ... y_n

    @property
    def tgt_out(self) -> torch.Tensor:
        return self.tgt[:, 1:]  # (B, T-1) what each step must predict: y_1 ... y_n <eos>

    def __len__(self) -> int:
        return self.src.size(0)


class Seq2SeqCollator:
    """Pads dataset items into a `Seq2SeqBatch`."""

    def __init__(self, pad_index: int = 0):
        self.pad_index = pad_index

    def __call__(self, items: list[tuple[int, torch.Tensor, torch.Tensor]]) -> Seq2SeqBatch:
        indices, sources, targets = zip(*items, strict=True)
        pad = torch.nn.utils.rnn.pad_sequence
        return Seq2SeqBatch(
            src=pad(list(sources), batch_first=True, padding_value=self.pad_index),  # (B, S)
            src_lengths=torch.tensor([len(s) for s in sources], dtype=torch.long),  # (B,)
            tgt=pad(list(targets), batch_first=True, padding_value=self.pad_index),  # (B, T)
            index=torch.tensor(indices, dtype=torch.long),
        )
