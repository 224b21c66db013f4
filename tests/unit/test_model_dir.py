"""Model directories: complete or refused, never unpickled, never half-written."""

import json
import pickle
import shutil

import pytest
from test_training import toy_config

import textseq
from textseq.errors import ModelDirError
from textseq.model_dir import MANIFEST, publish


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toy")
    return textseq.train(toy_config(tmp, max_epochs=1), out=tmp / "model")


def _copy(model_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(model_dir, target)
    return target


def _as_written_before_digests(directory):
    """The directory as a textseq older than the manifest's sha256 sums wrote it, so that its
    files may be edited to stand for such a directory's."""
    manifest = json.loads((directory / MANIFEST).read_text())
    del manifest["sha256"]
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_a_changed_file_is_named_unless_not_verifying(model_dir, tmp_path, monkeypatch):
    copy = _copy(model_dir, tmp_path)
    labels = json.loads((copy / "labels.json").read_text())
    labels["tokens"] = labels["tokens"][::-1]  # every prediction flipped
    (copy / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(ModelDirError, match=r"labels\.json changed since the model was written"):
        textseq.load(copy)
    monkeypatch.setenv("TEXTSEQ_NO_VERIFY", "1")  # what the CLI's --no-verify sets
    assert textseq.load(copy).predict(["w1 w4"])


def test_non_finite_weights_are_refused(model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    copy = _copy(model_dir, tmp_path)
    _as_written_before_digests(copy)
    weights = load_file(copy / "model.safetensors")
    name = sorted(weights)[0]
    weights[name][0] = float("nan")
    save_file(weights, copy / "model.safetensors")
    with pytest.raises(ModelDirError, match=f"the weight {name} is not finite"):
        textseq.load(copy)


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.json", "labels.json", "config.yaml"])
def test_missing_file_is_named(model_dir, tmp_path, name):
    copy = _copy(model_dir, tmp_path)
    (copy / name).unlink()
    with pytest.raises(ModelDirError, match=f"missing {name}"):
        textseq.load(copy)


def test_directory_without_manifest_is_not_a_model(model_dir, tmp_path):
    copy = _copy(model_dir, tmp_path)
    (copy / MANIFEST).unlink()
    with pytest.raises(ModelDirError, match="not a finished textseq model directory"):
        textseq.load(copy)


def test_newer_format_asks_for_an_upgrade(model_dir, tmp_path):
    copy = _copy(model_dir, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest.update(format_version=99, textseq_version="9.0.0")
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelDirError, match=r"textseq 9\.0\.0 .*upgrade textseq"):
        textseq.load(copy)


class _Bomb:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def test_weights_are_never_unpickled(model_dir, tmp_path):
    copy = _copy(model_dir, tmp_path)
    (copy / "model.safetensors").write_bytes(pickle.dumps(_Bomb()))
    with pytest.raises(ModelDirError, match=r"model\.safetensors"):
        textseq.load(copy)


def test_weights_of_another_architecture_are_refused(model_dir, tmp_path):
    copy = _copy(model_dir, tmp_path)
    _as_written_before_digests(copy)
    config = (copy / "config.yaml").read_text().replace("hidden_size: 16", "hidden_size: 24", 1)
    (copy / "config.yaml").write_text(config)
    with pytest.raises(ModelDirError, match="does not fit"):
        textseq.load(copy)


def test_publish_replaces_an_old_directory_in_one_step(tmp_path):
    final, partial = tmp_path / "model", tmp_path / "model.partial"
    final.mkdir()
    (final / "old.txt").write_text("old")
    partial.mkdir()
    (partial / "new.txt").write_text("new")
    publish(partial, final)
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert not partial.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_saved_config_reproduces_the_model(model_dir):
    """config.yaml is the resolved config: loading it again gives the same predictions."""
    model = textseq.load(model_dir)
    assert model.config.model.encoder.hidden_size == 16
    texts = ["w1 w4", "w4 w5 w6"]
    assert model.predict(texts) == textseq.load(model_dir).predict(texts)


def test_a_config_yaml_of_an_older_textseq_still_loads(model_dir, tmp_path):
    """Before the config schema knew which keys apply, config.yaml held every key of every
    section (tests/fixtures/saved_configs): such a directory loads and predicts the same."""
    import yaml

    copy = _copy(model_dir, tmp_path)
    _as_written_before_digests(copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["text"]["bpe_vocab_size"] = 8000
    config["model"]["encoder"] |= {"num_heads": 4, "ff_dim": 256, "pretrained": None}
    config["model"]["pooling"]["num_heads"] = 4
    config["optim"] |= {"backbone_lr": None}
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    texts = ["w1 w4", "w4 w5 w6"]
    assert textseq.load(copy).predict(texts) == textseq.load(model_dir).predict(texts)
