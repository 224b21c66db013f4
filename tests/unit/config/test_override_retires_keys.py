"""A `--set` that changes a choice leaves out the config file's keys that the new choice does
not read, saying so, so that a shipped config's choices can be switched from the command line;
a key that does not apply for any other reason is still an error."""

import logging

import pytest
import yaml

from textseq.errors import ConfigError
from textseq.tasks import load_config

GRU = "configs/multi30k_gru_bahdanau.yaml"


def test_switching_attention_off_leaves_out_the_files_attention_keys(caplog):
    with caplog.at_level(logging.INFO, logger="textseq"):
        config = load_config(GRU, ["model.rnn.attention=none"])
    rnn = config.to_dict()["model"]["rnn"]
    assert rnn["attention"] == "none"
    assert "attention_dim" not in rnn and "bridge" not in rnn
    notes = [r.getMessage() for r in caplog.records]
    assert any(
        note.startswith(f"model.rnn.attention_dim ({GRU}:") and note.endswith("left out")
        for note in notes
    ), notes
    assert any(note.startswith("model.rnn.bridge") for note in notes), notes


def test_the_same_choice_in_the_file_itself_is_still_an_error(tmp_path):
    with open(GRU, encoding="utf-8") as file:
        data = yaml.safe_load(file)
    data["model"]["rnn"]["attention"] = "none"  # written in the file, with attention_dim
    path = tmp_path / "gru.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"model\.rnn\.attention_dim: does not apply"):
        load_config(path, ["trainer.max_epochs=2"])  # an unrelated override retires nothing


def test_an_override_that_sets_a_key_the_choice_does_not_read_is_an_error():
    with pytest.raises(ConfigError, match=r"model\.rnn\.attention_dim: does not apply"):
        load_config(GRU, ["model.rnn.attention=none", "model.rnn.attention_dim=64"])


def test_a_tagger_can_drop_a_feature_from_the_command_line():
    config = load_config("configs/conll2003_bilstm_crf.yaml", ["model.features=[words, chars]"])
    assert config.model.features == ["words", "chars"]
    assert "casing_dim" not in config.to_dict()["model"]
