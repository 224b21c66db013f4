"""Label smoothing for classifiers and softmax taggers: the smoothed cross-entropy's known
value, training smoothed and validation not, and the key refused where the output is a
CRF."""

import re

import pytest
import torch
from torch import nn

from textseq.errors import ConfigError
from textseq.modules.token_softmax import TokenSoftmax
from textseq.optim import OptimSettings
from textseq.tasks import load_config
from textseq.tasks.classify.system import ClassificationTask


def smoothed(logits, labels, e):
    """(1 - e) * CE(one-hot) + e * mean over the K classes of -log p (Szegedy et al. 2016)."""
    log_p = logits.log_softmax(-1)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    uniform = -log_p.mean(-1)
    return ((1 - e) * nll + e * uniform).mean()


def test_a_softmax_taggers_loss_smooths_real_tokens_only():
    torch.manual_seed(0)
    emissions = torch.randn(2, 4, 5)
    tags = torch.randint(0, 5, (2, 4))
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    loss = TokenSoftmax(num_tags=5).loss(emissions, tags, mask, label_smoothing=0.2)
    torch.testing.assert_close(loss, smoothed(emissions[mask], tags[mask], 0.2))


def test_a_classifier_trains_on_smoothed_targets_and_validates_on_plain_ones():
    torch.manual_seed(1)
    system = ClassificationTask(
        nn.Identity(), num_labels=3, optim=OptimSettings(), label_smoothing=0.1
    )
    logits, labels = torch.randn(6, 3), torch.randint(0, 3, (6,))
    torch.testing.assert_close(system.train_loss(logits, labels), smoothed(logits, labels, 0.1))
    torch.testing.assert_close(system.loss(logits, labels), smoothed(logits, labels, 0.0))


def test_the_key_is_read_by_classifiers_and_softmax_taggers_only():
    assert load_config({"task": "classify"}, ["training.label_smoothing=0.1"]).training
    tagger = load_config({"task": "tag"}, ["model.output=softmax", "training.label_smoothing=0.1"])
    assert tagger.training.label_smoothing == 0.1
    crf = re.escape("training: does not apply to model.output 'crf'")
    with pytest.raises(ConfigError, match=crf):
        load_config({"task": "tag"}, ["training.label_smoothing=0.1"])
    with pytest.raises(ConfigError, match=re.escape("training.label_smoothing")):
        load_config({"task": "classify"}, ["training.label_smoothing=1.0"])
