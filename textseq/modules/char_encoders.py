"""Character-level word encoders: one vector per word from its characters, so that a tagger
sees prefixes, suffixes and capitalisation even of words it has no embedding for.

- `CharCNN`: Ma & Hovy 2016 ("End-to-end Sequence Labeling via Bi-directional
  LSTM-CNNs-CRF", section 2.1, figure 1): character embeddings, one convolution, max-pooling
  over the word's characters.
- `CharBiLSTM`: Lample et al. 2016 ("Neural Architectures for Named Entity Recognition",
  section 4.1, figure 4): a BiLSTM over the characters; the word's vector is the forward
  LSTM's last state joined to the backward LSTM's last state (its state at the first
  character).

Shapes: B batch, T words per sentence, C characters per word (longest in the batch), D
character embedding size, F output size. Character id 0 is padding; padded words (all
zeros) come out as zero vectors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class CharCNN(nn.Module):
    """Characters -> embeddings -> Conv1d (`num_filters`, width `kernel_size`) -> max over
    the word's characters; output size `num_filters`."""

    def __init__(
        self,
        *,
        num_chars: int,
        char_dim: int = 30,
        num_filters: int = 30,
        kernel_size: int = 3,
        dropout: float = 0.0,
    ):
        super().__init__()
        if kernel_size < 1 or num_filters < 1:
            raise ValueError(
                f"kernel_size ({kernel_size}) and num_filters ({num_filters}) must be positive"
            )
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)  # Ma & Hovy apply dropout before the CNN
        self.conv = nn.Conv1d(char_dim, num_filters, kernel_size, padding=kernel_size // 2)
        self.output_size = num_filters

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (B, T, C) -> (B, T, F)."""
        batch, words, chars = char_ids.shape
        flat = char_ids.reshape(batch * words, chars)  # (B*T, C)
        x = self.dropout(self.embedding(flat))  # (B*T, C, D)
        features = self.conv(x.transpose(1, 2))[:, :, :chars]  # (B*T, F, C)
        real = (flat != 0).unsqueeze(1)  # (B*T, 1, C)
        features = features.masked_fill(~real, float("-inf"))  # padding never wins the max
        pooled = features.max(dim=2).values  # (B*T, F)
        pooled = pooled.masked_fill(~real.any(dim=2), 0.0)  # padded words: zeros
        return pooled.reshape(batch, words, -1)  # (B, T, F)


class CharBiLSTM(nn.Module):
    """Characters -> embeddings -> BiLSTM; output [h_forward(last char); h_backward(first
    char)], size 2 * `hidden_size`."""

    def __init__(self, *, num_chars: int, char_dim: int = 25, hidden_size: int = 25):
        super().__init__()
        if hidden_size < 1:
            raise ValueError(f"hidden_size ({hidden_size}) must be positive")
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (B, T, C) -> (B, T, 2H)."""
        batch, words, chars = char_ids.shape
        flat = char_ids.reshape(batch * words, chars)  # (B*T, C)
        lengths = (flat != 0).sum(1)  # (B*T,)
        x = self.embedding(flat)  # (B*T, C, D)
        packed = pack_padded_sequence(
            x, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(packed)  # h_n: (2, B*T, H), forward then backward
        final = torch.cat([h_n[0], h_n[1]], dim=1)  # (B*T, 2H)
        final = final.masked_fill((lengths == 0).unsqueeze(1), 0.0)  # padded words: zeros
        return final.reshape(batch, words, -1)  # (B, T, 2H)
