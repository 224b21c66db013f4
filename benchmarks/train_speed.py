"""Training throughput: textseq's pipeline against a plain PyTorch loop, and each speed lever.

One model, trained several ways in one run: an embedding table (300-d, learned), a 2-layer
bidirectional LSTM (256 units per direction), the final states of both directions, dropout and
a linear layer; Adam (lr 1e-3), gradient clipping at 5, batches of 64.

- The reference loop is written here the way course material writes it: every text padded to
  one fixed length (the longest training text, or --max-length) up front, shuffled batches,
  each batch sorted by length inside itself so it can be packed, fp32, no bucketing, a plain
  `for batch in loader` loop.
- textseq trains the same network through `textseq.train` (a config dict: `pooling: last`),
  with its defaults: padding to the batch's longest text, length-bucketed batches, the
  recurrence run over the padded batch with masking (oneDNN's fused LSTM kernel on the CPU).
- Then each lever alone, with its own ratio: length-bucketed batches (textseq with
  `data.bucket` off and on), masked recurrence (textseq with `model.encoder.packed` on and
  off), packed sequences (the reference loop with and without packing),
  bf16 autocast (`trainer.precision=bf16-mixed`), more threads (`trainer.threads`), batches
  built off the training thread (`data.num_workers`), and `torch.compile`
  (`trainer.compile`); finally textseq with every lever that paid at once.

Every run is its own subprocess (so peak memory, threads and compilation are its own) on the
same training slice and dev set, and prints real tokens per second (non-padding tokens of the
training set per second of training, data loading included, validation excluded), seconds per
epoch, peak resident memory (the process's ru_maxrss, plus the largest child's for runs with
worker processes or compilation), and dev accuracy after the last epoch.

    python benchmarks/train_speed.py --limit-train 10000 --epochs 1
    python benchmarks/train_speed.py --dataset imdb --limit-train 5000 --epochs 1
    python benchmarks/train_speed.py --levers bucket,bf16 --threads 1

On a shared machine, ratios between rows of one run are the figures to read; absolute tokens/s
depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EMBED_DIM = 300
HIDDEN = 256
LAYERS = 2
DROPOUT = 0.3
BATCH = 64
LR = 1e-3
CLIP = 5.0
SEED = 13
LEVERS = ("bucket", "masked", "packing", "bf16", "threads", "workers", "compile")
RESULT = "RESULT "


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("sst2", "imdb"), default="sst2")
    parser.add_argument(
        "--limit-train", type=int, default=10_000, help="training texts, seeded sample (10000)"
    )
    parser.add_argument(
        "--limit-val",
        type=int,
        default=None,
        help="dev texts (sst2: all 872 of sst2:dev; imdb: 2500 held out of imdb:train)",
    )
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (1)")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="truncate texts to this many tokens, in every run (sst2: none; imdb: 400)",
    )
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads per run (1)")
    parser.add_argument(
        "--levers",
        default=",".join(LEVERS),
        help=f"levers to measure, comma-separated from {','.join(LEVERS)} (all)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="longest one run may take, seconds (3600)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one run, as JSON (internal)
    args = parser.parse_args(argv)
    for name in ("limit_train", "epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} ({getattr(args, name)}) must be at least 1")
    unknown = set(args.levers.split(",")) - set(LEVERS) - {""}
    if unknown:
        parser.error(f"unknown levers {sorted(unknown)}; choose from {', '.join(LEVERS)}")
    return args


# --- data: one slice, written once, read by every run --------------------------------------


def prepare_data(args: argparse.Namespace, directory: Path) -> dict:
    """Writes the training slice and dev set as .jsonl under `directory`; returns what every
    run needs to know about them."""
    from textseq.tasks.classify.data import load_examples

    rng = random.Random(SEED)
    if args.dataset == "sst2":
        train = load_examples("sst2:train")
        dev = load_examples("sst2:dev")
        if args.limit_val is not None:
            dev = rng.sample(dev, min(args.limit_val, len(dev)))
        max_length = args.max_length
    else:  # IMDB has no dev split: hold one out of train
        pool = load_examples("imdb:train")
        rng.shuffle(pool)
        held = args.limit_val or 2500
        dev, train = pool[:held], pool[held:]
        max_length = args.max_length or 400
    train = rng.sample(train, min(args.limit_train, len(train)))
    paths = {}
    for name, examples in (("train", train), ("dev", dev)):
        path = directory / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for example in examples:
                out.write(json.dumps({"text": example.text, "label": example.label}) + "\n")
        paths[name] = str(path)
    tokens = sum(len(t) for t in tokenize([e.text for e in train], max_length))
    return {
        **paths,
        "max_length": max_length,
        "train_texts": len(train),
        "dev_texts": len(dev),
        "train_tokens": tokens,
    }


def tokenize(texts: list[str], max_length: int | None) -> list[list[str]]:
    """textseq's default cleaning and `basic_english` tokens, as both pipelines see them."""
    from textseq.text.pipeline import build_cleaner
    from textseq.text.tokenizers import create_tokenizer

    clean = build_cleaner(lowercase=True, strip_html=True, remove_urls=True)
    tokenizer = create_tokenizer("basic_english")
    result = []
    for text in texts:
        tokens = tokenizer.tokenize(clean(text)) or ["<unk>"]
        result.append(tokens if max_length is None else tokens[:max_length])
    return result


def read_jsonl(path: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(str(row["label"]))
    return texts, labels


# --- the reference loop ----------------------------------------------------------------------


def run_reference(data: dict, epochs: int, *, pack: bool) -> dict:
    """The loop course material writes: fixed-length padding, sort inside each batch, pack."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence
    from torch.utils.data import DataLoader, TensorDataset

    class BiLSTMClassifier(nn.Module):
        def __init__(self, vocab_size: int, num_labels: int):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, EMBED_DIM, padding_idx=0)
            self.lstm = nn.LSTM(
                EMBED_DIM,
                HIDDEN,
                num_layers=LAYERS,
                bidirectional=True,
                batch_first=True,
                dropout=DROPOUT,
            )
            self.dropout = nn.Dropout(DROPOUT)
            self.fc = nn.Linear(2 * HIDDEN, num_labels)

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            x = self.embedding(ids)  # (B, T, E)
            if pack:
                x = pack_padded_sequence(x, lengths, batch_first=True)  # lengths descending
            _, (h, _) = self.lstm(x)  # h: (L*2, B, H)
            final = torch.cat([h[-2], h[-1]], dim=1)  # (B, 2H)
            return self.fc(self.dropout(final))  # (B, K)

    torch.manual_seed(SEED)
    train_texts, train_labels = read_jsonl(data["train"])
    dev_texts, dev_labels = read_jsonl(data["dev"])
    train_tokens = tokenize(train_texts, data["max_length"])
    dev_tokens = tokenize(dev_texts, data["max_length"])
    vocab = {"<pad>": 0, "<unk>": 1}
    for tokens in train_tokens:
        for token in tokens:
            vocab.setdefault(token, len(vocab))
    label_ids = {label: i for i, label in enumerate(sorted(set(train_labels)))}
    max_len = max(len(t) for t in train_tokens)

    def tensors(token_lists, labels):
        ids = torch.zeros(len(token_lists), max_len, dtype=torch.long)  # (N, max_len)
        lengths = torch.empty(len(token_lists), dtype=torch.long)
        for row, tokens in enumerate(token_lists):
            tokens = tokens[:max_len]
            ids[row, : len(tokens)] = torch.tensor([vocab.get(t, 1) for t in tokens])
            lengths[row] = len(tokens)
        return TensorDataset(ids, lengths, torch.tensor([label_ids[y] for y in labels]))

    train_set = tensors(train_tokens, train_labels)
    dev_set = tensors(dev_tokens, dev_labels)
    model = BiLSTMClassifier(len(vocab), len(label_ids))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(
        train_set, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED)
    )
    seconds = []
    accuracy = float("nan")
    for _ in range(epochs):
        model.train()
        started = time.perf_counter()
        for ids, lengths, labels in loader:
            lengths, order = lengths.sort(descending=True)
            ids, labels = ids[order], labels[order]
            optimizer.zero_grad()
            loss = loss_fn(model(ids, lengths), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
        seconds.append(time.perf_counter() - started)
        model.eval()
        correct = 0
        with torch.no_grad():
            for ids, lengths, labels in DataLoader(dev_set, batch_size=256):
                lengths, order = lengths.sort(descending=True)
                predicted = model(ids[order], lengths).argmax(dim=-1)
                correct += int((predicted == labels[order]).sum())
        accuracy = correct / len(dev_set)
    return {"seconds": seconds, "dev_acc": accuracy, "padded_length": max_len}


# --- textseq ---------------------------------------------------------------------------------


def textseq_config(data: dict, epochs: int, threads: int) -> dict:
    """The reference network as a textseq config, with textseq's defaults for the rest."""
    return {
        "seed": SEED,
        "data": {
            "train": data["train"],
            "val": data["dev"],
            "batch_size": BATCH,
            "eval_batch_size": 256,
            "max_length": data["max_length"],
            "bucket": True,
            "num_workers": 0,
        },
        "text": {"tokenizer": "basic_english", "min_freq": 1},
        "model": {
            "embedding": {"dim": EMBED_DIM, "vectors": None},
            "encoder": {
                "type": "rnn",
                "cell": "lstm",
                "hidden_size": HIDDEN,
                "num_layers": LAYERS,
                "bidirectional": True,
                "dropout": DROPOUT,
            },
            "pooling": {"type": "last"},
            "head": {"dropout": DROPOUT},
        },
        "optim": {"optimizer": "adam", "lr": LR, "grad_clip_norm": CLIP},
        "trainer": {
            "max_epochs": epochs,
            "early_stopping_patience": None,
            "progress_bar": False,
            "threads": threads,
            "precision": "32-true",
        },
    }


def run_textseq(data: dict, epochs: int, threads: int, overrides: list[str]) -> dict:
    import lightning.pytorch as pl

    import textseq

    class EpochTimer(pl.Callback):
        """Seconds from each epoch's start to its validation: training and data loading."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.started: float | None = None

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.started = time.perf_counter()

        def on_validation_start(self, trainer, pl_module) -> None:
            if trainer.sanity_checking or self.started is None:
                return
            self.seconds.append(time.perf_counter() - self.started)
            self.started = None

    timer = EpochTimer()
    out = Path(tempfile.mkdtemp(prefix="textseq-speed-")) / "model"
    directory = textseq.train(
        textseq_config(data, epochs, threads), out=out, overrides=overrides, callbacks=[timer]
    )
    metrics = json.loads((directory / "metrics.json").read_text())
    return {"seconds": timer.seconds, "dev_acc": metrics["epochs"][-1]["val_acc"]}


def child(spec: dict) -> None:
    import logging

    import torch

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("textseq").setLevel(logging.WARNING)
    torch.set_num_threads(spec["threads"])
    data, epochs = spec["data"], spec["epochs"]
    if spec["kind"] == "reference":
        result = run_reference(data, epochs, pack=spec["pack"])
    else:
        result = run_textseq(data, epochs, spec["threads"], spec["overrides"])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_mb"] = (own + children) / 1024  # kB on Linux
    print(RESULT + json.dumps(result), flush=True)


# --- the runs and the table ------------------------------------------------------------------


def run(spec: dict, timeout: float) -> dict:
    """One run in its own process; its result, or {"error": ...}."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            result = json.loads(line.removeprefix(RESULT))
            data = spec["data"]
            seconds = sum(result["seconds"]) / len(result["seconds"])
            result["s_per_epoch"] = seconds
            result["tokens_per_s"] = data["train_tokens"] / seconds
            return result
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {done.returncode}: {last}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    levers = [lever for lever in args.levers.split(",") if lever]
    work = Path(tempfile.mkdtemp(prefix="textseq-train-speed-"))
    data = prepare_data(args, work)
    threads = args.threads
    print(
        f"{args.dataset}: {data['train_texts']:,} training texts ({data['train_tokens']:,} real "
        f"tokens), {data['dev_texts']:,} dev texts, {args.epochs} epoch(s), {threads} thread(s), "
        f"max length {data['max_length']}; 2x{HIDDEN} BiLSTM, {EMBED_DIM}-d learned embeddings, "
        f"batch {BATCH}",
        flush=True,
    )

    def spec(kind: str, *, pack: bool = True, overrides=(), n_threads: int = threads) -> dict:
        return {
            "kind": kind,
            "pack": pack,
            "overrides": list(overrides),
            "threads": n_threads,
            "data": data,
            "epochs": args.epochs,
        }

    # (name, spec, lever name, the row it is compared with)
    plan: list[tuple[str, dict, str | None, str | None]] = [
        ("reference loop (fixed padding, packed)", spec("reference"), None, None),
        ("textseq (defaults: bucketed, masked, fp32)", spec("textseq"), None, None),
    ]
    textseq_row = plan[1][0]
    # Levers textseq pulls by default, measured by a run with the lever released:
    # lever -> (row name, the overrides that release it, the lever's title).
    default_levers = {
        "bucket": ("textseq, bucketing off", ["data.bucket=false"], "length-bucketed batches"),
        "masked": (
            "textseq, packed sequences instead",
            ["model.encoder.packed=true"],
            "masked recurrence",
        ),
    }
    for lever, (name, overrides, title) in default_levers.items():
        if lever in levers:
            plan.append((name, spec("textseq", overrides=overrides), title, textseq_row))
    if "packing" in levers:
        plan.append(
            (
                "reference loop, no packing",
                spec("reference", pack=False),
                "packed sequences",
                plan[0][0],
            )
        )
    lever_overrides = {
        "bf16": ("bf16 autocast", ["trainer.precision=bf16-mixed"], threads),
        "threads": (f"{2 * threads} threads", [f"trainer.threads={2 * threads}"], 2 * threads),
        "workers": ("data loading in a worker", ["data.num_workers=1"], threads),
        "compile": ("torch.compile", ["trainer.compile=true"], threads),
    }
    for lever in levers:
        if lever in lever_overrides:
            title, overrides, n = lever_overrides[lever]
            plan.append(
                (
                    f"textseq + {title}",
                    spec("textseq", overrides=overrides, n_threads=n),
                    title,
                    textseq_row,
                )
            )

    results: dict[str, dict] = {}
    for name, run_spec, _, _ in plan:
        print(f"  running: {name} ...", file=sys.stderr, flush=True)
        results[name] = run(run_spec, args.timeout)

    # Every lever that paid (>= 5% faster at no loss of dev accuracy) at once.
    paying_overrides: list[str] = []
    paying_threads = threads
    paying_names = []
    for lever in levers:
        if lever not in lever_overrides:
            continue
        title, overrides, n = lever_overrides[lever]
        row, base = results[f"textseq + {title}"], results[textseq_row]
        if "error" in row or "error" in base:
            continue
        if row["tokens_per_s"] >= 1.05 * base["tokens_per_s"]:
            paying_overrides += overrides
            paying_threads = max(paying_threads, n)
            paying_names.append(title)
    if len(paying_names) > 1:  # one alone is its own row already
        name = "textseq + " + " + ".join(paying_names)
        print(f"  running: {name} ...", file=sys.stderr, flush=True)
        results[name] = run(
            spec("textseq", overrides=paying_overrides, n_threads=paying_threads), args.timeout
        )
        plan.append((name, {}, None, None))

    reference = results[plan[0][0]]
    # Rows that release a lever (the base row has it): their ratio is base over row.
    released_levers = {title for _, _, title in default_levers.values()} | {"packed sequences"}
    header = (
        f"{'run':<48} {'tokens/s':>9} {'s/epoch':>8} {'peak MB':>8} {'dev acc':>7} "
        f"{'x ref':>6}  lever ratio"
    )
    print(header)
    print("-" * (len(header) + 12))
    for name, _, lever, base_name in plan:
        row = results[name]
        if "error" in row:
            print(f"{name:<48} failed: {row['error']}")
            continue
        vs_reference = (
            row["tokens_per_s"] / reference["tokens_per_s"] if "error" not in reference else None
        )
        ratio = ""
        if lever is not None and "error" not in results[base_name]:
            base = results[base_name]
            # The lever's speed-up: with it over without it.
            if lever in released_levers:
                value = base["tokens_per_s"] / row["tokens_per_s"]
            else:
                value = row["tokens_per_s"] / base["tokens_per_s"]
            ratio = f"{lever}: {value:.2f}x"
        shown_ratio = f"{vs_reference:.2f}" if vs_reference is not None else "-"
        print(
            f"{name:<48} {row['tokens_per_s']:>9,.0f} {row['s_per_epoch']:>8.1f} "
            f"{row['peak_mb']:>8,.0f} {row['dev_acc']:>7.4f} {shown_ratio:>6}  {ratio}",
            flush=True,
        )
    if "error" not in reference:
        print(
            f"reference: every text padded to {reference['padded_length']} tokens; "
            "tokens/s counts real (non-padding) tokens; lever ratio: speed with the lever over "
            "speed without it"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
