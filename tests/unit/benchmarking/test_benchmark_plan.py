"""What a benchmark run scores and how it identifies a config: the splits each shipped
config's data has, and a config hash blind to seed and threads only."""

from pathlib import Path

import pytest

from textseq.benchmarking.run import config_hash, evaluation_specs
from textseq.tasks import TASKS, load_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("imdb_bilstm_attention", {"test": "imdb:test"}),  # no dev: val is held out of train
        ("sst2_bilstm_attention", {"dev": "sst2:dev"}),  # GLUE keeps SST-2's test labels
        ("conll2003_bilstm_crf", {"test": "conll2003:test", "dev": "conll2003:dev"}),
        ("ptb_lstm_medium", {"test": "ptb:test", "dev": "ptb:valid"}),
        ("shakespeare_char_lstm", {"dev": "tiny_shakespeare:valid"}),
        ("multi30k_gru_bahdanau", {"test": "multi30k:test2016", "dev": "multi30k:val"}),
    ],
)
def test_evaluation_specs_of_the_shipped_configs(name, expected):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert evaluation_specs(TASKS[cfg.task], cfg) == expected


def test_config_hash_ignores_how_a_run_is_carried_out_only():
    path = CONFIGS / "sst2_bilstm_attention.yaml"
    base = config_hash(load_config(path))
    same = ["seed=99", "trainer.threads=1", "trainer.progress_bar=false"]
    assert config_hash(load_config(path, same)) == base
    assert config_hash(load_config(path, ["optim.lr=0.01"])) != base
    assert config_hash(load_config(path, ["model.encoder.hidden_size=64"])) != base
