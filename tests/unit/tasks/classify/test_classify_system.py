"""The classification task's optimiser: the embedding table can learn at its own rate."""

import pytest
import torch

from textseq.errors import ConfigError
from textseq.models.classifier import build_text_classifier
from textseq.optim import OptimSettings
from textseq.tasks import load_config
from textseq.tasks.classify.system import ClassificationTask


def _task(*, freeze_embeddings: bool = False, **options) -> ClassificationTask:
    torch.manual_seed(0)
    model = build_text_classifier(
        vocab_size=30,
        num_labels=2,
        pad_index=0,
        embedding_dim=6,
        hidden_size=4,
        pooling_attention_dim=4,
        pretrained=torch.randn(30, 6),
        freeze_embeddings=freeze_embeddings,
    )
    return ClassificationTask(
        model, num_labels=2, optim=OptimSettings(lr=0.01, monitor="val_acc", **options)
    )


def test_embedding_table_gets_the_scaled_learning_rate():
    task = _task(embedding_lr_scale=0.1)
    optimizer = task.configure_optimizers()["optimizer"]
    rest, embedding = optimizer.param_groups
    assert rest["lr"] == pytest.approx(0.01)
    assert embedding["lr"] == pytest.approx(0.001)
    assert [id(p) for p in embedding["params"]] == [id(task.model.embedding.weight)]
    every_trainable = {id(p) for p in task.model.parameters() if p.requires_grad}
    assert {id(p) for group in optimizer.param_groups for p in group["params"]} == every_trainable


def test_scaled_step_moves_the_embeddings_that_much_less():
    """Adam's first step moves each parameter by about its group's lr: 10x less at scale 0.1."""
    moves = {}
    for scale in (1.0, 0.1):
        task = _task(embedding_lr_scale=scale, optimizer="adam")
        optimizer = task.configure_optimizers()["optimizer"]
        before = task.model.embedding.weight.detach().clone()
        ids, lengths = torch.tensor([[3, 4, 5]]), torch.tensor([3])
        task.model(ids, lengths).logits.sum().backward()
        optimizer.step()
        moves[scale] = (task.model.embedding.weight.detach() - before)[3:6].abs().mean().item()
    assert moves[0.1] == pytest.approx(moves[1.0] * 0.1, rel=1e-3)


def test_frozen_embeddings_leave_one_group():
    task = _task(freeze_embeddings=True, embedding_lr_scale=0.1)
    (group,) = task.configure_optimizers()["optimizer"].param_groups
    assert id(task.model.embedding.weight) not in {id(p) for p in group["params"]}


def test_non_positive_scale_is_rejected_with_a_hint():
    with pytest.raises(
        ConfigError, match=r"embedding_lr_scale: must be positive, got 0; .*freeze=true"
    ):
        load_config({"optim": {"embedding_lr_scale": 0}})
