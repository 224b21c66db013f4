"""`model.features` of the tagger: the sections of features not listed are refused with the
reason, a feature listed twice or an empty list is an error, the transformer's cache and
`optim.backbone_lr` apply whenever the transformer is listed (so that `fine_tune` can be
switched from the command line), and a saved config from before the key loads as the same
model."""

import pytest

from textseq.errors import ConfigError
from textseq.tasks import load_config

TAG = {"task": "tag"}


def test_the_default_features_are_words_and_characters():
    config = load_config(TAG)
    assert config.model.features == ["words", "chars"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model.casing_dim=8"],
            "model.casing_dim: does not apply unless model.features lists casing",
        ),
        (
            ["model.features=[words]", "model.chars.type=lstm"],
            "model.chars: does not apply unless model.features lists chars",
        ),
        (
            ["model.features=[chars]", "model.embedding.dim=100"],
            "model.embedding: does not apply unless model.features lists words",
        ),
        (
            ["model.transformer.layers=[-1]"],
            "model.transformer: does not apply unless model.features lists transformer",
        ),
        (["model.features=[words, words]"], "model.features: lists a feature twice"),
        (["model.features=[]"], "model.features"),
        (["model.features=[glove]"], "model.features"),
        (
            ["model.features=[words, chars]", "optim.backbone_lr=1e-5"],
            "optim.backbone_lr: does not apply unless model.features lists transformer",
        ),
        (["model.chars.type=none"], "model.chars.type: must be one of 'cnn', 'lstm'"),
    ],
)
def test_keys_of_features_not_used_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(TAG, overrides)
    assert message in str(error.value)


def test_the_shipped_configs_switch_between_frozen_and_fine_tuned_from_the_command_line():
    frozen = load_config("configs/conll2003_minilm.yaml", ["model.transformer.fine_tune=false"])
    assert not frozen.model.transformer.fine_tune
    tuned = load_config(
        "configs/conll2003_stacked.yaml",
        ["model.transformer.fine_tune=true", "optim.backbone_lr=5e-5"],
    )
    assert tuned.model.transformer.fine_tune and tuned.optim.backbone_lr == 5e-5


def test_the_stacked_config_and_the_token_classifier_load():
    stacked = load_config("configs/conll2003_stacked.yaml")
    assert stacked.model.features == ["words", "chars", "casing", "transformer"]
    assert stacked.model.transformer.layers == [-1, -2, -3, -4]
    classifier = load_config(
        TAG,
        [
            "model.features=[transformer]",
            "model.transformer.fine_tune=true",
            "optim.backbone_lr=5e-5",
            "model.encoder.type=none",
            "model.output=softmax",
        ],
    )
    assert classifier.optim.backbone_lr == 5e-5
    assert classifier.model.encoder.type == "none"


@pytest.mark.parametrize(
    "model, features",
    [
        ({"chars": {"type": "none", "dim": 30}, "casing_dim": 0}, ["words"]),
        ({"chars": {"type": "lstm"}, "casing_dim": 8}, ["words", "chars", "casing"]),
        ({"casing_dim": 0}, ["words", "chars"]),
    ],
)
def test_a_saved_config_from_before_features_loads_as_the_same_model(model, features):
    config = load_config({"task": "tag", "model": model}, migrate=True)
    assert config.model.features == features
    if "chars" in features:
        expected = model["chars"]["type"] if "chars" in model else "cnn"
        assert config.model.chars.type == expected
