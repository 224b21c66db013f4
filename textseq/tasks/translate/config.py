"""The schema of translation (`task: translate`): `TranslateConfig`.

`model.type` picks the network: `model.rnn` configures an attentional recurrent encoder-decoder
and `model.transformer` a Transformer; the section of the other type does not apply, nor do the
teacher-forcing keys of `training` to a Transformer (`scheduled_sampling_k` and
`teacher_forcing_min` apply with scheduled sampling only). `model.rnn.attention_dim` applies to
the bahdanau and concat scores only. Of `model.embedding` only `dim` applies (the width of both
tables, and a Transformer's d_model; `model.dropout` covers the embeddings). The sentences are
not cleaned: `text.strip_html` and `text.remove_urls` do not apply.
"""

from typing import ClassVar, Literal

from annotated_types import Ge, Le, Lt
from pydantic import Field

from textseq.config.base import (
    Bool,
    Float,
    Int,
    NotApplicable,
    Problem,
    Section,
    Str,
    TaskConfig,
    number,
    with_defaults,
)
from textseq.config.sections import (
    MAX_COUNT,
    Activation,
    BatchSize,
    Dropout,
    EmbeddingConfig,
    FeedForwardDim,
    Limit,
    LimitVal,
    LoaderWorkers,
    NormFirst,
    OptimConfig,
    Positional,
    RecurrentInit,
    RNNCell,
    Seed,
    Size,
    TextConfig,
    TrainerConfig,
    Width,
    classifier_keys,
    monitor_check,
    optimizer_keys,
    schedule_keys,
    tokenizer_keys,
)
from textseq.tasks.translate.data import DIRECTIONS

__all__ = [
    "DecodingConfig",
    "Seq2SeqRNNConfig",
    "Seq2SeqTrainingConfig",
    "Seq2SeqTransformerConfig",
    "TranslateConfig",
    "TranslateDataConfig",
    "TranslateModelConfig",
    "TranslateOptimConfig",
    "TranslateTextConfig",
]

RECURRENT_ONLY = (
    "teacher_forcing",
    "scheduled_sampling",
    "scheduled_sampling_k",
    "teacher_forcing_min",
)


class TranslateDataConfig(Section):
    """The sentence pairs and how they are batched."""

    train: Str | None = Field(
        "multi30k:train",
        description="NAME:SPLIT of a parallel corpus (multi30k); null: the files train_src "
        "and train_tgt.",
    )
    val: Str | None = Field(
        "multi30k:val",
        description="NAME:SPLIT of the validation pairs; null: the files val_src and val_tgt.",
    )
    train_src: Str | None = Field(
        None, description="With train: null, the source file (one sentence per line, .gz ok)."
    )
    train_tgt: Str | None = Field(
        None, description="With train: null, the target file (line i translates line i)."
    )
    val_src: Str | None = Field(None, description="With val: null, the validation source file.")
    val_tgt: Str | None = Field(None, description="With val: null, the validation target file.")
    direction: Str = Field("de-en", description="SRC-TGT languages of a named corpus.")
    variant: Literal["tok", "raw"] = Field(
        "tok",
        description="tok: the corpus's official lower-cased tokenised files; raw: the "
        "original sentences.",
    )
    limit_train: Limit = Field(
        None, description="Keep a seeded random N training pairs (quick runs); null: all."
    )
    limit_val: LimitVal = None
    max_src_length: Int | None = Field(
        50,
        ge=1,
        le=MAX_COUNT,
        description="Training pairs whose source has more tokens are dropped (counted and "
        "reported); validation and test pairs are never filtered. null: no limit.",
    )
    max_tgt_length: Int | None = Field(
        50, ge=1, le=MAX_COUNT, description="The same for the target side."
    )
    batch_size: BatchSize = Field(
        128, description="Sentence pairs per batch, bucketed by target length."
    )
    eval_batch_size: BatchSize = Field(256, description="Pairs per batch when validating.")
    bucket: Bool = Field(True, description="Batches of similar target lengths: less padding.")
    num_workers: LoaderWorkers = 0


class _TextWithJointVocab(TextConfig):
    joint_vocab: Bool = Field(
        False, description="One vocabulary for both sides (needed to share embeddings)."
    )


TranslateTextConfig = with_defaults(
    _TextWithJointVocab,
    "TranslateTextConfig",
    lowercase=False,
    strip_html=False,
    remove_urls=False,
    tokenizer="whitespace",
    min_freq=2,
)


class Seq2SeqRNNConfig(Section):
    """An attentional recurrent encoder-decoder (model.type: rnn)."""

    cell: Literal["gru", "lstm"] = Field("gru", description="gru or lstm.")
    encoder_cell: RNNCell | None = Field(
        None, description="The encoder's cell when it differs from the decoder's (null: cell)."
    )
    init: RecurrentInit = "default"
    encoder_hidden_size: Width = Field(256, description="Encoder units per direction.")
    encoder_layers: Size = Field(1, description="Stacked encoder layers.")
    bidirectional: Bool = Field(True, description="Read the source both ways.")
    decoder_hidden_size: Width = Field(512, description="Decoder state size.")
    decoder_layers: Size = Field(1, description="Stacked decoder layers.")
    attention: Literal["bahdanau", "dot", "general", "concat", "none"] = Field(
        "bahdanau",
        description="The attention score: bahdanau (additive, Bahdanau et al. 2015) or Luong "
        "et al. (2015)'s dot, general or concat; none: no attention, the source's final "
        "states initialise the decoder and are fed at every step (Cho et al. 2014).",
    )
    attention_dim: Width = Field(
        256, description="Hidden size of the score (bahdanau and concat only)."
    )
    input_feeding: Bool = Field(
        True, description="Feed the previous attentional state (Luong et al. 2015, 3.3)."
    )
    bridge: Bool = Field(
        True,
        description="Start the decoder from the encoder's final states (false: from zeros).",
    )


class Seq2SeqTransformerConfig(Section):
    """A Transformer encoder-decoder (model.type: transformer) of width model.embedding.dim."""

    encoder_layers: Size = Field(3, description="Encoder layers.")
    decoder_layers: Size = Field(3, description="Decoder layers.")
    num_heads: Size = Field(
        4, description="Attention heads; must divide model.embedding.dim (d_model)."
    )
    ff_dim: FeedForwardDim = 1024
    norm_first: NormFirst = True
    activation: Activation = "relu"
    positional: Positional = "sinusoidal"
    max_length: Size = Field(256, description="Longest sentence the positions cover.")


TranslateEmbeddingConfig = with_defaults(EmbeddingConfig, "TranslateEmbeddingConfig", dim=256)


class TranslateModelConfig(Section):
    """The sequence-to-sequence model."""

    type: Literal["rnn", "transformer"] = Field(
        "rnn", description="rnn (configured by model.rnn) or transformer (model.transformer)."
    )
    embedding: TranslateEmbeddingConfig = Field(default_factory=TranslateEmbeddingConfig)
    dropout: Dropout = Field(
        0.3, description="Dropout on embeddings, layer outputs (and attention weights)."
    )
    tie_embeddings: Bool = Field(
        True, description="The output layer shares the target embedding (Press & Wolf 2017)."
    )
    share_embeddings: Bool = Field(
        False, description="Source and target share one table (needs text.joint_vocab)."
    )
    rnn: Seq2SeqRNNConfig = Field(default_factory=Seq2SeqRNNConfig)
    transformer: Seq2SeqTransformerConfig = Field(default_factory=Seq2SeqTransformerConfig)


class Seq2SeqTrainingConfig(Section):
    """The training objective."""

    label_smoothing: number(Ge(0), Lt(1)) = Field(
        0.0, description="Szegedy et al. 2016; padding is never counted."
    )
    teacher_forcing: number(Ge(0), Le(1)) = Field(
        1.0,
        description="Chance of feeding the reference token at each step (model.type rnn only).",
    )
    scheduled_sampling: Literal["none", "linear", "exponential", "inverse_sigmoid"] = Field(
        "none",
        description="Scheduled sampling (Bengio et al. 2015, model.type rnn only): the "
        "teacher-forcing chance decays per epoch e from teacher_forcing (tf): linear "
        "max(min, tf - k e); exponential tf k^e; inverse_sigmoid tf k / (k + exp(e / k)); none "
        "keeps it fixed.",
    )
    scheduled_sampling_k: Float = Field(
        0.1, gt=0, description="k of the decay (with scheduled sampling only)."
    )
    teacher_forcing_min: number(Ge(0), Le(1)) = Field(
        0.5, description="Lower bound of the decayed chance (with scheduled sampling only)."
    )


class DecodingConfig(Section):
    """Beam search."""

    beam_size: Size = Field(5, description="Default beam of evaluate and translate (1: greedy).")
    length_penalty: Float = Field(
        0.6, ge=0, description="alpha of Wu et al. 2016; 0: raw log-probabilities."
    )
    max_length_a: Float = Field(
        1.5, ge=0, description="Hypotheses get at most a * source length + b tokens."
    )
    max_length_b: Size = Field(10, description="The b of max_length_a.")
    val_beam_size: Size = Field(1, description="Beam for validation BLEU (1: greedy, the fastest).")


class _OptimWithWarmup(OptimConfig):
    warmup_steps: Int = Field(
        0,
        ge=0,
        le=MAX_COUNT,
        description="N > 0: linear warm-up to optim.lr over N steps, then decay with the "
        "inverse square root of the step (Vaswani et al. 2017, eq. 3, with the peak set by "
        "lr) instead of the per-epoch schedule; 0: the per-epoch schedule (plateau or "
        "lr_decay_after).",
    )


TranslateOptimConfig = with_defaults(
    _OptimWithWarmup, "TranslateOptimConfig", optimizer="adam", grad_clip_norm=1.0
)
TranslateTrainerConfig = with_defaults(TrainerConfig, "TranslateTrainerConfig", monitor="val_bleu")


class TranslateConfig(TaskConfig):
    """Translation: a sequence-to-sequence model over sentence pairs."""

    task: Literal["translate"] = Field("translate", description="The task: translate.")
    renamed: ClassVar[dict[str, str]] = {"model.embedding_dim": "model.embedding.dim"}
    seed: Seed = Field(
        13, description="Seeds data order, initialisation, dropout and teacher forcing."
    )
    data: TranslateDataConfig = Field(default_factory=TranslateDataConfig)
    text: TranslateTextConfig = Field(default_factory=TranslateTextConfig)
    model: TranslateModelConfig = Field(default_factory=TranslateModelConfig)
    training: Seq2SeqTrainingConfig = Field(default_factory=Seq2SeqTrainingConfig)
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    optim: TranslateOptimConfig = Field(default_factory=TranslateOptimConfig)
    trainer: TranslateTrainerConfig = Field(default_factory=TranslateTrainerConfig)

    def inapplicable_keys(self) -> dict[str, NotApplicable]:
        model, training = self.model, self.training
        other = "transformer" if model.type == "rnn" else "rnn"
        not_cleaned = NotApplicable("to task translate (sentences are not cleaned)", ("task",))
        keys = {
            **tokenizer_keys(self.text),
            **classifier_keys("translate"),
            **schedule_keys(self.optim, self.optim.warmup_steps),
            **optimizer_keys(self.optim),
            "text.strip_html": not_cleaned,
            "text.remove_urls": not_cleaned,
            f"model.{other}": NotApplicable(
                f"to model.type {model.type!r} ({other} only)", ("model.type",)
            ),
        }
        for key in EmbeddingConfig.model_fields:
            if key != "dim":
                keys[f"model.embedding.{key}"] = NotApplicable(
                    "to task translate (dim only; model.dropout covers the embeddings)",
                    ("task",),
                )
        if model.type == "transformer":
            for key in RECURRENT_ONLY:
                keys[f"training.{key}"] = NotApplicable(
                    "to model.type 'transformer' (rnn only: a Transformer decoder is trained on "
                    "the reference prefix)",
                    ("model.type",),
                )
        elif training.scheduled_sampling == "none":
            for key in ("scheduled_sampling_k", "teacher_forcing_min"):
                keys[f"training.{key}"] = NotApplicable(
                    "to training.scheduled_sampling 'none'", ("training.scheduled_sampling",)
                )
        if model.type == "rnn" and model.rnn.attention not in ("bahdanau", "concat"):
            keys["model.rnn.attention_dim"] = NotApplicable(
                f"to model.rnn.attention {model.rnn.attention!r} (bahdanau and concat only)",
                ("model.rnn.attention",),
            )
        if model.type == "rnn" and model.rnn.attention == "none":
            keys["model.rnn.bridge"] = NotApplicable(
                "to model.rnn.attention 'none' (the source's final states always initialise "
                "the decoder)",
                ("model.rnn.attention",),
            )
        return keys

    def cross_checks(self) -> list[Problem]:
        data, model = self.data, self.model
        dim = model.embedding.dim
        problems = monitor_check(self.trainer.monitor, ("val_bleu", "val_loss"), "for translation")
        if (data.train is None) != (data.train_src is not None and data.train_tgt is not None):
            problems.append(
                Problem(
                    "data.train",
                    "give either data.train (NAME:SPLIT) or both data.train_src and data.train_tgt",
                    ("data.train_src", "data.train_tgt"),
                )
            )
        if data.val is not None and (data.val_src is not None or data.val_tgt is not None):
            problems.append(
                Problem(
                    "data.val",
                    "give either data.val (NAME:SPLIT) or data.val_src and data.val_tgt, not both",
                    ("data.val_src", "data.val_tgt"),
                )
            )
        if data.val is None and (data.val_src is None or data.val_tgt is None):
            problems.append(
                Problem(
                    "data.val",
                    "translation needs validation data: data.val or data.val_src and data.val_tgt",
                    ("data.val_src", "data.val_tgt"),
                )
            )
        if data.train is not None and data.direction not in DIRECTIONS:
            problems.append(
                Problem(
                    "data.direction",
                    f"must be one of {', '.join(DIRECTIONS)}, got {data.direction!r}",
                )
            )
        if model.share_embeddings and not self.text.joint_vocab:
            problems.append(
                Problem(
                    "model.share_embeddings",
                    "needs text.joint_vocab: true (one vocabulary for both sides)",
                    ("text.joint_vocab",),
                )
            )
        if model.type == "transformer" and dim % model.transformer.num_heads:
            problems.append(
                Problem(
                    "model.transformer.num_heads",
                    f"must divide model.embedding.dim ({dim}), got {model.transformer.num_heads}",
                    ("model.embedding.dim",),
                )
            )
        rnn = model.rnn
        memory = rnn.encoder_hidden_size * (2 if rnn.bidirectional else 1)
        if model.type == "rnn" and rnn.attention == "dot" and memory != rnn.decoder_hidden_size:
            problems.append(
                Problem(
                    "model.rnn.attention",
                    f"'dot' needs model.rnn.decoder_hidden_size ({rnn.decoder_hidden_size}) equal "
                    f"to the encoder output size ({memory} = encoder_hidden_size x directions); "
                    "use 'general' to project between them",
                    ("model.rnn.decoder_hidden_size", "model.rnn.encoder_hidden_size"),
                )
            )
        return problems
