"""What the CLI's verbs do for a language model beyond loading it: `evaluate` reads a corpus,
`generate` streams continuations of a prompt. Each function takes the model and the verb's
options as keywords named as the options (`--top-p` is `top_p`); `textseq.cli` passes the
options given."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textseq.errors import UsageError

if TYPE_CHECKING:
    from textseq.tasks.lm.predictor import LanguageModelPredictor

# Imported in the functions that use them: `textseq --help` reads this module's examples
# and docstrings without PyTorch or the data readers (textseq.tasks.base, Task.commands).

# For `textseq --help`: examples, and what --data names for this task's models.
EXAMPLES = """\
textseq train configs/ptb_lstm_small.yaml --out runs/ptb_small
textseq evaluate runs/ptb_small --data ptb:test                     # loss, perplexity, tokens
textseq generate runs/ptb_small --prompt "the market" --top-p 0.9 --seed 1
"""
DATA = (
    "a plain-text file (.txt, optionally .gz) or a named corpus (ptb:train|valid|test, "
    "tiny_shakespeare:train|valid, wikitext2:train|valid|test)"
)


def evaluate(model: LanguageModelPredictor, *, data: str, batch_size: int = 10) -> dict[str, Any]:
    """On a corpus (a plain-text file or NAME:SPLIT) read as --batch-size contiguous streams:
    loss (nats per token), perplexity (word level) or bits_per_character (character level),
    and tokens."""
    from textseq.tasks.lm.data import read_corpus_lines

    return model.evaluate(read_corpus_lines(data), batch_size=batch_size)


def generate(
    model: LanguageModelPredictor,
    *,
    write: Callable[[str], None],
    prompt: str = "",
    max_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    num: int = 1,
) -> None:
    """--num continuations of --prompt, streamed as each token is chosen: greedy with
    --temperature 0, else sampled, optionally among the --top-k most probable tokens and the
    smallest set whose probability reaches --top-p (nucleus sampling). Sample i uses seed
    --seed + i, so a seed always gives the same text.

    `write` receives the text piece by piece: the prompt first, a line break after each
    sample."""
    for name, value, low in (("--max-tokens", max_tokens, 0), ("--num", num, 1)):
        if value < low:
            raise UsageError(f"{name} ({value}) must be at least {low}")
    if temperature < 0:
        raise UsageError(f"--temperature ({temperature}) must be at least 0")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k ({top_k}) must be at least 1")
    if top_p is not None and not 0 < top_p <= 1:
        raise UsageError(f"--top-p ({top_p}) must be in (0, 1]")
    for index in range(num):
        if index:
            write("\n")
        write(prompt)
        model.generate(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=None if seed is None else seed + index,
            num=1,
            on_text=lambda _, piece: write(piece),
        )
        write("\n")
