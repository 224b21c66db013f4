"""`textseq config show|schema|docs`: the resolved config, a task's JSON Schema and the
configuration reference, from the task table's schemas."""

import json
from pathlib import Path

import pytest
import yaml

from textseq.cli import main
from textseq.tasks import TASKS, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_show_prints_yaml_that_loads_as_the_same_config(capsys):
    config = ROOT / "configs" / "conll2003_bilstm_crf.yaml"
    assert main(["config", "show", str(config), "--set", "seed=3"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["seed"] == 3
    assert load_config(shown) == load_config(config, ["seed=3"])


@pytest.mark.parametrize("task", sorted(TASKS))
def test_schema_prints_the_json_schema_of_each_task(task, capsys):
    assert main(["config", "schema", "--task", task]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["task"]["default"] == task
    assert schema["additionalProperties"] is False


def test_docs_prints_the_committed_configuration_reference(capsys):
    assert main(["config", "docs"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "configuration.md").read_text("utf-8")


def test_config_errors_are_one_line_each_with_exit_2_or_3(tmp_path, capsys):
    assert main(["config", "schema"]) == 2
    assert capsys.readouterr().err == (
        "textseq: error: config schema needs --task (classify, lm, tag, translate)\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: tag\nmodel:\n  encoder:\n    hiden_size: 3\n", encoding="utf-8")
    assert main(["config", "show", str(bad)]) == 3
    error = capsys.readouterr().err
    assert f"{bad}:4: model.encoder.hiden_size" in error
    assert "did you mean 'hidden_size'" in error
