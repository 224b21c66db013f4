"""Config: every key and value checked with errors that name the key, `--set` overrides parsed
as YAML, and the shipped configs load."""

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from textseq.config import (
    Config,
    DataConfig,
    LMConfig,
    TagConfig,
    apply_overrides,
    dump_yaml,
    from_dict,
    load_config,
    read_yaml,
    schema_for,
)
from textseq.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


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
        ({"data": {"batch_sise": 8}}, "data.batch_sise", "data.batch_size"),
        ({"dta": {}}, "dta", "data"),
        (
            {"model": {"encoder": {"hiden_size": 8}}},
            "model.encoder.hiden_size",
            "model.encoder.hidden_size",
        ),
        ({"optim": {"qq": 0.1}}, "optim.qq", None),
    ],
)
def test_unknown_key_names_it_and_suggests_the_closest(data, key, suggestion):
    with pytest.raises(ConfigError) as error:
        load_config(data)
    message = str(error.value)
    assert message.startswith(f"unknown config key '{key}'")
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
        (
            {"data": {"batch_size": "big"}},
            "config key 'data.batch_size' must be an integer, got 'big'",
        ),
        ({"data": {"batch_size": 8.0}}, "config key 'data.batch_size' must be an integer, got 8.0"),
        (
            {"data": {"batch_size": True}},
            "config key 'data.batch_size' must be an integer, got True",
        ),
        ({"data": {"bucket": "yes"}}, "config key 'data.bucket' must be true or false, got 'yes'"),
        (
            {"data": {"limit_train": "all"}},
            "config key 'data.limit_train' must be an integer or null, got 'all'",
        ),
        ({"data": {"train": 5}}, "config key 'data.train' must be a string, got 5"),
        ({"optim": {"lr": "fast"}}, "config key 'optim.lr' must be a number, got 'fast'"),
        ({"optim": {"lr": False}}, "config key 'optim.lr' must be a number, got False"),
        (
            {"optim": {"class_weights": [1, "x"]}},
            "config key 'optim.class_weights' must be one of 'balanced' or a list of a number "
            "or null",
        ),
        (
            {"trainer": {"devices": 1.5}},
            "config key 'trainer.devices' must be an integer or a string, got 1.5",
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
        "config key 'text.tokenizer' must be one of 'basic_english', 'whitespace', "
        "'characters', 'bpe', got 'spacy'"
    )


def test_section_given_as_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match=r"model\.encoder must be a mapping, got 5"):
        load_config({"model": {"encoder": 5}})
    with pytest.raises(ConfigError, match="the config must be a mapping"):
        from_dict([1, 2])


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
    result = apply_overrides(data, ["data.batch_size=9", "optim.lr=0.1"])
    assert data == {"data": {"batch_size": 8}}
    assert result == {"data": {"batch_size": 9}, "optim": {"lr": 0.1}}


def test_override_of_a_null_section_creates_it():
    assert apply_overrides({"data": None}, ["data.batch_size=2"]) == {"data": {"batch_size": 2}}


def test_invalid_yaml_in_an_override_is_kept_as_a_string():
    assert load_config({}, ["data.train=[unclosed"]).data.train == "[unclosed"


def test_override_with_a_wrong_type_names_the_key():
    with pytest.raises(ConfigError) as error:
        load_config({}, ["data.batch_size=x"])
    assert str(error.value) == "config key 'data.batch_size' must be an integer, got 'x'"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "data.batch_sise=3",
            "unknown config key 'data.batch_sise'; did you mean 'data.batch_size'?",
        ),
        ("dat.batch_size=3", "unknown config key 'dat'; did you mean 'data'?"),
        ("model.encoder=3", "config key 'model.encoder' is a section; set one of its keys"),
        ("model=3", "config key 'model' is a section; set one of its keys"),
        ("seed.value=3", "config key 'seed' has no sub-key 'value'"),
        ("data.batch_size.x=3", "config key 'data.batch_size' has no sub-key 'x'"),
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
        ("data.batch_size=0", "data.batch_size must be at least 1"),
        ("data.eval_batch_size=0", "data.eval_batch_size must be at least 1"),
        ("data.max_length=0", "data.max_length must be at least 1 or null"),
        ("data.val_fraction=1.0", "data.val_fraction must be between 0 and 1"),
        ("data.val_fraction=0", "data.val_fraction must be between 0 and 1"),
        ("text.min_freq=0", "text.min_freq must be at least 1"),
        ("model.embedding.dim=0", "model.embedding.dim must be at least 1"),
        ("model.encoder.hidden_size=0", "model.encoder.hidden_size must be at least 1"),
        ("model.encoder.num_layers=0", "model.encoder.num_layers must be at least 1"),
        ("optim.lr=0", "optim.lr must be positive"),
        ("trainer.max_epochs=0", "trainer.max_epochs must be at least 1"),
        ("model.embedding.dropout=1.0", r"model.embedding.dropout (1.0) must be in [0, 1)"),
        ("model.encoder.dropout=-0.1", r"model.encoder.dropout (-0.1) must be in [0, 1)"),
        ("model.head.dropout=2", r"model.head.dropout (2.0) must be in [0, 1)"),
    ],
)
def test_range_checks(override, message):
    with pytest.raises(ConfigError) as error:
        load_config({}, [override])
    assert str(error.value) == message


def test_multihead_heads_must_divide_the_encoder_width():
    base = ["model.pooling.type=multihead", "model.encoder.hidden_size=10"]
    with pytest.raises(ConfigError, match=r"num_heads \(3\) must divide .* \(20 = hidden_size"):
        load_config({}, [*base, "model.pooling.num_heads=3"])
    assert load_config({}, [*base, "model.pooling.num_heads=4"]).model.pooling.num_heads == 4
    with pytest.raises(ConfigError, match=r"\(10 = hidden_size"):
        load_config({}, [*base, "model.encoder.bidirectional=false", "model.pooling.num_heads=4"])
    # Other poolings ignore num_heads.
    load_config({}, ["model.pooling.type=attention", "model.pooling.num_heads=7"])


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    config = load_config(path)
    data = read_yaml(path)
    assert config.to_dict() == from_dict(data, schema_for(data.get("task", "classify"))).to_dict()


def _leaf_keys(cls: type, prefix: str = "") -> set[str]:
    keys = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            keys |= _leaf_keys(hint, f"{prefix}{f.name}.")
        else:
            keys.add(prefix + f.name)
    return keys


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
    schema present, and a comment on every line that sets a value."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "the config needs a header comment saying how to run it"
    data = read_yaml(path)
    assert _yaml_leaf_keys(data) == _leaf_keys(schema_for(data.get("task", "classify")))
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
        match="config key 'task' must be one of 'classify', 'lm', 'tag', 'translate', got",
    ):
        load_config({"task": "summarize"})


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        (
            {"task": "lm", "data": {"bpt": 3}},
            [],
            "unknown config key 'data.bpt'; did you mean 'data.bptt'?",
        ),
        (
            {"task": "lm"},
            ["model.rnn.hiden_size=3"],
            "unknown config key 'model.rnn.hiden_size'; did you mean 'model.rnn.hidden_size'?",
        ),
        (
            {"task": "lm"},
            ["model.encoder.cell=gru"],  # a classifier key is not an LM key
            "unknown config key 'model.encoder'",
        ),
        ({"task": "lm"}, ["data.bptt=x"], "config key 'data.bptt' must be an integer, got 'x'"),
        ({"task": "lm"}, ["data.bptt=1"], "data.bptt (1) must be at least 2"),
        ({"task": "lm"}, ["trainer.monitor=val_acc"], "trainer.monitor ('val_acc') must be"),
        ({"task": "lm"}, ["model.rnn.dropout=1"], "model.rnn.dropout (1.0) must be in [0, 1)"),
        (
            {"task": "lm"},
            ["model.rnn.hidden_size=300"],
            "model.tie_weights needs model.embedding.dim (200) equal to model.rnn.hidden_size "
            "(300)",
        ),
        (
            {"task": "lm", "model": {"type": "transformer", "embedding": {"dim": 30}}},
            ["model.tie_weights=false"],
            "model.transformer.num_heads (4) must divide model.embedding.dim (30)",
        ),
        ({"task": "lm"}, ["optim.optimizer=rmsprop"], "config key 'optim.optimizer' must be one"),
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
    assert list(yaml.safe_load(dump_yaml(config))) == [f.name for f in dataclasses.fields(Config)]


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
        (["model.pooling.type=cls"], "model.pooling.type 'cls' needs model.encoder.type"),
        (
            ["model.encoder.type=transformer", "model.pooling.type=last"],
            "model.pooling.type 'last' is for RNN encoders",
        ),
        (
            [
                "model.encoder.type=transformer",
                "model.embedding.dim=50",
                "model.encoder.num_heads=4",
            ],
            r"model.encoder.num_heads (4) must divide model.embedding.dim (50)",
        ),
        (
            ["model.encoder.type=pretrained"],
            "model.encoder.pretrained must name the encoder",
        ),
        (["optim.backbone_lr=0"], r"optim.backbone_lr (0.0) must be positive"),
        (
            [
                "model.encoder.type=transformer",
                "model.encoder.positional=learned",
                "model.encoder.max_positions=64",
                "data.max_length=100",
            ],
            r"data.max_length (100) must be below model.encoder.max_positions (64)",
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
        ("data.tags=pos", "data.tags 'pos' are plain tags: set model.scheme=plain"),
        ("model.dropout=1.0", r"model.dropout (1.0) must be in [0, 1)"),
        ("model.chars.kernel_size=0", "model.chars.kernel_size must be at least 1"),
        ("model.casing_dim=-1", "model.casing_dim must be at least 0"),
        ("optim.class_weights=balanced", "optim.class_weights must be null for a tagger"),
        ("model.encoder.type=transformer", "model.encoder.num_heads (3) must divide"),
    ],
)
def test_tag_range_checks(override, message):
    overrides = [override] + (["model.encoder.num_heads=3"] if "transformer" in override else [])
    with pytest.raises(ConfigError) as error:
        load_config({"task": "tag"}, overrides)
    assert str(error.value).startswith(message)


def test_unknown_tag_key_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"did you mean 'model.chars.kernel_size'"):
        load_config({"task": "tag"}, ["model.chars.kernel=3"])
