"""The table of tasks keeps its promises: a task that lists `export` names an export adapter
(and only then), a task that lists `serve` has a predictor with the methods the server calls,
and the adapters named are modules that build what `textseq export` needs."""

import dataclasses
import importlib

import pytest

from textseq.tasks import TASKS
from textseq.tasks.base import SERVE_METHODS


def test_every_exported_task_names_an_importable_adapter_and_no_other_does():
    for task in TASKS.values():
        assert ("export" in task.verbs) == (task.exporter is not None), task.name
        if task.exporter is not None:
            adapter = importlib.import_module(task.exporter)
            assert callable(adapter.export_subject), task.name
    assert {name for name, task in TASKS.items() if task.exporter} == {
        "classify",
        "tag",
        "translate",
    }


def test_every_served_task_has_a_predictor_the_server_can_call():
    for task in TASKS.values():
        if task.supports("serve"):
            assert all(callable(getattr(task.predictor_class, m)) for m in SERVE_METHODS), task.name
    assert {name for name, task in TASKS.items() if task.supports("serve")} == set(TASKS)
    endpoints = {name: (task.endpoint, task.answers) for name, task in TASKS.items()}
    assert endpoints == {
        "classify": ("predict", "predictions"),
        "tag": ("predict", "predictions"),
        "translate": ("translate", "translations"),
        "lm": ("generate", "generations"),
    }


def test_a_row_that_promises_a_verb_without_its_parts_is_refused():
    classify = TASKS["classify"]
    with pytest.raises(ValueError, match="has the verb export but names no exporter"):
        dataclasses.replace(classify, exporter=None)
    with pytest.raises(ValueError, match="export is not one of its verbs"):
        dataclasses.replace(TASKS["lm"], exporter="textseq.tasks.classify.export")
    with pytest.raises(ValueError, match="serve_metadata, serve_options, serve_problem, serve_"):
        dataclasses.replace(TASKS["lm"], predictor=object)
    # named by path, the predictor is checked when first imported
    named = dataclasses.replace(TASKS["lm"], predictor="builtins:object")
    with pytest.raises(ValueError, match="serve_metadata, serve_options, serve_problem, serve_"):
        _ = named.predictor_class
    with pytest.raises(ValueError, match="not exported"):
        TASKS["lm"].export_subject(None, "ptb:valid", limit=1, batch_size=1)
