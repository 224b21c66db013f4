"""`textseq vectors train|evaluate|neighbors|analogy|plot`: what each verb does, and its
parser (`add_parser`, which textseq/cli.py calls). Results go to stdout as JSON, progress to
stderr."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from textseq.errors import TextseqError
from textseq.word_vectors.training import METHODS, VectorSettings, train_vectors

# The rest (gensim, PyTorch, matplotlib) is imported in the verb that uses it, so that
# building the parser (`textseq --help`) stays fast.

log = logging.getLogger("textseq")
WORD_TOKENIZERS = ("basic_english", "whitespace")
VECTORS = (
    "a vectors file (word2vec text/binary, GloVe, fastText .vec/.bin), a known name "
    "(glove.6B.50d), a `vectors train` directory or a model directory"
)


def train(args: argparse.Namespace) -> int:
    """train word vectors (word2vec CBOW or skip-gram, fastText) with gensim

    Over one or more corpora (NAME, NAME:SPLIT or a file; see docs/vectors.md), cleaned and
    tokenised as textseq's models read text. Writes --out: vectors.bin (what
    model.embedding.vectors reads; give it the directory), vectors.txt, gensim.model,
    fasttext.bin (fasttext) and report.json, which is also printed."""
    from textseq.text.pipeline import build_cleaner
    from textseq.text.tokenizers import create_tokenizer
    from textseq.word_vectors.corpus import tokenized_corpus

    settings = VectorSettings(
        method=args.method,
        dim=args.dim,
        window=args.window,
        min_count=args.min_count,
        negative=args.negative,
        epochs=args.epochs,
        workers=args.workers,
        buckets=args.buckets,
        seed=args.seed,
    )
    cleaning = dict(
        lowercase=not args.keep_case,
        strip_html=not args.keep_html,
        remove_urls=not args.keep_urls,
    )
    cleaner = build_cleaner(**cleaning)
    tokenizer = create_tokenizer(args.tokenizer)
    sentences = tokenized_corpus(args.corpora, cleaner=cleaner, tokenizer=tokenizer)
    about = {"corpora": args.corpora, "text": {**cleaning, "tokenizer": args.tokenizer}}
    report = train_vectors(sentences, args.out, settings, about=about)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """score word vectors on analogies and word similarity

    Analogy accuracy on questions-words.txt (semantic and syntactic sections apart) and
    Spearman's rho on WordSim-353 and SimLex-999, from gensim's test data, each with the share
    of questions or pairs the vectors cover."""
    from textseq.word_vectors.evaluation import evaluate_vectors
    from textseq.word_vectors.space import open_space

    space = open_space(args.vectors)
    scores = evaluate_vectors(space.vectors, restrict_vocab=args.restrict_vocab)
    print(json.dumps({"vectors": space.source, **scores}))
    return 0


def neighbors(args: argparse.Namespace) -> int:
    """nearest words by cosine similarity

    Prints {"word", "neighbors": [{"word", "cosine"}]}. fastText .bin vectors answer for words
    they never saw, from their character n-grams."""
    from textseq.word_vectors.space import open_space

    space = open_space(args.vectors)
    word = space.lookup(args.word)
    found = [{"word": w, "cosine": round(c, 6)} for w, c in space.neighbors(word, k=args.k)]
    print(json.dumps({"word": word, "neighbors": found}, ensure_ascii=False))
    return 0


def analogy(args: argparse.Namespace) -> int:
    """complete an analogy: the words nearest to A - B + C

    `analogy king man woman` asks for king - man + woman (queen): man is to king as woman is
    to ?. By 3CosAdd, the three words themselves excluded. Prints {"query", "answers"}."""
    from textseq.word_vectors.space import open_space

    answers = open_space(args.vectors).analogy(args.a, args.b, args.c, k=args.k)
    query = f"{args.a} - {args.b} + {args.c}"
    found = [{"word": w, "cosine": round(c, 6)} for w, c in answers]
    print(json.dumps({"query": query, "answers": found}, ensure_ascii=False))
    return 0


def plot(args: argparse.Namespace) -> int:
    """2-D map (PCA or t-SNE) of chosen words' vectors, as a PNG

    `textseq embeddings-plot DIR` is the same for a model directory. PCA axes give their share
    of the variance; --groups FILE (lines WORD<TAB>GROUP) colours the words by group, with a
    legend, and gives the words when --words is left out. Words without a vector are reported
    on stderr and in the printed JSON {"out", "method", "words", "missing"}."""
    from textseq.embedding_space import plot_words
    from textseq.plots import plot_embeddings
    from textseq.word_vectors.space import open_space

    if not args.out.lower().endswith(".png"):
        raise TextseqError(f"--out {args.out}: the name must end in .png")
    words, groups = plot_words(args.words, args.groups)
    projection = open_space(args.vectors).project(words, method=args.method, seed=args.seed)
    if projection.missing:
        log.warning("no vector, not plotted: %s", ", ".join(projection.missing))
    drawn = plot_embeddings(projection, args.out, groups=groups)
    report = {"out": str(drawn), "method": projection.method}
    report.update(words=projection.words, missing=projection.missing)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def add_parser(verbs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """`textseq vectors` and its verbs, added to the CLI's verbs."""
    parser = verbs.add_parser(
        "vectors",
        help="train, evaluate and explore word vectors (files or model directories)",
        description="Train word vectors, score them, and explore any vectors or a model's "
        "embedding table. docs/vectors.md has examples.",
    )
    sub = parser.add_subparsers(
        dest="vectors_verb", metavar="VERB", required=True, help="what to do with the vectors"
    )

    def verb(name: str, run, *, vectors: bool = True) -> argparse.ArgumentParser:
        summary, _, rest = (run.__doc__ or "").partition("\n\n")
        description = f"{summary[:1].upper()}{summary[1:]}. {' '.join(rest.split())}"
        verb_parser = sub.add_parser(name, help=summary, description=description)
        verb_parser.set_defaults(run=run)
        if vectors:
            verb_parser.add_argument("vectors", metavar="FILE|DIR", help=VECTORS)
        return verb_parser

    p = verb("train", train, vectors=False)
    p.add_argument("corpora", nargs="+", metavar="CORPUS", help="imdb, ptb:train, a file...")
    p.add_argument("--out", required=True, type=Path, help="directory to write (new or empty)")
    p.add_argument("--method", choices=METHODS, default="skipgram", help="(skipgram)")
    for flag, default, text in (
        ("--dim", 100, "vector size"),
        ("--window", 5, "context words on each side"),
        ("--min-count", 5, "drop words seen fewer times"),
        ("--negative", 5, "negative samples per word"),
        ("--epochs", 5, "passes over the corpora"),
        ("--workers", 2, "training threads"),
        ("--buckets", 2_000_000, "n-gram hash buckets, fasttext only"),
        ("--seed", 13, "random seed"),
    ):
        p.add_argument(flag, type=int, default=default, help=f"{text} ({default})")
    p.add_argument(
        "--tokenizer", choices=WORD_TOKENIZERS, default="basic_english", help="(basic_english)"
    )
    p.add_argument("--keep-case", action="store_true", help="do not lower-case")
    p.add_argument("--keep-html", action="store_true", help="keep HTML tags and entities")
    p.add_argument("--keep-urls", action="store_true", help="keep web addresses")

    p = verb("evaluate", evaluate)
    p.add_argument(
        "--restrict-vocab", type=int, default=300_000,
        help="analogy answers among the N most frequent words (300000)",
    )  # fmt: skip

    p = verb("neighbors", neighbors)
    p.add_argument("word", metavar="WORD", help="the word")
    p.add_argument("-k", type=int, default=10, help="how many neighbours (10)")

    p = verb("analogy", analogy)
    for name in ("a", "b", "c"):
        p.add_argument(name, metavar=name.upper(), help=f"word {name.upper()} of A - B + C")
    p.add_argument("-k", type=int, default=10, help="how many answers (10)")

    p = verb("plot", plot)
    p.add_argument("--words", help="comma-separated words, e.g. good,bad,film")
    p.add_argument("--out", required=True, metavar="FILE.png", help="PNG to write")
    p.add_argument("--groups", metavar="FILE", help="colour words by group: lines WORD<TAB>GROUP")
    p.add_argument("--method", choices=("pca", "tsne"), default="pca", help="projection (pca)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the projection (0)")
    return parser
