"""Recurrent encoder-decoder with attention for translation (Bahdanau et al. 2015; Luong et
al. 2015), read top to bottom: encoder, bridge, decoder, model.

    encoder   h_1..h_S = BiRNN(emb(x))                         (Bahdanau et al. 2015, sec. 3.2)
    bridge    s_0 = tanh(W_b [->h_S; <-h_1])                    (one per decoder layer)
    decoder   s_t = RNN([emb(y_{t-1}); ~h_{t-1}], s_{t-1})      input feeding (Luong sec. 3.3)
              c_t, a_t = attention(s_t, h_1..h_S)              additive or dot/general/concat
              ~h_t = tanh(W_c [s_t; c_t])                       attentional state (Luong eq. 5)
              p(y_t | y_<t, x) = softmax(W_s ~h_t)               W_s tied to emb (Press & Wolf 2017)

`attention="none"` is the encoder-decoder without attention of Cho et al. (2014, sec. 2.2)
and Sutskever et al. (2014): the source reaches the decoder only as its fixed summary c,
the final encoder states of both directions, which through the bridge initialises the
decoder and is also fed at every step, to the recurrence and to the output:

    none      c = [->h_S; <-h_1],   s_0 = tanh(W_b c)
              s_t = RNN([emb(y_{t-1}); c; ~h_{t-1}], s_{t-1})  (~h_{t-1} with input feeding)
              ~h_t = tanh(W_c [s_t; c])

Its attention weights are all zero (it looks at no source position).

The `bahdanau` attention is the additive score of Bahdanau et al. (2015, eq. 6, appendix
A.1.2) computed from the current decoder state inside this Luong-style decoder, as JoeyNMT
does; `dot`, `general` and `concat` are Luong et al.'s scores (sec. 3.1, eq. 8).

The model exposes the step interface every decoder in `textseq.decoding` uses: `encode`,
`start`, `step`; states are batch-first so beam search can reorder them with one
`index_select` on dimension 0.

Shapes: B batch, S source length, T target length, E embedding size, H decoder hidden size,
K encoder output size (D*He, D directions), L decoder layers, V target vocabulary, A attention
dimension.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import nn

from textseq.modules.attention import AdditiveAttention, LuongAttention
from textseq.modules.embedding import source_target_embeddings
from textseq.modules.rnn import RNNEncoder

ATTENTIONS = ("bahdanau", "dot", "general", "concat", "none")
CELLS = ("gru", "lstm")


@dataclass
class EncoderOutput:
    memory: torch.Tensor  # (B, S, K) top-layer encoder states
    mask: torch.Tensor  # (B, S) True at real source tokens
    summary: torch.Tensor  # (B, K) final states: forward at the last token, backward at the first
    projected: torch.Tensor | None = None  # (B, S, A) the attention's query-independent part


@dataclass
class RecurrentState:
    hidden: torch.Tensor  # (B, L, H) decoder hidden states, batch first
    cell: torch.Tensor | None  # (B, L, H) LSTM cell states (None for a GRU)
    feed: torch.Tensor  # (B, E) previous attentional state ~h_{t-1} (input feeding)


class RecurrentEncoder(nn.Module):
    """Source embeddings, dropout and a (bidirectional) `RNNEncoder`."""

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        cell: str = "gru",
        hidden_size: int = 256,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        init: str = "default",
    ):
        super().__init__()
        self.embedding = embedding
        self.dropout = nn.Dropout(dropout)
        self.rnn = RNNEncoder(
            input_size=embedding.embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            bidirectional=bidirectional,
            dropout=dropout,
            init=init,
        )
        self.output_size = self.rnn.output_size

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src: (B, S), src_lengths: (B,)."""
        x = self.dropout(self.embedding(src))  # (B, S, E)
        memory = self.rnn(x, src_lengths)  # (B, S, K)
        positions = torch.arange(src.size(1), device=src.device)  # (S,)
        mask = positions[None, :] < src_lengths[:, None].to(src.device)  # (B, S)
        last = (src_lengths - 1).to(src.device)  # (B,)
        rows = torch.arange(src.size(0), device=src.device)  # (B,)
        hs = self.rnn.hidden_size
        summary = memory[rows, last, :hs]  # (B, He) forward direction at the last token
        if self.rnn.bidirectional:
            summary = torch.cat([summary, memory[:, 0, hs:]], dim=-1)  # (B, 2*He)
        return EncoderOutput(memory=self.dropout(memory), mask=mask, summary=summary)


class Bridge(nn.Module):
    """The decoder's initial state from the encoder's summary: s_0 = tanh(W_b summary), one
    per decoder layer (JoeyNMT's `init_hidden: bridge`); an LSTM's cell starts equal."""

    def __init__(self, *, input_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.projection = nn.Linear(input_size, num_layers * hidden_size)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        """summary: (B, K) -> (B, L, H)."""
        s0 = torch.tanh(self.projection(summary))  # (B, L*H)
        return s0.view(summary.size(0), self.num_layers, self.hidden_size)  # (B, L, H)


class RecurrentDecoder(nn.Module):
    """One step at a time: RNN over [emb(y_{t-1}); ~h_{t-1}], attention over the source,
    attentional state ~h_t, output logits."""

    def __init__(
        self,
        *,
        embedding: nn.Embedding,
        memory_size: int,
        cell: str = "gru",
        hidden_size: int = 256,
        num_layers: int = 1,
        attention: str = "bahdanau",
        attention_dim: int = 256,
        input_feeding: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = True,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell ({cell!r}) must be one of {', '.join(CELLS)}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention ({attention!r}) must be one of {', '.join(ATTENTIONS)}")
        dim = embedding.embedding_dim
        self.embedding = embedding
        self.input_feeding = input_feeding
        # Without attention, the source summary c is part of every step's input (Cho et al.).
        context_size = memory_size if attention == "none" else 0
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.dropout = nn.Dropout(dropout)
        rnn_class = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_class(
            input_size=dim * (2 if input_feeding else 1) + context_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        if attention == "none":
            self.attention: nn.Module | None = None
        elif attention == "bahdanau":
            self.attention = AdditiveAttention(
                key_dim=memory_size, attention_dim=attention_dim, query_dim=hidden_size
            )
        else:
            self.attention = LuongAttention(
                query_dim=hidden_size,
                key_dim=memory_size,
                score=attention,
                attention_dim=attention_dim,
            )
        self.attention_name = attention
        self.combine = nn.Linear(hidden_size + memory_size, dim, bias=False)  # W_c
        self.output = nn.Linear(dim, embedding.num_embeddings, bias=False)  # W_s
        if tie_embeddings:
            self.output.weight = embedding.weight

    def _attend(
        self, s_t: torch.Tensor, encoded: EncoderOutput
    ) -> tuple[torch.Tensor, torch.Tensor]:
        memory, mask, projected = encoded.memory, encoded.mask, encoded.projected
        if self.attention is None:  # the fixed summary c, no weight on any position
            return encoded.summary, mask.new_zeros(mask.shape, dtype=memory.dtype)  # (B, K)
        if self.attention_name == "bahdanau":
            return self.attention(memory, mask, query=s_t, projected_keys=projected)  # (B, K)
        return self.attention(s_t, memory, mask, projected_keys=projected)  # (B, K), (B, S)

    def step(
        self, y_prev: torch.Tensor, state: RecurrentState, encoded: EncoderOutput
    ) -> tuple[torch.Tensor, RecurrentState, torch.Tensor]:
        """y_prev: (B,) -> logits (B, V), the next state, attention weights (B, S)."""
        x = self.dropout(self.embedding(y_prev))  # (B, E)
        h_tilde, next_state, alphas = self.attentional_step(x, state, encoded)
        return self.output(self.dropout(h_tilde)), next_state, alphas  # (B, V)

    def attentional_step(
        self, x: torch.Tensor, state: RecurrentState, encoded: EncoderOutput
    ) -> tuple[torch.Tensor, RecurrentState, torch.Tensor]:
        """x: (B, E) the embedded previous token -> the attentional state ~h_t (B, E), the
        next state, attention weights (B, S). Embedding and output layer are the caller's, so
        training can apply each once to all steps (one dense embedding gradient, one large
        output product)."""
        if self.attention is None:
            x = torch.cat([x, encoded.summary], dim=-1)  # (B, E+K)
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)  # (B, 2E) (+K without attention)
        hidden = state.hidden.transpose(0, 1).contiguous()  # (L, B, H)
        if self.cell == "lstm":
            cell = state.cell.transpose(0, 1).contiguous()  # (L, B, H)
            out, (hidden, cell) = self.rnn(x.unsqueeze(1), (hidden, cell))  # (B, 1, H)
            cell = cell.transpose(0, 1)  # (B, L, H)
        else:
            out, hidden = self.rnn(x.unsqueeze(1), hidden)  # (B, 1, H)
            cell = None
        s_t = out.squeeze(1)  # (B, H)
        context, alphas = self._attend(s_t, encoded)  # (B, K), (B, S)
        h_tilde = torch.tanh(self.combine(torch.cat([s_t, context], dim=-1)))  # (B, E)
        next_state = RecurrentState(hidden=hidden.transpose(0, 1), cell=cell, feed=h_tilde)
        return h_tilde, next_state, alphas


class RecurrentSeq2Seq(nn.Module):
    """Encoder, bridge and attentional decoder. `forward` is teacher-forced training (with a
    chance of feeding the model's own previous prediction instead, scheduled sampling,
    Bengio et al. 2015); `encode`/`start`/`step` serve the decoders of `textseq.decoding`.
    The encoder's cell (`encoder_cell`, default `cell`) may be any of
    `textseq.modules.rnn.CELLS`, initialised as `init` says; the decoder's is gru or lstm."""

    def __init__(
        self,
        *,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_index: int = 0,
        embedding_dim: int = 256,
        cell: str = "gru",
        encoder_cell: str | None = None,
        init: str = "default",
        encoder_hidden_size: int = 256,
        encoder_layers: int = 1,
        bidirectional: bool = True,
        decoder_hidden_size: int = 512,
        decoder_layers: int = 1,
        attention: str = "bahdanau",
        attention_dim: int = 256,
        input_feeding: bool = True,
        bridge: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = True,
        share_embeddings: bool = False,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout ({dropout}) must be in [0, 1)")
        if attention == "none" and not bridge:
            raise ValueError(
                "attention 'none' needs the bridge: the source's final state "
                "initialises the decoder"
            )
        src_embedding, tgt_embedding = source_target_embeddings(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            embedding_dim=embedding_dim,
            pad_index=pad_index,
            share=share_embeddings,
        )
        self.encoder = RecurrentEncoder(
            embedding=src_embedding,
            cell=encoder_cell or cell,
            init=init,
            hidden_size=encoder_hidden_size,
            num_layers=encoder_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.bridge = (
            Bridge(
                input_size=self.encoder.output_size,
                hidden_size=decoder_hidden_size,
                num_layers=decoder_layers,
            )
            if bridge
            else None
        )
        self.decoder = RecurrentDecoder(
            embedding=tgt_embedding,
            memory_size=self.encoder.output_size,
            cell=cell,
            hidden_size=decoder_hidden_size,
            num_layers=decoder_layers,
            attention=attention,
            attention_dim=attention_dim,
            input_feeding=input_feeding,
            dropout=dropout,
            tie_embeddings=tie_embeddings,
        )
        self.embedding_dim = embedding_dim

    @property
    def embedding(self) -> nn.Embedding:
        """The target embedding table (for the optimiser's embedding group)."""
        return self.decoder.embedding

    @property
    def src_embedding(self) -> nn.Embedding:
        """The source embedding table (as `TransformerSeq2Seq.src_embedding`)."""
        return self.encoder.embedding

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        encoded = self.encoder(src, src_lengths)
        if self.decoder.attention is not None:
            encoded.projected = self.decoder.attention.project_keys(encoded.memory)  # (B, S, A)
        return encoded

    def start(self, encoded: EncoderOutput) -> RecurrentState:
        b = encoded.memory.size(0)
        d = self.decoder
        if self.bridge is not None:
            hidden = self.bridge(encoded.summary)  # (B, L, H)
        else:
            hidden = encoded.memory.new_zeros(b, d.num_layers, d.hidden_size)  # (B, L, H)
        cell = hidden if d.cell == "lstm" else None
        feed = encoded.memory.new_zeros(b, self.embedding_dim)  # (B, E)
        return RecurrentState(hidden=hidden, cell=cell, feed=feed)

    def step(
        self, y_prev: torch.Tensor, state: RecurrentState, encoded: EncoderOutput
    ) -> tuple[torch.Tensor, RecurrentState, torch.Tensor]:
        """y_prev: (B,) -> logits (B, V), state, attention (B, S)."""
        return self.decoder.step(y_prev, state, encoded)

    def forward(
        self,
        src: torch.Tensor,  # (B, S)
        src_lengths: torch.Tensor,  # (B,)
        tgt_in: torch.Tensor,  # (B, T) <sos> y_1 .. y_{T-1}
        *,
        teacher_forcing: float = 1.0,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) for every target position; with `teacher_forcing` < 1, each step
        after the first is fed the model's own previous argmax instead of the reference token
        with probability 1 - teacher_forcing (per step, for the whole batch). With
        `return_attention`, also the attention weights (B, T, S)."""
        encoded = self.encode(src, src_lengths)
        state = self.start(encoded)
        decoder = self.decoder
        embedded = decoder.dropout(decoder.embedding(tgt_in))  # (B, T, E)
        all_h, all_alphas = [], []
        for t in range(tgt_in.size(1)):
            x = embedded[:, t]  # (B, E)
            if t > 0 and teacher_forcing < 1.0 and random.random() >= teacher_forcing:
                y_prev = decoder.output(decoder.dropout(all_h[-1])).argmax(-1)  # (B,)
                x = decoder.dropout(decoder.embedding(y_prev))  # (B, E)
            h_tilde, state, alphas = decoder.attentional_step(x, state, encoded)  # (B, E)
            all_h.append(h_tilde)
            all_alphas.append(alphas)
        h = torch.stack(all_h, dim=1)  # (B, T, E)
        logits = decoder.output(decoder.dropout(h))  # (B, T, V)
        if return_attention:
            return logits, torch.stack(all_alphas, dim=1)  # (B, T, V), (B, T, S)
        return logits
