"""Sequence tagger: word representation -> contextual encoder -> emission scores -> output
layer (linear-chain CRF or per-token softmax).

    word vector w_t = [embedding(lower(word_t)); chars(word_t); casing(word_t); ctx_t]
        (Lample et al. 2016, section 4; Ma & Hovy 2016, section 3; casing as in Reimers &
        Gurevych 2017), any of them left out; ctx_t is a pretrained Transformer's state of
        word t (textseq.models.word_features), stacked as in Akbik et al. 2018
    h_t = BiLSTM(dropout(w))_t   or  Transformer(W_in dropout(w) + PE)_t           (Vaswani et
        al. 2017)   or  dropout(w)_t (no encoder: a token classifier)
    emissions E_t = W_out dropout(h_t) + b       (Huang et al. 2015, "Bidirectional LSTM-CRF
        Models for Sequence Tagging"; Lample et al. 2016, eq. 1)
    output: p(y | x) from a linear-chain CRF over E (textseq.modules.crf), or softmax(E_t).

The word embedding is looked up lower-cased (when the text config lower-cases) while the
character encoder and the casing feature see the word as written.

Shapes: B batch, T words (longest sentence), C characters (longest word), E word
representation size, F contextual feature size, P subwords, S encoder output size, K tags.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.word_features import TransformerWordFeatures
from textseq.modules.char_encoders import CharBiLSTM, CharCNN
from textseq.modules.crf import LinearChainCRF
from textseq.modules.embedding import build_embedding
from textseq.modules.positional import SinusoidalPositionalEncoding
from textseq.modules.rnn import RNNEncoder
from textseq.modules.token_softmax import TokenSoftmax
from textseq.modules.transformer import TransformerEncoder
from textseq.modules.word_dropout import WordDropout, build_word_dropout

CASINGS = (
    "<pad>",
    "numeric",  # digits only
    "mostly_numeric",  # more than half digits
    "lower",  # all lower case
    "upper",  # all upper case
    "initial_upper",  # first letter upper case
    "contains_digit",
    "other",
)


def casing_of(word: str) -> int:
    """The index in CASINGS of `word`'s casing category (Reimers & Gurevych 2017)."""
    digits = sum(ch.isdigit() for ch in word)
    if word.isdigit():
        return 1
    if digits / max(len(word), 1) > 0.5:
        return 2
    if digits:
        return 6
    if word.islower():
        return 3
    if word.isupper():
        return 4
    if word[:1].isupper():
        return 5
    return 7


class TransformerTokenEncoder(nn.Module):
    """W_in x + PE, then a Transformer encoder over the real tokens: (B, T, E) -> (B, T, S)."""

    def __init__(
        self,
        *,
        input_size: int,
        d_model: int,
        num_layers: int,
        num_heads: int,
        ff_dim: int,
        dropout: float,
        max_length: int,
    ):
        super().__init__()
        self.input_projection = nn.Linear(input_size, d_model)
        self.positions = SinusoidalPositionalEncoding(dim=d_model, max_length=max_length)
        self.transformer = TransformerEncoder(
            num_layers=num_layers,
            d_model=d_model,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            norm_first=True,
        )
        self.output_size = d_model

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(x.size(1), device=x.device) < lengths[:, None]  # (B, T)
        x = self.positions(self.input_projection(x))  # (B, T, S)
        states, _ = self.transformer(x, mask)  # (B, T, S)
        return states


class NoTokenEncoder(nn.Module):
    """The identity: the emissions read the word representations themselves."""

    def __init__(self, input_size: int):
        super().__init__()
        self.output_size = input_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return x  # (B, T, E)


class SequenceTagger(nn.Module):
    """Many-to-many aligned tagger, assembled from the parts it is given. `output` is a
    `LinearChainCRF` or a `TokenSoftmax`; the task calls its `loss`, `decode`, `nbest` and
    `marginals` on the emissions `forward` returns."""

    def __init__(
        self,
        *,
        embedding: nn.Embedding | None,
        encoder: nn.Module,
        output: LinearChainCRF | TokenSoftmax,
        num_tags: int,
        char_encoder: nn.Module | None = None,
        casing_embedding: nn.Embedding | None = None,
        word_features: TransformerWordFeatures | None = None,
        input_dropout: float = 0.5,
        dropout: float = 0.5,
        word_dropout: WordDropout | None = None,
    ):
        super().__init__()
        self.word_dropout = word_dropout
        self.embedding = embedding
        self.char_encoder = char_encoder
        self.casing_embedding = casing_embedding
        self.word_features = word_features
        self.input_dropout = nn.Dropout(input_dropout)
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.emission = nn.Linear(encoder.output_size, num_tags)
        self.output = output

    @property
    def backbone(self) -> nn.Module | None:
        """The pretrained encoder behind the contextual features, if any (what
        `optim.backbone_lr` applies to)."""
        return None if self.word_features is None else self.word_features.backbone

    def forward(
        self,
        word_ids: torch.Tensor,  # (B, T), lower-cased lookup
        lengths: torch.Tensor,  # (B,)
        char_ids: torch.Tensor | None = None,  # (B, T, C), as written
        casing_ids: torch.Tensor | None = None,  # (B, T)
        *,
        context: torch.Tensor | None = None,  # (B, T, F), precomputed contextual features
        subwords: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The emission scores (B, T, K). With contextual features, `context` gives them
        (a frozen encoder's, computed beforehand) or `subwords` (ids, mask and word index,
        each (B, P), from `textseq.models.word_features.align_words`) is what the encoder
        reads."""
        mask = torch.arange(word_ids.size(1), device=word_ids.device) < lengths[:, None]  # (B, T)
        parts = []
        if self.embedding is not None:
            if self.word_dropout is not None:
                word_ids = self.word_dropout(word_ids, mask)  # (B, T)
            parts.append(self.embedding(word_ids))  # (B, T, E_w)
        if self.char_encoder is not None:
            parts.append(self.char_encoder(char_ids))  # (B, T, E_c)
        if self.casing_embedding is not None:
            parts.append(self.casing_embedding(casing_ids))  # (B, T, E_case)
        if self.word_features is not None:
            if context is None:
                if subwords is None:
                    raise ValueError("contextual features need `context` or `subwords`")
                context = self.word_features(*subwords, word_ids.size(1))  # (B, T, F)
            parts.append(context.to(parts[0].dtype if parts else context.dtype))  # (B, T, F)
        x = self.input_dropout(torch.cat(parts, dim=2))  # (B, T, E)
        states = self.encoder(x, lengths)  # (B, T, S)
        return self.emission(self.dropout(states))  # (B, T, K)


def build_sequence_tagger(
    *,
    vocab_size: int,
    num_chars: int,
    num_tags: int,
    pad_index: int,
    unk_index: int | None = None,
    words: bool = True,
    word_features: TransformerWordFeatures | None = None,
    embedding_dim: int = 50,
    pretrained: torch.Tensor | None = None,
    freeze_embeddings: bool = False,
    word_dropout: float = 0.0,
    chars: str = "cnn",
    char_dim: int = 30,
    char_hidden_size: int = 30,
    char_kernel_size: int = 3,
    casing_dim: int = 0,
    encoder: str = "rnn",
    cell: str = "lstm",
    init: str = "default",
    hidden_size: int = 200,
    num_layers: int = 1,
    bidirectional: bool = True,
    encoder_dropout: float = 0.0,
    num_heads: int = 4,
    ff_dim: int = 512,
    max_length: int = 512,
    embedding_dropout: float = 0.5,
    dropout: float = 0.5,
    output: str = "crf",
    allowed: tuple[list[bool], list[list[bool]], list[bool]] | None = None,
) -> SequenceTagger:
    """A `SequenceTagger` from plain hyperparameters: the word embedding unless `words` is
    false, the character encoder unless `chars` is none, the casing feature when `casing_dim`
    is over 0, and `word_features` when given. `allowed` (start, pairs, end), from
    `textseq.text.tags.allowed_transitions`, constrains the CRF's transitions."""
    if chars not in ("none", "cnn", "lstm"):
        raise ValueError(f"chars ({chars!r}) must be none, cnn or lstm")
    if encoder not in ("rnn", "transformer", "none"):
        raise ValueError(f"encoder ({encoder!r}) must be rnn, transformer or none")
    if not words and chars == "none" and casing_dim == 0 and word_features is None:
        raise ValueError("a tagger needs at least one word feature")
    if output not in ("crf", "softmax"):
        raise ValueError(f"output ({output!r}) must be crf or softmax")
    word_dropout_layer = build_word_dropout(word_dropout, unk_index) if words else None
    embedding = (
        build_embedding(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            pad_index=pad_index,
            pretrained=pretrained,
            freeze=freeze_embeddings,
            init="uniform",
        )
        if words
        else None
    )
    char_encoder: nn.Module | None = None
    if chars == "cnn":
        char_encoder = CharCNN(
            num_chars=num_chars,
            char_dim=char_dim,
            num_filters=char_hidden_size,
            kernel_size=char_kernel_size,
        )
    elif chars == "lstm":
        char_encoder = CharBiLSTM(
            num_chars=num_chars, char_dim=char_dim, hidden_size=char_hidden_size
        )
    casing_embedding = (
        nn.Embedding(len(CASINGS), casing_dim, padding_idx=0) if casing_dim > 0 else None
    )
    input_size = (
        (embedding_dim if words else 0)
        + (char_encoder.output_size if char_encoder is not None else 0)
        + casing_dim
        + (word_features.output_size if word_features is not None else 0)
    )
    if encoder == "none":
        token_encoder: nn.Module = NoTokenEncoder(input_size)
    elif encoder == "rnn":
        token_encoder = RNNEncoder(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            bidirectional=bidirectional,
            dropout=encoder_dropout,
            init=init,
        )
    else:
        token_encoder = TransformerTokenEncoder(
            input_size=input_size,
            d_model=hidden_size,
            num_layers=num_layers,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=encoder_dropout,
            max_length=max_length,
        )
    if output == "crf":
        start, pairs, end = allowed if allowed is not None else (None, None, None)
        output_layer: LinearChainCRF | TokenSoftmax = LinearChainCRF(
            num_tags=num_tags,
            allowed_start=None if start is None else torch.tensor(start),
            allowed_pairs=None if pairs is None else torch.tensor(pairs),
            allowed_end=None if end is None else torch.tensor(end),
        )
    else:
        output_layer = TokenSoftmax(num_tags=num_tags)
    return SequenceTagger(
        embedding=embedding,
        encoder=token_encoder,
        output=output_layer,
        num_tags=num_tags,
        char_encoder=char_encoder,
        casing_embedding=casing_embedding,
        word_features=word_features,
        input_dropout=embedding_dropout,
        dropout=dropout,
        word_dropout=word_dropout_layer,
    )
