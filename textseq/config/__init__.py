"""The configuration schema and the one layer that validates it (pydantic).

A config is YAML (or a dict) whose `task` key picks the schema (`classify`: `Config`; `lm`:
`LMConfig`; `tag`: `TagConfig`; `translate`: `TranslateConfig`). The sections that mean the same
in every task (`text`, `model.embedding`, `optim`, `trainer`, and the common data keys) are
defined once (`sections.py`), each task giving them its own defaults. Every key is checked: an
unknown key, a key that does not apply to the chosen component (a key of another encoder type,
a pooling key of another pooling, the `model.rnn` section of a Transformer, ...), a value of the
wrong type or outside its range, and the checks between keys are all reported at once, one line
each with the file, the line and the key. Command-line overrides (`--set
model.encoder.hidden_size=256`) use the same dotted keys, so CLI and YAML never disagree.

    load_config(source, overrides)          a validated config from a path, dict or config
    load_config(read_yaml(dir / "config.yaml"), migrate=True)   a model directory's config
    dump_yaml(config), config_show(...)     the resolved config as YAML (show: commented)
    config_json_schema(task), render_docs() the JSON Schema; docs/configuration.md
"""

from textseq.config.base import NotApplicable, Problem, TaskConfig
from textseq.config.classify import (
    Config,
    DataConfig,
    EncoderConfig,
    HeadConfig,
    ModelConfig,
    PoolingConfig,
    PretrainedEncoderConfig,
    RNNEncoderConfig,
    TransformerEncoderConfig,
)
from textseq.config.docs import config_json_schema, config_show, render_docs
from textseq.config.lm import (
    LMConfig,
    LMDataConfig,
    LMModelConfig,
    LMRecurrentConfig,
    LMTransformerConfig,
)
from textseq.config.loading import apply_overrides, dump_yaml, from_dict, load_config, read_yaml
from textseq.config.migrate import migrate
from textseq.config.sections import EmbeddingConfig, OptimConfig, TextConfig, TrainerConfig
from textseq.config.tag import (
    CharConfig,
    TagConfig,
    TagDataConfig,
    TagEncoderConfig,
    TagModelConfig,
    TagRNNEncoderConfig,
    TagTransformerEncoderConfig,
)
from textseq.config.tasks import SCHEMAS, AnyConfig, schema_for
from textseq.config.translate import (
    DecodingConfig,
    Seq2SeqRNNConfig,
    Seq2SeqTrainingConfig,
    Seq2SeqTransformerConfig,
    TranslateConfig,
    TranslateDataConfig,
    TranslateModelConfig,
    TranslateOptimConfig,
    TranslateTextConfig,
)

__all__ = [
    "SCHEMAS",
    "AnyConfig",
    "CharConfig",
    "Config",
    "DataConfig",
    "DecodingConfig",
    "EmbeddingConfig",
    "EncoderConfig",
    "HeadConfig",
    "LMConfig",
    "LMDataConfig",
    "LMModelConfig",
    "LMRecurrentConfig",
    "LMTransformerConfig",
    "ModelConfig",
    "NotApplicable",
    "OptimConfig",
    "PoolingConfig",
    "PretrainedEncoderConfig",
    "Problem",
    "RNNEncoderConfig",
    "Seq2SeqRNNConfig",
    "Seq2SeqTrainingConfig",
    "Seq2SeqTransformerConfig",
    "TagConfig",
    "TagDataConfig",
    "TagEncoderConfig",
    "TagModelConfig",
    "TagRNNEncoderConfig",
    "TagTransformerEncoderConfig",
    "TaskConfig",
    "TextConfig",
    "TrainerConfig",
    "TransformerEncoderConfig",
    "TranslateConfig",
    "TranslateDataConfig",
    "TranslateModelConfig",
    "TranslateOptimConfig",
    "TranslateTextConfig",
    "apply_overrides",
    "config_json_schema",
    "config_show",
    "dump_yaml",
    "from_dict",
    "load_config",
    "migrate",
    "read_yaml",
    "render_docs",
    "schema_for",
]
