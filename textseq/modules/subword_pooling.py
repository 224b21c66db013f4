"""From a subword encoder's states to one vector per word: what a word-level tagger stacks
beside its word, character and casing features (Akbik et al. 2018's stacked embeddings;
Devlin et al. 2019, sec. 5.3, tag each word by its first subword).

    mix_layers     H = mean over the chosen layers l of H^(l)           (B, S, F)
    pool_subwords  first: w_j = H[s_j]   (s_j: the first subword of word j)
                   mean:  w_j = mean of H[s] over the subwords s of word j

`word_index[b, s]` names the word that subword s belongs to, or -1 for special tokens and
padding, which never reach a word. Words with no subword (none, when the tokenizer is given
the words) and padded word positions are zero.

Shapes: B batch, S subwords, T words, F features, L layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

POOLINGS = ("first", "mean")


def mix_layers(hidden_states: Sequence[torch.Tensor], layers: Sequence[int]) -> torch.Tensor:
    """The mean of `hidden_states[l]` (each (B, S, F); index 0 is the embedding layer, as
    Hugging Face returns them) over `layers` (negative counts from the top) -> (B, S, F)."""
    if not layers:
        raise ValueError("layers must name at least one layer")
    count = len(hidden_states)
    for layer in layers:
        if not -count <= layer < count:
            raise ValueError(f"layer {layer} is out of range for {count} hidden states")
    return torch.stack([hidden_states[layer] for layer in layers]).mean(0)  # (B, S, F)


def pool_subwords(
    states: torch.Tensor, word_index: torch.Tensor, num_words: int, pooling: str = "first"
) -> torch.Tensor:
    """states (B, S, F), word_index (B, S) with -1 off words -> words (B, T=num_words, F)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling ({pooling!r}) must be one of {', '.join(POOLINGS)}")
    b, s, f = states.shape
    on_word = word_index >= 0  # (B, S)
    if pooling == "first":
        previous = torch.cat([word_index.new_full((b, 1), -1), word_index[:, :-1]], 1)  # (B, S)
        on_word = on_word & (word_index != previous)  # the first subword of each word
    target = torch.where(on_word, word_index, num_words)  # (B, S); num_words: a spill slot
    index = target.unsqueeze(-1).expand(b, s, f)  # (B, S, F)
    summed = states.new_zeros(b, num_words + 1, f).scatter_add(1, index, states)  # (B, T+1, F)
    counts = states.new_zeros(b, num_words + 1).scatter_add(1, target, on_word.to(states.dtype))
    words = summed[:, :num_words] / counts[:, :num_words].clamp_min(1).unsqueeze(-1)
    return words  # (B, T, F)
