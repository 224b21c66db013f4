"""The schema of language modelling (`task: lm`): `LMConfig`.

`model.type` picks the network: `model.rnn` configures a recurrent one and `model.transformer`
a causal Transformer; the section of the other type does not apply, nor does
`model.embedding.word_dropout` to a Transformer.
"""

from typing import ClassVar, Literal

from pydantic import Field

from textseq.config.base import (
    Bool,
    Int,
    NotApplicable,
    Problem,
    Section,
    Str,
    TaskConfig,
    with_defaults,
)
from textseq.config.sections import (
    MAX_COUNT,
    Activation,
    BatchSize,
    CleaningTextConfig,
    Dropout,
    DropoutInLayers,
    EmbeddingConfig,
    FeedForwardDim,
    HeadsOfEmbeddingDim,
    Limit,
    LimitVal,
    NormFirst,
    OptimConfig,
    Positional,
    RecurrentInit,
    RNNCell,
    Seed,
    Size,
    StackedLayers,
    TrainerConfig,
    ValFraction,
    Width,
    classifier_keys,
    monitor_check,
    optimizer_keys,
    schedule_keys,
    tokenizer_keys,
)

__all__ = ["LMConfig", "LMDataConfig", "LMModelConfig", "LMRecurrentConfig", "LMTransformerConfig"]


class LMDataConfig(Section):
    """The corpus and how it is cut into windows."""

    train: Str = Field(
        "ptb:train",
        description="Training text: a plain-text file or NAME:SPLIT (ptb, tiny_shakespeare, "
        "wikitext2).",
    )
    val: Str | None = Field(
        "ptb:valid",
        description="Validation text, like train; null: hold out the last val_fraction of "
        "the training tokens.",
    )
    val_fraction: ValFraction = Field(
        0.1, description="Share of the training tokens held out when val is null."
    )
    limit_train: Limit = Field(
        None, description="Keep only the first N training tokens (quick runs); null: all."
    )
    limit_val: LimitVal = None
    batch_size: BatchSize = Field(20, description="Parallel streams the corpus is cut into.")
    eval_batch_size: BatchSize = Field(10, description="Streams when validating.")
    bptt: Int = Field(
        35, ge=2, le=MAX_COUNT, description="Tokens per truncated back-propagation window."
    )
    variable_bptt: Bool = Field(
        False,
        description="Merity et al. (2018): each window is bptt long (p 0.95) or bptt/2, plus "
        "N(0, 5) noise; the LR of a window is scaled by its length / bptt.",
    )


class LMRecurrentConfig(Section):
    """A stack of recurrent layers (model.type: rnn)."""

    cell: RNNCell = "lstm"
    init: RecurrentInit = "default"
    hidden_size: Width = Field(200, description="Units per layer.")
    num_layers: StackedLayers = 2
    dropout: Dropout = Field(
        0.0, description="Dropout on the outputs of every layer (Zaremba et al. 2014)."
    )


class LMTransformerConfig(Section):
    """A causal Transformer (model.type: transformer) of width model.embedding.dim."""

    num_layers: Size = Field(4, description="Layers.")
    num_heads: HeadsOfEmbeddingDim = 4
    ff_dim: FeedForwardDim = 512
    dropout: DropoutInLayers = 0.1
    norm_first: NormFirst = True
    activation: Activation = "gelu"
    positional: Positional = "learned"
    max_length: Size = Field(
        512,
        description="Longest context (learned positions have one row per position); at "
        "least data.bptt.",
    )


LMEmbeddingConfig = with_defaults(EmbeddingConfig, "LMEmbeddingConfig", dim=200)


class LMModelConfig(Section):
    """The language model."""

    type: Literal["rnn", "transformer"] = Field(
        "rnn", description="rnn (configured by model.rnn) or transformer (model.transformer)."
    )
    embedding: LMEmbeddingConfig = Field(default_factory=LMEmbeddingConfig)
    rnn: LMRecurrentConfig = Field(default_factory=LMRecurrentConfig)
    transformer: LMTransformerConfig = Field(default_factory=LMTransformerConfig)
    tie_weights: Bool = Field(
        True,
        description="Share the input embedding with the output projection (Press & Wolf "
        "2017; Inan et al. 2017); needs model.embedding.dim equal to the top layer's width.",
    )


LMTextConfig = with_defaults(
    CleaningTextConfig,
    "LMTextConfig",
    lowercase=False,
    strip_html=False,
    remove_urls=False,
    tokenizer="whitespace",
)
LMTrainerConfig = with_defaults(TrainerConfig, "LMTrainerConfig", monitor="val_loss")


class LMConfig(TaskConfig):
    """Language modelling: next-token prediction over a corpus."""

    task: Literal["lm"] = Field("lm", description="The task: lm.")
    renamed: ClassVar[dict[str, str]] = {
        "model.transformer.positions": "model.transformer.positional"
    }
    seed: Seed = Field(13, description="Seeds initialisation, dropout and variable BPTT draws.")
    data: LMDataConfig = Field(default_factory=LMDataConfig)
    text: LMTextConfig = Field(default_factory=LMTextConfig)
    model: LMModelConfig = Field(default_factory=LMModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: LMTrainerConfig = Field(default_factory=LMTrainerConfig)

    def inapplicable_keys(self) -> dict[str, NotApplicable]:
        model = self.model
        other = "transformer" if model.type == "rnn" else "rnn"
        keys = {
            **tokenizer_keys(self.text),
            **classifier_keys("lm"),
            **schedule_keys(self.optim),
            **optimizer_keys(self.optim),
            f"model.{other}": NotApplicable(
                f"to model.type {model.type!r} ({other} only)", ("model.type",)
            ),
        }
        if model.type == "transformer":
            keys["model.embedding.word_dropout"] = NotApplicable(
                "to model.type 'transformer' (rnn only)", ("model.type",)
            )
        return keys

    def cross_checks(self) -> list[Problem]:
        model, dim = self.model, self.model.embedding.dim
        problems = monitor_check(
            self.trainer.monitor,
            ("val_loss",),
            "for a language model (perplexity and bits per character follow from it)",
        )
        if model.type == "transformer":
            t = model.transformer
            if t.max_length < self.data.bptt:
                problems.append(
                    Problem(
                        "model.transformer.max_length",
                        f"must be at least data.bptt ({self.data.bptt}), got {t.max_length}",
                        ("data.bptt",),
                    )
                )
            if dim % t.num_heads:
                problems.append(
                    Problem(
                        "model.transformer.num_heads",
                        f"must divide model.embedding.dim ({dim}), got {t.num_heads}",
                        ("model.embedding.dim",),
                    )
                )
        elif model.tie_weights and dim != model.rnn.hidden_size:
            problems.append(
                Problem(
                    "model.tie_weights",
                    f"needs model.embedding.dim ({dim}) equal to model.rnn.hidden_size "
                    f"({model.rnn.hidden_size}); change one or set model.tie_weights=false",
                    ("model.embedding.dim", "model.rnn.hidden_size"),
                )
            )
        return problems
