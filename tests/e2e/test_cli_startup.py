"""The command line starts light: `--help`, a verb's help and an argument error import neither
PyTorch nor pydantic (the task table names its heavy parts by module path), and predict and
evaluate, which load a model, import no Lightning. Each is checked in a fresh interpreter by
reading `sys.modules` after the command ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textseq.cli import main

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "sst2_bilstm_attention.yaml"
TINY = {
    "data.limit_train": 100,
    "data.limit_val": 20,
    "model.embedding.vectors": "null",
    "model.words_from_vectors": "false",
    "model.embedding.dim": 8,
    "model.encoder.hidden_size": 8,
    "model.encoder.num_layers": 1,
    "model.pooling.attention_dim": 8,
    "model.head.hidden_size": 8,
    "trainer.max_epochs": 1,
    "trainer.threads": 1,
}
HEAVY = ("torch", "lightning", "pytorch_lightning", "pydantic", "transformers", "matplotlib")

# Runs the CLI's main() on the arguments in argv[1] (JSON) and prints, as the last line of
# stderr, the exit code and the heavy modules then imported.
PROBE = """\
import json, sys
from textseq.cli import main
code = main(json.loads(sys.argv[1]))
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _probe(args: list[str]) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_help_and_argument_errors_import_neither_torch_nor_pydantic():
    assert _probe(["--help"]) == {"code": 0, "heavy": []}
    assert _probe(["predict", "--help"]) == {"code": 0, "heavy": []}
    assert _probe(["vectors", "train", "--help"]) == {"code": 0, "heavy": []}
    assert _probe(["predict", "--bogus"]) == {"code": 2, "heavy": []}
    assert _probe(["frobnicate"]) == {"code": 2, "heavy": []}
    # a count checked before any model is looked at
    assert _probe(["predict", "nowhere", "--batch-size", "0", "x"]) == {"code": 2, "heavy": []}


@pytest.fixture(scope="module")
def tiny_model(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("runs") / "sst2"
    settings = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    assert main(["-q", "train", str(CONFIG), "--out", str(out), *settings]) == 0
    yield out
    patch.undo()


def test_predict_and_evaluate_load_the_model_without_lightning(tiny_model, capsys):
    capsys.readouterr()  # train's JSON
    predicted = _probe(["predict", str(tiny_model), "a fine film"])
    assert predicted["code"] == 0 and "torch" in predicted["heavy"]  # the model did run
    assert not {"lightning", "pytorch_lightning"} & set(predicted["heavy"])
    evaluated = _probe(["evaluate", str(tiny_model), "--data", "sst2:dev"])
    assert evaluated["code"] == 0 and "torch" in evaluated["heavy"]
    assert not {"lightning", "pytorch_lightning"} & set(evaluated["heavy"])
