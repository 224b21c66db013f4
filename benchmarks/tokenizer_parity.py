"""Portable tokenizer parity: textseq's word-level pipeline vs the `tokenizer.json` it writes,
read back by `tokenizers.Tokenizer.from_file`, on real data.

    python benchmarks/tokenizer_parity.py [--imdb-limit N] [--pretrained DIR]

For each corpus the vocabulary is fitted on its training split as training does (min_freq 1,
so unknown words occur only where the test split has new words), then every test text is
encoded both ways; prints one JSON line per corpus: texts compared, mismatches, and the first
few mismatching texts. With `--pretrained DIR` (a classifier with a pretrained encoder, e.g.
MiniLM), also that model's ids (textseq's cleaning, then the encoder's tokenizer, truncated)
against the tokenizer.json written beside its ONNX graph and in its `--format hf` folder
(`textseq.tasks.classify.hub.portable_tokenizer`), on SST-2 dev and IMDB test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tokenizers import Tokenizer

from textseq.tasks.classify.data import load_examples
from textseq.tasks.tag.datasets import load_tagged
from textseq.text.pipeline import TextPipeline, build_cleaner
from textseq.text.portable import save_word_level_tokenizer
from textseq.text.tokenizers import create_tokenizer
from textseq.text.vocab import Vocabulary


def compare(name, pipeline_ids, hf, texts, *, unk_id) -> dict:
    mismatches, examples = 0, []
    started = time.perf_counter()
    encodings = hf.encode_batch(texts) if texts else []
    hf_seconds = time.perf_counter() - started
    for text, encoding in zip(texts, encodings, strict=True):
        ours = pipeline_ids(text)
        theirs = [i for i, m in zip(encoding.ids, encoding.attention_mask, strict=True) if m]
        theirs = theirs or [unk_id]  # an empty encoding is one <unk> (textseq.text.portable)
        if ours != theirs:
            mismatches += 1
            if len(examples) < 5:
                examples.append({"text": text[:300], "textseq": ours[:40], "hf": theirs[:40]})
    return {
        "corpus": name,
        "texts": len(texts),
        "mismatches": mismatches,
        "hf_seconds": round(hf_seconds, 2),
        "examples": examples,
    }


def classify_corpus(name: str, train: str, test: str, tokenizer: str, limit: int | None) -> dict:
    cleaner = build_cleaner(lowercase=True, strip_html=True, remove_urls=True)
    tok = create_tokenizer(tokenizer)
    train_texts = [e.text for e in load_examples(train)]
    vocab = Vocabulary.build([tok.tokenize(cleaner(t)) for t in train_texts], min_freq=1)
    pipeline = TextPipeline(cleaner, tok, vocab)
    texts = [e.text for e in load_examples(test)][:limit]
    with tempfile.TemporaryDirectory() as directory:
        save_word_level_tokenizer(
            Path(directory), tokenizer=tokenizer, vocab=vocab, cleaner=cleaner
        )
        hf = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
    return compare(name, pipeline.encode, hf, texts, unk_id=vocab.unk_index)


def conll_corpus() -> dict:
    train = load_tagged("conll2003:train")
    vocab = Vocabulary.build([[t.lower() for t in s.tokens] for s in train], min_freq=1)
    texts = [" ".join(s.tokens) for s in load_tagged("conll2003:test")]
    tok = create_tokenizer("whitespace")
    with tempfile.TemporaryDirectory() as directory:
        save_word_level_tokenizer(
            Path(directory), tokenizer="whitespace", vocab=vocab, lowercase=True
        )
        hf = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))

    def ids(text: str) -> list[int]:  # the tagger's word ids (TagEncoder.word_ids)
        return vocab.encode(t.lower() for t in tok.tokenize(text))

    return compare("conll2003:test (whitespace, lowercase)", ids, hf, texts, unk_id=vocab.unk_index)


def pretrained_corpus(directory: str, test: str, limit: int | None) -> dict:
    import textseq
    from textseq.tasks.classify.hub import portable_tokenizer

    model = textseq.load(directory)
    hf = portable_tokenizer(model)
    texts = [e.text for e in load_examples(test)][:limit]

    def ids(text: str) -> list[int]:
        return model.encode([text])[0]

    name = f"{test} ({Path(directory).name}: cleaning + the encoder's tokenizer)"
    return compare(name, ids, hf, texts, unk_id=model.pipeline.vocab.unk_index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-limit", type=int, default=None, help="IMDB test texts (all)")
    parser.add_argument("--pretrained", help="a model directory with a pretrained encoder")
    args = parser.parse_args()
    runs = [
        lambda: classify_corpus(
            "sst2:dev (basic_english)", "sst2:train", "sst2:dev", "basic_english", None
        ),
        lambda: classify_corpus(
            "sst2:dev (whitespace)", "sst2:train", "sst2:dev", "whitespace", None
        ),
        lambda: classify_corpus(
            "imdb:test (basic_english)", "imdb:train", "imdb:test", "basic_english", args.imdb_limit
        ),
        conll_corpus,
    ]
    if args.pretrained:
        runs += [
            lambda: pretrained_corpus(args.pretrained, "sst2:dev", None),
            lambda: pretrained_corpus(args.pretrained, "imdb:test", args.imdb_limit),
        ]
    for run in runs:
        print(json.dumps(run(), ensure_ascii=False), flush=True)
        print("done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
