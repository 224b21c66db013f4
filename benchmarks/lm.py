"""Character-level language modelling benchmark: the Tiny Shakespeare LSTM and Transformer
configs trained on the same data with the same budget in one run, side by side.

    python benchmarks/lm.py --set trainer.max_epochs=1 --set data.limit_train=300000

Prints, for each model: validation loss in nats per character (and bits per character),
training seconds, parameters, generation speed in characters per second of wall time and of
CPU time (sampling, one sequence, token by token as `textseq generate` does) and one
generated sample. `--set`
overrides apply to every model (e.g. a smaller budget); a model's own overrides follow its
name: `--model "lstm: model.rnn.hidden_size=512"`. Data comes from the named corpus (its
mirror is read when $TEXTSEQ_DATASETS is set).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "lstm": ROOT / "configs" / "shakespeare_char_lstm.yaml",
    "transformer": ROOT / "configs" / "shakespeare_char_transformer.yaml",
}


def run(name: str, config: Path, overrides: list[str], out: Path, args) -> dict:
    import torch

    import textseq
    from textseq.tasks.lm.data import read_corpus_lines

    directory = textseq.train(config, out=out / name, overrides=overrides, overwrite=True)
    metrics = json.loads((directory / "metrics.json").read_text())
    model = textseq.load(directory)
    scored = model.evaluate(read_corpus_lines(args.eval), batch_size=16)
    model.generate(args.prompt, max_tokens=20, seed=0)  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    sample = model.generate(
        args.prompt, max_tokens=args.tokens, temperature=args.temperature, seed=args.seed
    )[0]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "val_nats_per_char": scored["loss"],
        "val_bits_per_char": scored["bits_per_character"],
        "val_chars": scored["tokens"],
        "train_seconds": metrics["train_seconds"],
        "epochs": len(metrics["epochs"]),
        "train_chars": metrics["data"]["train_tokens"],
        "parameters": sum(p.numel() for p in {id(p): p for p in model.model.parameters()}.values()),
        "chars_per_second": args.tokens / seconds,
        # On a shared machine wall time depends on the other processes; CPU time does not.
        "chars_per_cpu_second": args.tokens / cpu_seconds,
        "threads": torch.get_num_threads(),
        "sample": sample,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override applied to every model")  # fmt: skip
    parser.add_argument("--model", action="append", default=[], metavar="'NAME: K=V ...'",
                        help="extra overrides for one model (lstm or transformer)")  # fmt: skip
    parser.add_argument("--eval", default="tiny_shakespeare:valid", help="evaluation corpus")
    parser.add_argument("--prompt", default="ROMEO:", help="generation prompt")
    parser.add_argument("--tokens", type=int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed")
    parser.add_argument("--out", help="where to keep the trained models (default: a temp dir)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("textseq: %(message)s"))
    logging.getLogger("textseq").addHandler(handler)
    logging.getLogger("textseq").setLevel(logging.INFO)

    extra = {name: [] for name in MODELS}
    for spec in args.model:
        name, _, overrides = spec.partition(":")
        if name.strip() not in MODELS:
            parser.error(f"--model names one of {', '.join(MODELS)}, got {name.strip()!r}")
        extra[name.strip()] = overrides.split()
    out = Path(args.out or tempfile.mkdtemp(prefix="textseq-lm-bench-"))
    rows = {}
    for name, config in MODELS.items():
        print(f"{name}: training {config.name} ...", file=sys.stderr)
        rows[name] = run(name, config, args.overrides + extra[name], out, args)

    print(f"\nTiny Shakespeare, character level; evaluated on {args.eval}; overrides: "
          f"{' '.join(args.overrides) or 'none'}\n")  # fmt: skip
    header = (
        f"{'model':<13}{'params':>10}{'train chars':>13}{'epochs':>8}{'train s':>9}"
        f"{'val nats/char':>15}{'val bpc':>9}{'gen chars/s':>13}{'per CPU s':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        print(
            f"{name:<13}{row['parameters']:>10,}{row['train_chars']:>13,}{row['epochs']:>8}"
            f"{row['train_seconds']:>9.1f}{row['val_nats_per_char']:>15.4f}"
            f"{row['val_bits_per_char']:>9.4f}{row['chars_per_second']:>13,.0f}"
            f"{row['chars_per_cpu_second']:>11,.0f}"
        )
    for name, row in rows.items():
        print(f"\n--- {name} sample (prompt {args.prompt!r}, temperature {args.temperature}, "
              f"seed {args.seed}) ---\n{row['sample']}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
