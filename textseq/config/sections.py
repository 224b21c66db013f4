"""The sections every task shares, defined (and range-checked) once: `text`, `model.embedding`,
`optim` and `trainer`, the types of the data keys every task has (batch sizes, limits, the
held-out fraction), and the keys several tasks' own sections have (encoder widths, dropouts,
Transformer options), each with its type and description. A task gives a shared section its
own defaults with `with_defaults`, and a shared key its default where it declares it."""

from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from textseq.config.base import (
    OWN_MESSAGE,
    Bool,
    Float,
    Hint,
    Int,
    NotApplicable,
    Problem,
    Section,
    Str,
    number,
)

__all__ = [
    "Activation",
    "BatchSize",
    "BucketByLength",
    "CleaningTextConfig",
    "Dropout",
    "DropoutBetweenLayers",
    "DropoutInLayers",
    "EmbeddingConfig",
    "FeedForwardDim",
    "HeadsOfEmbeddingDim",
    "LabelSmoothingConfig",
    "Limit",
    "LimitVal",
    "LoaderWorkers",
    "NormFirst",
    "OptimConfig",
    "Positional",
    "RNNCell",
    "RecurrentInit",
    "Seed",
    "Size",
    "StackedLayers",
    "TextConfig",
    "TrainerConfig",
    "UnitsPerDirection",
    "ValFraction",
    "Width",
    "Workers",
    "classifier_keys",
    "monitor_check",
    "optimizer_keys",
    "schedule_keys",
    "tokenizer_keys",
]

# Upper limits on what would not fit in memory (or could not mean anything): a count at most
# MAX_COUNT, a layer width at most MAX_WIDTH (a 65,536-wide LSTM layer alone holds 34 billion
# weights), a seed what NumPy and Lightning accept.
MAX_COUNT = 2**31 - 1
MAX_WIDTH = 65_536


def _devices(value: object) -> object:
    """`trainer.devices`: a count from 1, or a string Lightning reads (auto, "0,1"); 0 and
    negative counts (which Lightning reads as "no device" and "every device") are refused in
    one line that says what is accepted."""
    if isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WIDTH
    ):
        return value
    raise PydanticCustomError(
        OWN_MESSAGE,
        "must be a number of devices from 1 to {most} (processes with strategy ddp), auto, "
        "or a string of device indices such as '0,1'; got {value}",
        {"most": MAX_WIDTH, "value": repr(value)},
    )


MAX_SEED = 2**32 - 1
Size = Annotated[Int, Field(ge=1, le=MAX_COUNT)]  # a count: at least 1
Width = Annotated[Int, Field(ge=1, le=MAX_WIDTH)]  # a layer or embedding width
Seed = Annotated[Int, Field(ge=0, le=MAX_SEED)]
BatchSize = Annotated[Int, Field(ge=1, le=MAX_WIDTH * 16)]
Limit = Annotated[Int | None, Field(ge=1, le=MAX_COUNT)]  # keep only N of something; null: all
Workers = Annotated[Int, Field(ge=0, le=1024)]
ValFraction = number(Gt(0), Lt(1))
Dropout = number(Ge(0), Lt(1))

Cell = Literal[
    "lstm",
    "gru",
    "rnn_tanh",
    "rnn_relu",
    "peephole_lstm",
    "cifg_lstm",
    "layernorm_lstm",
    "mgu",
    "nested_lstm",
]
Tokenizer = Literal["basic_english", "whitespace", "characters", "bpe", "wordpiece", "unigram"]

# Keys that several tasks' schemas have, each meaning one thing wherever it stands: its type and
# description defined once here, its default given by each schema (`ff_dim: FeedForwardDim = 256`).
LimitVal = Annotated[Limit, Field(description="The same for validation.")]
LoaderWorkers = Annotated[
    Workers, Field(description="DataLoader worker processes (0: in-process).")
]
BucketByLength = Annotated[
    Bool, Field(description="Batches of similar lengths: less padding, faster epochs.")
]
RNNCell = Annotated[
    Cell,
    Field(
        description="lstm, gru, rnn_tanh, rnn_relu, or one of the scripted cells of "
        "textseq.modules: peephole_lstm, cifg_lstm, layernorm_lstm, mgu, nested_lstm."
    ),
]


class LabelSmoothingConfig(Section):
    """The training objective of a softmax output."""

    label_smoothing: number(Ge(0), Lt(1)) = Field(
        0.0,
        description="Label smoothing (Szegedy et al. 2016): the training target puts this much "
        "mass uniformly on all classes; validation loss stays plain cross-entropy.",
    )


RecurrentInit = Annotated[
    Literal["default", "orthogonal"],
    Field(
        description="default (PyTorch's uniform) or orthogonal: recurrent weights "
        "orthogonal, input weights Xavier, forget-gate bias 1 (textseq.modules.rnn)."
    ),
]
StackedLayers = Annotated[Annotated[Size, Field(le=1024)], Field(description="Stacked layers.")]
UnitsPerDirection = Annotated[Width, Field(description="Units per direction.")]
DropoutBetweenLayers = Annotated[Dropout, Field(description="Dropout between stacked layers.")]
HeadsOfEmbeddingDim = Annotated[
    Size, Field(description="Attention heads; must divide model.embedding.dim.")
]
FeedForwardDim = Annotated[Width, Field(description="Feed-forward inner size.")]
DropoutInLayers = Annotated[Dropout, Field(description="Dropout inside each layer.")]
Activation = Annotated[Literal["relu", "gelu"], Field(description="Feed-forward activation.")]
NormFirst = Annotated[
    Bool, Field(description="Pre-LN (Xiong et al. 2020) or post-LN as in the paper.")
]
Positional = Annotated[
    Literal["sinusoidal", "learned"],
    Field(description="Position encoding: fixed sinusoids or a learned table."),
]


class TextConfig(Section):
    """How raw text becomes tokens and the vocabulary."""

    lowercase: Bool = Field(True, description="Lower-case the text before tokenizing.")
    strip_html: Bool = Field(
        True, description="Remove HTML tags such as <br /> and unescape entities (&amp;)."
    )
    remove_urls: Bool = Field(True, description="Drop http(s):// and www. addresses.")
    tokenizer: Tokenizer = Field(
        "basic_english",
        description="basic_english: words, punctuation and clitics (don't -> do n't); "
        "whitespace: split on spaces; characters: one token per character; bpe, wordpiece, "
        "unigram: a byte-pair, WordPiece or unigram-LM subword model fitted on the training "
        "text.",
    )
    bpe_vocab_size: Int = Field(
        8000,
        ge=50,
        le=MAX_WIDTH * 16,
        description="Size of the subword vocabulary (text.tokenizer bpe, wordpiece or unigram).",
    )
    min_freq: Int = Field(
        1,
        ge=1,
        le=MAX_COUNT,
        description="Training tokens seen fewer times than this become <unk>.",
    )
    max_vocab_size: Limit = Field(
        None, description="Keep only the N most frequent tokens; null: no cap."
    )


class CleaningTextConfig(TextConfig):
    """How raw text becomes tokens and the vocabulary, with the cleaning options of the tasks
    that read raw text (classify, lm): hashtags, emoji, punctuation and digits."""

    hashtags: Literal["keep", "drop", "word"] = Field(
        "keep", description="#hashtags: keep as written, drop whole, or keep the word only."
    )
    emoji: Literal["keep", "drop"] = Field("keep", description="Keep or drop emoji.")
    remove_punctuation: Bool = Field(
        False, description="Replace punctuation by spaces (an apostrophe inside a word stays)."
    )
    remove_digits: Bool = Field(False, description="Drop runs of digits.")


class EmbeddingConfig(Section):
    """The token embedding table."""

    dim: Width = Field(
        100,
        description="Embedding size: the vectors' dimension when vectors are given, the "
        "model's width for a Transformer.",
    )
    vectors: Str | None = Field(
        None,
        description="Pretrained word vectors: null (learned from scratch), a known name "
        "(glove.6B.50d) or a file.",
    )
    vectors_format: Literal["auto", "word2vec", "word2vec_binary", "glove", "fasttext"] = Field(
        "auto", description="Format of the vectors file; auto detects it."
    )
    freeze: Bool = Field(False, description="Keep the embedding table fixed during training.")
    unknown_init: Literal["normal", "uniform", "zeros"] = Field(
        "normal",
        description="Rows of words the vectors do not know: drawn like the found vectors "
        "(normal or uniform) or zeros.",
    )
    dropout: Dropout = Field(0.0, description="Dropout on the embeddings.")
    word_dropout: Dropout = Field(
        0.0,
        description="Chance of replacing a training token by <unk>, which teaches the model <unk>.",
    )


class OptimConfig(Section):
    """The optimiser and the learning-rate schedule."""

    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = Field(
        "adamw",
        description="adam, adamw (decoupled weight decay), sgd (plain unless optim.momentum) "
        "or rmsprop (Tieleman & Hinton 2012).",
    )
    momentum: number(Ge(0), Lt(1)) = Field(
        0.0, description="Momentum of sgd and rmsprop (0: none)."
    )
    nesterov: Bool = Field(
        False, description="Nesterov momentum (Sutskever et al. 2013); sgd with momentum only."
    )
    lr: Float = Field(1e-3, gt=0, le=100, description="Learning rate.")
    embedding_lr_scale: Annotated[
        Float, Hint("set model.embedding.freeze=true to keep the embeddings fixed")
    ] = Field(
        1.0,
        gt=0,
        description="The embedding table's LR is lr times this. Adam moves every row it sees "
        "by about lr per step whatever the gradient's size, so below 1 fine-tuned pretrained "
        "vectors drift less.",
    )
    backbone_lr: number(Gt(0)) | None = Field(
        None,
        description="The pretrained encoder's LR (classification with model.encoder.type "
        "pretrained only); lr is then the head's. null: the encoder learns at lr too.",
    )
    weight_decay: Float = Field(0.0, ge=0, description="Weight decay (decoupled with adamw).")
    grad_clip_norm: number(Gt(0)) | None = Field(
        5.0, description="Clip the gradients' global norm to this; null: no clipping."
    )
    lr_factor: Float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Multiply the LR by this when it decays (on a plateau, or every epoch "
        "after lr_decay_after).",
    )
    lr_patience: Int = Field(
        1,
        ge=0,
        le=MAX_COUNT,
        description="Epochs without a better trainer.monitor before the plateau schedule "
        "reduces the LR.",
    )
    lr_decay_after: Int | None = Field(
        None,
        ge=0,
        le=MAX_COUNT,
        description="null: reduce the LR on a plateau (lr_factor, lr_patience); N: keep it for "
        "N epochs, then multiply it by lr_factor after every epoch (Zaremba et al. 2014).",
    )
    class_weights: Literal["balanced"] | list[number(Gt(0))] | None = Field(
        None,
        description="Weights of the classes in the loss (classification only): balanced "
        "(inverse frequency), one weight per label in the order of labels.json, or null.",
    )


Logger = Literal["csv", "tensorboard", "mlflow"]


class TrainerConfig(Section):
    """How long and where training runs, and what it keeps (Lightning's Trainer)."""

    max_epochs: Size = Field(
        10, description="Upper bound on the epochs; early stopping may end sooner."
    )
    monitor: Literal["val_acc", "val_f1", "val_loss", "val_bleu"] = Field(
        "val_acc",
        description="The validation metric that picks the best epoch and drives early "
        "stopping and the plateau schedule.",
    )
    early_stopping_patience: Int | None = Field(
        3,
        ge=0,
        le=MAX_COUNT,
        description="Validations without improvement before stopping; null: never stop.",
    )
    val_check_interval: number(Gt(0), Le(1)) = Field(
        1.0, description="Validate every this fraction of an epoch (and at its end)."
    )
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "64-true"] = Field(
        "32-true", description="Numeric precision (bf16-mixed: autocast on CPUs with fast bf16)."
    )
    accelerator: Str = Field("auto", description="cpu, gpu, ... or auto (a GPU when there is one).")
    devices: Annotated[
        Annotated[Int, Field(ge=1, le=MAX_WIDTH)] | Str, BeforeValidator(_devices)
    ] = Field(1, description="Devices (processes with strategy ddp), or auto.")
    strategy: Str = Field("auto", description="Distribution strategy, e.g. ddp.")
    num_nodes: Size = Field(1, description="Machines (multi-node DDP).")
    accumulate_grad_batches: Size = Field(
        1, description="Batches whose gradients add up before each optimiser step."
    )
    log_every_n_steps: Size = Field(50, description="Steps between entries of the CSV log.")
    logger: Logger | Annotated[list[Logger], Field(min_length=1)] = Field(
        "csv",
        description="Lightning's loggers the run writes, one or a list, each with the run's "
        "hyperparameters: csv (logs/version_N/metrics.csv), tensorboard (tensorboard/, needs "
        "the tensorboard package), mlflow (mlruns/, a local MLflow store; needs mlflow). All in "
        "the model directory; `textseq curves DIR` plots the run's history whichever is used.",
    )
    progress_bar: Bool = Field(True, description="Show a progress bar on stderr.")
    threads: Int | None = Field(
        None, ge=1, le=4096, description="PyTorch intra-op threads; null keeps PyTorch's default."
    )
    compile: Bool = Field(
        False,
        description="torch.compile the model for training (TorchInductor; the first batches of "
        "each new shape pay for compiling). Measure first: see benchmarks/train_speed.py.",
    )
    ema_decay: number(Gt(0), Lt(1)) | None = Field(
        None,
        description="Validate, checkpoint and publish an exponential moving average of the "
        "weights (Polyak averaging, bias-corrected like Adam's moments, updated after every "
        "optimiser step) with this decay; 0.999 averages over roughly the last thousand steps. "
        "null: train without it.",
    )


def tokenizer_keys(text: TextConfig) -> dict[str, NotApplicable]:
    """`text.bpe_vocab_size` applies to the subword tokenizers only."""
    if text.tokenizer in ("bpe", "wordpiece", "unigram"):
        return {}
    return {
        "text.bpe_vocab_size": NotApplicable(
            f"to text.tokenizer {text.tokenizer!r} (bpe, wordpiece and unigram only)",
            ("text.tokenizer",),
        )
    }


def classifier_keys(task: str) -> dict[str, NotApplicable]:
    """The keys of the shared `optim` section that only classification uses, for `task`."""
    reason = NotApplicable(f"to task {task} (classification only)", ("task",))
    return {"optim.class_weights": reason, "optim.backbone_lr": reason}


def monitor_check(monitor: str, allowed: tuple[str, ...], why: str) -> list[Problem]:
    """A problem when `trainer.monitor` is not one of `allowed` (`why` says for what)."""
    if monitor in allowed:
        return []
    *others, last = (repr(m) for m in allowed)
    choices = f"{', '.join(others)} or {last}" if others else last
    because = f" {why}" if why else ""
    return [Problem("trainer.monitor", f"must be {choices}{because}, got {monitor!r}")]


def optimizer_keys(optim: OptimConfig) -> dict[str, NotApplicable]:
    """The keys of the `optim` section the chosen optimiser does not read: momentum is sgd's
    and rmsprop's, Nesterov momentum sgd's with a momentum."""
    keys = {}
    if optim.optimizer not in ("sgd", "rmsprop"):
        keys["optim.momentum"] = NotApplicable(
            f"to optim.optimizer {optim.optimizer!r} (sgd and rmsprop only)",
            ("optim.optimizer",),
        )
    if optim.optimizer != "sgd" or optim.momentum == 0:
        keys["optim.nesterov"] = NotApplicable(
            f"to optim.optimizer {optim.optimizer!r} with optim.momentum {optim.momentum} "
            "(sgd with momentum only)",
            ("optim.optimizer", "optim.momentum"),
        )
    return keys


def schedule_keys(optim: OptimConfig, warmup_steps: int = 0) -> dict[str, NotApplicable]:
    """The LR-schedule keys the chosen schedule does not read: a warm-up reads none of them,
    a fixed decay (`optim.lr_decay_after`) no patience."""
    if warmup_steps > 0:
        why = NotApplicable(
            f"to optim.warmup_steps {warmup_steps} (the warm-up schedule decays by the step "
            "number)",
            ("optim.warmup_steps",),
        )
        return {f"optim.{key}": why for key in ("lr_factor", "lr_patience", "lr_decay_after")}
    if optim.lr_decay_after is not None:
        why = NotApplicable(
            f"to optim.lr_decay_after {optim.lr_decay_after} (the plateau schedule only)",
            ("optim.lr_decay_after",),
        )
        return {"optim.lr_patience": why}
    return {}
