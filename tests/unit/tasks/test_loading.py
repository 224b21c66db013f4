"""The table of tasks: every task is found through `textseq.tasks.TASKS`, and loading a trained
model for prediction never imports Lightning or any training module."""

import json
import random
import subprocess
import sys
import textwrap

import pytest

import textseq
from textseq.tasks import TASKS

SMALL_TRAINER = {"max_epochs": 1, "progress_bar": False, "threads": 1}


def _classify_config(tmp_path):
    rng = random.Random(0)
    rows = ["text\tlabel"]
    for _ in range(60):
        label = rng.choice(["pos", "neg"])
        word = "good" if label == "pos" else "bad"
        rows.append(f"a {word} film {rng.choice(['indeed', 'really', 'truly'])}\t{label}")
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {
        "task": "classify",
        "data": {"train": str(path), "val": None, "batch_size": 8},
        "model": {"embedding": {"dim": 8}, "encoder": {"hidden_size": 8}},
        "trainer": SMALL_TRAINER,
    }


def _tag_config(tmp_path):
    sentence = "Peter\tB-PER\nBlackburn\tI-PER\nvisits\tO\nBaghdad\tB-LOC\n.\tO\n\n"
    path = tmp_path / "train.conll"
    path.write_text(sentence * 20, encoding="utf-8")
    return {
        "task": "tag",
        "data": {"train": str(path), "val": None, "batch_size": 8},
        "model": {
            "embedding": {"dim": 8},
            "chars": {"dim": 4, "hidden_size": 4},
            "encoder": {"hidden_size": 8},
        },
        "trainer": SMALL_TRAINER,
    }


def _lm_config(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat .\n" * 80, encoding="utf-8")
    return {
        "task": "lm",
        "data": {"train": str(path), "val": None, "batch_size": 4, "bptt": 5},
        "model": {"embedding": {"dim": 8}, "rnn": {"hidden_size": 8, "num_layers": 1}},
        "trainer": SMALL_TRAINER,
    }


def _translate_config(tmp_path):
    paths = {}
    for split, count in (("train", 80), ("val", 10)):
        rng = random.Random(split)
        pairs = [[str(rng.randrange(10)) for _ in range(3)] for _ in range(count)]
        for side, lines in (("src", pairs), ("tgt", [list(reversed(p)) for p in pairs])):
            path = tmp_path / f"{split}.{side}"
            path.write_text("\n".join(" ".join(x) for x in lines) + "\n", encoding="utf-8")
            paths[f"{split}_{side}"] = str(path)
    return {
        "task": "translate",
        "data": {"train": None, "val": None, **paths, "batch_size": 16},
        "text": {"min_freq": 1},
        "model": {
            "embedding": {"dim": 8},
            "rnn": {"encoder_hidden_size": 8, "decoder_hidden_size": 8, "attention_dim": 8},
        },
        "trainer": SMALL_TRAINER,
    }


CONFIGS = {
    "classify": (_classify_config, "model.predict(['a good film'])"),
    "tag": (_tag_config, "model.predict(['Peter visits Baghdad .'])"),
    "lm": (_lm_config, "model.generate('the', max_tokens=3, seed=0)"),
    "translate": (_translate_config, "model.translate(['1 2 3'])"),
}


def test_every_task_has_a_row_and_a_config():
    assert set(CONFIGS) == set(TASKS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_loading_a_model_imports_no_training_code(tmp_path, name):
    make_config, use = CONFIGS[name]
    directory = textseq.train(make_config(tmp_path), out=tmp_path / "model")
    assert json.loads((directory / "textseq.json").read_text())["task"] == name
    script = textwrap.dedent(
        f"""
        import json, sys
        import textseq
        model = textseq.load({str(directory)!r})
        {use}
        training = ("lightning", "pytorch_lightning", "torchmetrics", "textseq.training",
                    "textseq.callbacks", "textseq.optim", "textseq.data.datamodule")
        loaded = sorted(
            m for m in sys.modules
            if m.startswith(training) or m.endswith((".recipe", ".system"))
        )
        print(json.dumps(loaded))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
