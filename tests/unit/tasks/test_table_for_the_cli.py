"""The task table as the CLI reads it: every task's verbs have the functions and help they
need, and a verb a task lacks is refused in one line naming those it has."""

from __future__ import annotations

import dataclasses
import inspect
from types import SimpleNamespace

import pytest

from textseq.errors import ModelDirError, TextseqError
from textseq.model_dir import write_manifest
from textseq.tasks import TASKS, check_verb, task_in
from textseq.tasks.base import COMMON_VERBS

# The verbs whose work differs by task: each task that lists one has a function for it.
TASK_FUNCTIONS = ("evaluate", "predict", "translate", "generate")


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_has_a_function_and_help_for_its_own_verbs(name):
    task = TASKS[name]
    assert task.all_verbs[: len(COMMON_VERBS)] == COMMON_VERBS
    for verb in (v for v in task.all_verbs if v in TASK_FUNCTIONS):
        function = task.command(verb)
        assert inspect.getdoc(function), (name, verb)
        # the model first; every option a keyword, as the CLI passes them
        first, *rest = inspect.signature(function).parameters.values()
        assert first.name == "model"
        assert all(p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in rest)
    assert task.commands_module.EXAMPLES.strip() and task.commands_module.DATA
    assert callable(getattr(task.predictor_class, "word_embeddings", None))
    with pytest.raises(AttributeError, match="has no function for 'serve'"):
        task.command("serve")


def test_a_verb_a_task_lacks_is_one_line_naming_its_verbs_and_its_main_one():
    check_verb(TASKS["lm"], "generate", "runs/ptb")  # supported: no error
    with pytest.raises(TextseqError) as raised:
        check_verb(TASKS["lm"], "predict", "runs/ptb")
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        "runs/ptb holds a language model (task: lm); predict is not one of its verbs (train, "
        "evaluate, generate, serve, neighbors, embeddings-plot); use: textseq generate runs/ptb"
    )


def test_task_in_reads_the_manifest(tmp_path):
    with pytest.raises(ModelDirError, match="no such model directory"):
        task_in(tmp_path / "nowhere")
    for name in ("config.yaml", "vocab.json", "model.safetensors", "tgt_vocab.json"):
        (tmp_path / name).write_text("{}")
    write_manifest(tmp_path, task="translate")
    assert task_in(tmp_path) is TASKS["translate"]


def _with_evaluate(function):
    """The language-model task with `function` as its evaluate."""
    return dataclasses.replace(TASKS["lm"], commands=SimpleNamespace(evaluate=function))


def test_run_passes_the_options_given_and_leaves_the_rest_to_the_functions_defaults():
    def evaluate(model, *, data: str, batch_size: int = 10, temperature: float = 1.0):
        return model, data, batch_size, temperature

    task = _with_evaluate(evaluate)
    options = {"data": "ptb:test", "batch_size": None, "temperature": 0, "tokens": False}
    # None and False are "not given"; 0 is a value
    assert task.run("evaluate", "m", options=options) == ("m", "ptb:test", 10, 0)
    with pytest.raises(TextseqError) as raised:
        task.run("evaluate", "m", options={"data": "x", "src": "a.de", "tag_column": 2})
    assert str(raised.value) == (
        "--src, --tag-column: not an option of evaluate for a language model (task lm); its "
        "options: --data"
    )
    with pytest.raises(TextseqError, match=r"^evaluate needs --data for a language model$"):
        task.run("evaluate", "m", options={"data": None})
