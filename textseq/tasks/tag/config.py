"""The schema of sequence labelling (`task: tag`): `TagConfig`.

`model.encoder.type` (rnn or transformer) picks the encoder, and each type has only its own
keys. With `model.chars.type: none` no other key of `model.chars` applies, and
`model.chars.kernel_size` applies to the CNN only. A tagger reads tokens, so
`text.strip_html` and `text.remove_urls` do not apply.
"""

from typing import Literal

from pydantic import Field

from textseq.config.base import (
    Bool,
    Int,
    NotApplicable,
    Problem,
    Section,
    Str,
    TaskConfig,
    typed_union,
    with_defaults,
)
from textseq.config.sections import (
    MAX_WIDTH,
    BatchSize,
    BucketByLength,
    Dropout,
    DropoutBetweenLayers,
    DropoutInLayers,
    EmbeddingConfig,
    FeedForwardDim,
    LabelSmoothingConfig,
    Limit,
    LimitVal,
    LoaderWorkers,
    OptimConfig,
    RecurrentInit,
    RNNCell,
    Seed,
    Size,
    StackedLayers,
    TextConfig,
    TrainerConfig,
    UnitsPerDirection,
    ValFraction,
    Width,
    classifier_keys,
    monitor_check,
    optimizer_keys,
    schedule_keys,
    tokenizer_keys,
)

__all__ = [
    "CharConfig",
    "TagConfig",
    "TagDataConfig",
    "TagEncoderConfig",
    "TagModelConfig",
    "TagRNNEncoderConfig",
    "TagTransformerEncoderConfig",
]


class TagDataConfig(Section):
    """Where the tagged sentences come from and how they are batched."""

    train: Str = Field(
        "conll2003:train",
        description="Training sentences: a CoNLL file (optionally .gz) or NAME:SPLIT (conll2003).",
    )
    val: Str | None = Field(
        "conll2003:dev",
        description="Validation sentences, like train; null: hold out val_fraction of the "
        "training sentences.",
    )
    val_fraction: ValFraction = Field(
        0.1, description="Share of the training sentences held out when val is null."
    )
    tags: Literal["ner", "pos"] = Field(
        "ner", description="The tag set read from a named dataset: ner (BIO) or pos."
    )
    token_column: Int = Field(0, ge=0, le=1024, description="Column of the token in a CoNLL file.")
    tag_column: Int = Field(
        -1,
        ge=-1024,
        le=1024,
        description="Column of the tag in a CoNLL file (negative: from the end).",
    )
    limit_train: Limit = Field(
        None, description="Keep a seeded random N training sentences (quick runs); null: all."
    )
    limit_val: LimitVal = None
    batch_size: BatchSize = Field(32, description="Training sentences per batch.")
    eval_batch_size: BatchSize = Field(256, description="Sentences per batch when validating.")
    bucket: BucketByLength = True
    num_workers: LoaderWorkers = 0


class CharConfig(Section):
    """The character-level word encoder."""

    type: Literal["none", "cnn", "lstm"] = Field(
        "cnn",
        description="none, cnn (Ma & Hovy 2016) or lstm (a BiLSTM, Lample et al. 2016).",
    )
    dim: Width = Field(30, description="Character embedding size.")
    hidden_size: Width = Field(
        30, description="Filters of the CNN, or units per direction of the BiLSTM."
    )
    kernel_size: Size = Field(3, description="Width of the CNN's filters in characters (cnn only).")
    min_freq: Size = Field(1, description="Characters seen fewer times in training are <unk>.")


class TagRNNEncoderConfig(Section):
    """A (bi)LSTM or GRU over the token representations."""

    type: Literal["rnn"] = Field("rnn", description="rnn | transformer.")
    cell: RNNCell = "lstm"
    init: RecurrentInit = "default"
    hidden_size: UnitsPerDirection = 200
    num_layers: StackedLayers = 1
    bidirectional: Bool = Field(True, description="Also read the sentence right to left.")
    dropout: DropoutBetweenLayers = 0.0


class TagTransformerEncoderConfig(Section):
    """Self-attention layers over the projected token representations."""

    type: Literal["transformer"] = Field("transformer", description="rnn | transformer.")
    hidden_size: Width = Field(200, description="The model width d_model.")
    num_layers: Size = Field(1, description="Encoder layers.")
    dropout: DropoutInLayers = 0.0
    num_heads: Size = Field(4, description="Attention heads; must divide hidden_size.")
    ff_dim: FeedForwardDim = 512
    max_length: Size = Field(512, description="Longest sentence (sinusoidal positions).")


TagEncoderConfig = typed_union(TagRNNEncoderConfig, TagTransformerEncoderConfig)
TagEmbeddingConfig = with_defaults(EmbeddingConfig, "TagEmbeddingConfig", dim=50, dropout=0.5)


class TagModelConfig(Section):
    """The tagger: token representation, encoder and output layer."""

    embedding: TagEmbeddingConfig = Field(default_factory=TagEmbeddingConfig)
    words_from_vectors: Bool = Field(
        True,
        description="Add every word the pretrained vectors know to the vocabulary, so that a "
        "test word never seen in training still finds its vector.",
    )
    chars: CharConfig = Field(default_factory=CharConfig)
    casing_dim: Int = Field(
        0,
        ge=0,
        le=MAX_WIDTH,
        description="Size of the casing feature's embedding (0: no casing feature).",
    )
    encoder: TagEncoderConfig = Field(default_factory=TagRNNEncoderConfig)
    dropout: Dropout = Field(
        0.5,
        description="Dropout on the encoder's output (model.embedding.dropout: on its input).",
    )
    output: Literal["crf", "softmax"] = Field(
        "crf", description="A linear-chain CRF (Viterbi decoding) or an independent softmax."
    )
    scheme: Literal["bio", "iobes", "plain"] = Field(
        "iobes", description="How entity tags are modelled (plain: tags that are not entities)."
    )
    constrained: Bool = Field(True, description="Forbid invalid BIO/IOBES transitions in the CRF.")


TagTextConfig = with_defaults(
    TextConfig,
    "TagTextConfig",
    lowercase=True,
    strip_html=False,
    remove_urls=False,
    tokenizer="whitespace",
)
TagTrainerConfig = with_defaults(TrainerConfig, "TagTrainerConfig", monitor="val_f1")


class TagConfig(TaskConfig):
    """Sequence labelling: one tag per token (named entities, parts of speech)."""

    task: Literal["tag"] = Field("tag", description="The task: tag.")
    seed: Seed = Field(13, description="Seeds data order, initialisation and dropout.")
    data: TagDataConfig = Field(default_factory=TagDataConfig)
    text: TagTextConfig = Field(default_factory=TagTextConfig)
    model: TagModelConfig = Field(default_factory=TagModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    training: LabelSmoothingConfig = Field(default_factory=LabelSmoothingConfig)
    trainer: TagTrainerConfig = Field(default_factory=TagTrainerConfig)

    def inapplicable_keys(self) -> dict[str, NotApplicable]:
        reads_tokens = NotApplicable("to task tag (a tagger reads tokens)", ("task",))
        keys = {
            **tokenizer_keys(self.text),
            **classifier_keys("tag"),
            **schedule_keys(self.optim),
            **optimizer_keys(self.optim),
            "text.strip_html": reads_tokens,
            "text.remove_urls": reads_tokens,
        }
        if self.model.output != "softmax":
            keys["training"] = NotApplicable(
                f"to model.output {self.model.output!r} (softmax only)", ("model.output",)
            )
        chars = self.model.chars.type
        if chars == "none":
            for key in ("dim", "hidden_size", "kernel_size", "min_freq"):
                keys[f"model.chars.{key}"] = NotApplicable(
                    "to model.chars.type 'none'", ("model.chars.type",)
                )
        elif chars != "cnn":
            keys["model.chars.kernel_size"] = NotApplicable(
                f"to model.chars.type {chars!r} (cnn only)", ("model.chars.type",)
            )
        return keys

    def cross_checks(self) -> list[Problem]:
        model, encoder = self.model, self.model.encoder
        problems = monitor_check(self.trainer.monitor, ("val_f1", "val_acc", "val_loss"), "")
        if self.data.tags == "pos" and model.scheme != "plain":
            problems.append(
                Problem(
                    "data.tags",
                    f"'pos' are plain tags: set model.scheme=plain (it is {model.scheme!r})",
                    ("model.scheme",),
                )
            )
        if encoder.type == "transformer" and encoder.hidden_size % encoder.num_heads:
            problems.append(
                Problem(
                    "model.encoder.num_heads",
                    f"must divide model.encoder.hidden_size ({encoder.hidden_size}), the "
                    f"transformer's width, got {encoder.num_heads}",
                    ("model.encoder.hidden_size",),
                )
            )
        return problems
