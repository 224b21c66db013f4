"""The recurrent cells side by side, and what attention and contextual features buy.

    python benchmarks/cells.py speed                       # tokens/s of every cell (cheap)
    python benchmarks/cells.py sst2 --seeds 13 14 15       # SST-2 dev accuracy per cell
    python benchmarks/cells.py ptb --seeds 13              # PTB test perplexity per cell
    python benchmarks/cells.py seq2seq                     # Multi30k BLEU, attention none
    python benchmarks/cells.py ner                         # CoNLL-2003 test F1, stacked features

Every section prints one table (Markdown) on stdout; progress goes to stderr.

- speed: a bidirectional one-layer `RNNEncoder` per cell over a padded batch (B 32, T 32,
  E 100, H 128 per direction: the SST-2 config's sizes), tokens per CPU second (process
  time, so that other processes on a shared machine count less) for a training step
  (forward and backward) and for inference, on `--threads` threads (1: CPU time is wall
  time on an idle machine). `lstm` is oneDNN's
  fused kernel; the scripted cells run one TorchScript loop per direction.
- sst2 / ptb: the shipped config (configs/sst2_bilstm_attention.yaml,
  configs/ptb_lstm_small.yaml) trained once per cell and seed with `--set` overrides (a reduced
  budget must be given and reported as such, e.g. `--set trainer.max_epochs=1`), then scored
  with `textseq evaluate` on the dev split (SST-2 accuracy) or the test split (PTB
  perplexity); mean and standard deviation over the seeds, and training tokens/s.
- seq2seq: configs/multi30k_gru_no_attention.yaml (the GRU + Bahdanau config without its
  attention), test2016 BLEU, next to the shipped GRU + Bahdanau figure (36.22 greedy).
- ner: each "NAME: CONFIG [K=V ...]" trained and scored on the CoNLL-2003 test split, next to
  the shipped BiLSTM-CRF (docs/benchmarks.md: test F1 90.24); by default the stacked config
  with MiniLM frozen and fine-tuned, and the plain MiniLM token classifier.

Training runs go through the CLI (`textseq train`, `textseq evaluate`), one after another,
into a temporary directory (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELLS = (
    "rnn_tanh",
    "gru",
    "lstm",
    "peephole_lstm",
    "cifg_lstm",
    "layernorm_lstm",
    "mgu",
    "nested_lstm",
)
SHIPPED = {"seq2seq": ("GRU + Bahdanau (shipped)", 36.22), "ner": ("BiLSTM-CRF (shipped)", 90.24)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def speed(args) -> None:
    import torch

    from textseq.modules.rnn import RNNEncoder

    torch.set_num_threads(args.threads)
    b, t, e, h = 32, 32, 100, 128
    rows = []
    for cell in args.cells:
        torch.manual_seed(0)
        encoder = RNNEncoder(input_size=e, hidden_size=h, cell=cell, bidirectional=True)
        x = torch.randn(b, t, e)
        lengths = torch.randint(t // 2, t + 1, (b,))
        lengths[0] = t
        tokens = int(lengths.sum())

        measured = _rates(encoder, x, lengths, tokens, args.repeats)
        rows.append((cell, measured["train"], measured["inference"]))
        log(f"{cell}: {measured['train']:.0f} train, {measured['inference']:.0f} inference tok/s")
    lstm = dict((cell, (tr, inf)) for cell, tr, inf in rows).get("lstm")
    print(f"\nTokens per CPU second, BiRNN B={b} T={t} E={e} H={h}, {args.threads} thread(s)")
    print("| cell | train tok/CPU-s | inference tok/CPU-s | train vs lstm | inference vs lstm |")
    print("|---|---|---|---|---|")
    for cell, train, inference in rows:
        ratio = (f"{train / lstm[0]:.2f}", f"{inference / lstm[1]:.2f}") if lstm else ("-", "-")
        print(f"| {cell} | {train:,.0f} | {inference:,.0f} | {ratio[0]} | {ratio[1]} |")


def _rates(encoder, x, lengths, tokens: int, repeats: int) -> dict[str, float]:
    """Tokens per CPU second of a training step (forward and backward) and of inference."""
    import torch

    def train_step():
        encoder.zero_grad()
        encoder(x, lengths).sum().backward()

    def infer():
        with torch.inference_mode():
            encoder(x, lengths)

    measured = {}
    for name, run in (("train", train_step), ("inference", infer)):
        for _ in range(6):  # warm-up (TorchScript compiles and optimises over its first runs)
            run()
        started, cpu_started = time.perf_counter(), time.process_time()
        count = 0
        while count < repeats or time.perf_counter() - started < 1.0:
            run()
            count += 1
        # On a shared machine wall time depends on the other processes; CPU time much less.
        measured[name] = tokens * count / (time.process_time() - cpu_started)
    return measured


def cli(*words: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "textseq", *words], capture_output=True, text=True, cwd=ROOT
    )
    if run.returncode != 0:
        raise SystemExit(f"textseq {' '.join(words[:2])} failed:\n{run.stderr[-2000:]}")
    return run.stdout


def train_and_score(config: str, overrides: list[str], out: Path, data: str) -> dict:
    """Trains `config` with `overrides` into `out`, scores it on `data`; the evaluation's
    JSON plus training seconds and training tokens."""
    sets = [word for key in overrides for word in ("--set", key)]
    cli("train", config, "--out", str(out), "--overwrite", *sets)
    scored = json.loads(cli("evaluate", str(out), "--data", data))
    metrics = json.loads((out / "metrics.json").read_text())
    scored["train_seconds"] = metrics.get("train_seconds")
    scored["train_tokens"] = metrics.get("data", {}).get("train_tokens")
    return scored


def metric_of(scored: dict, names: tuple[str, ...]) -> float:
    for name in names:
        if name in scored:
            return float(scored[name])
    raise SystemExit(f"none of {names} in the evaluation: {sorted(scored)}")


def per_cell(args, *, config: str, data: str, names: tuple[str, ...], title: str) -> None:
    rows = []
    for cell in args.cells:
        key = "model.rnn.cell" if "ptb" in config else "model.encoder.cell"
        values, speeds = [], []
        for seed in args.seeds:
            out = args.out / f"{cell}-{seed}"
            log(f"{cell}, seed {seed} ...")
            scored = train_and_score(
                config, [*args.set, f"{key}={cell}", f"seed={seed}"], out, data
            )
            values.append(metric_of(scored, names))
            log(f"{cell}, seed {seed}: {values[-1]:.4f} ({scored.get('train_seconds')} s)")
            if scored.get("train_tokens") and scored.get("train_seconds"):
                speeds.append(scored["train_tokens"] / scored["train_seconds"])
        rows.append((cell, values, speeds))
    print(f"\n{title}; overrides: {' '.join(args.set) or 'none'}; seeds {args.seeds}")
    print("| cell | mean | sd | runs | training tokens/s |")
    print("|---|---|---|---|---|")
    for cell, values, speeds in rows:
        digits = 4 if max(values) <= 1 else 2  # accuracy to 4 places, perplexity to 2
        sd = f"{statistics.stdev(values):.{digits}f}" if len(values) > 1 else "-"
        rate = f"{statistics.mean(speeds):,.0f}" if speeds else "-"
        print(f"| {cell} | {statistics.mean(values):.{digits}f} | {sd} | {len(values)} | {rate} |")


def named_runs(args, *, data: str, names: tuple[str, ...], section: str, default: list[str]):
    shipped_name, shipped = SHIPPED[section]
    print_rows = [(shipped_name, f"{shipped:.2f}", "docs/benchmarks.md")]
    for spec in args.runs or default:
        name, _, rest = spec.partition(":")
        config, *overrides = rest.split()
        log(f"{name} ...")
        scored = train_and_score(config, [*overrides, *args.set], args.out / name.strip(), data)
        value = metric_of(scored, names)
        value = value * 100 if value <= 1 else value
        print_rows.append((name.strip(), f"{value:.2f}", " ".join(overrides + args.set)))
    print(f"\n{section}, scored on {data}")
    print("| system | score | overrides |")
    print("|---|---|---|")
    for row in print_rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("section", choices=("speed", "sst2", "ptb", "seq2seq", "ner"))
    parser.add_argument("runs", nargs="*", help='ner/seq2seq: "NAME: CONFIG [K=V ...]"')
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    parser.add_argument("--set", action="append", default=[], help="K=V for every run")
    parser.add_argument("--threads", type=int, default=1, help="speed: torch threads")
    parser.add_argument("--repeats", type=int, default=5, help="speed: at least N timed steps")
    parser.add_argument("--out", type=Path, default=None, help="run directories (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        args.out = args.out or Path(temporary)
        if args.section == "speed":
            speed(args)
        elif args.section == "sst2":
            per_cell(
                args,
                config="configs/sst2_bilstm_attention.yaml",
                data="sst2:dev",
                names=("accuracy",),
                title="SST-2 dev accuracy",
            )
        elif args.section == "ptb":
            per_cell(
                args,
                config="configs/ptb_lstm_small.yaml",
                data="ptb:test",
                names=("perplexity",),
                title="PTB test perplexity",
            )
        elif args.section == "seq2seq":
            no_attention = "configs/multi30k_gru_no_attention.yaml"
            named_runs(
                args,
                data="multi30k:test2016",
                names=("bleu",),
                section="seq2seq",
                default=[f"GRU, no attention: {no_attention}"],
            )
        else:
            named_runs(
                args,
                data="conll2003:test",
                names=("f1", "entity_f1"),
                section="ner",
                default=[
                    "+ MiniLM frozen: configs/conll2003_stacked.yaml",
                    "+ MiniLM fine-tuned: configs/conll2003_stacked.yaml "
                    "model.transformer.fine_tune=true optim.backbone_lr=5e-5 "
                    "trainer.max_epochs=5",
                    "MiniLM token classifier: configs/conll2003_minilm.yaml",
                ],
            )


if __name__ == "__main__":
    main()
