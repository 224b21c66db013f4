"""A textseq classifier over a pretrained encoder, as a Hugging Face model class.

This file is copied, as it is, into the folders `textseq export DIR --format hf` writes
(as `modeling_textseq.py`, named by `auto_map` in their config.json) and is loaded from
there by `AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)`.
It imports only torch and transformers: a consumer needs no textseq.

    input_ids, attention_mask -> encoder (AutoModel of config.model_type)
        -> pooling over the real tokens (config.textseq_pooling) -> head -> logits (B, C)

The pooling and the head are textseq's (`textseq.modules.pooling`, `textseq.modules.mlp`):
no stock `...ForSequenceClassification` computes them (BERT's puts a tanh layer on [CLS]).

Shapes: B batch, T longest length, H encoder hidden size, C classes.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

POOLINGS = ("mean", "cls", "max", "mean_max", "last")


def pool(kind: str, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """states (B, T, H), mask (B, T) bool -> (B, H), (B, 2H) for mean_max; padding never
    counts."""
    if kind == "cls":
        return states[:, 0]  # (B, H)
    weights = mask.to(states.dtype).unsqueeze(-1)  # (B, T, 1)
    mean = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, H)
    if kind == "mean":
        return mean
    if kind == "last":
        rows = torch.arange(states.size(0), device=states.device)
        return states[rows, mask.sum(dim=1) - 1]  # (B, H): the last real token
    lowest = torch.finfo(states.dtype).min
    top = states.masked_fill(~mask.unsqueeze(-1), lowest).max(dim=1).values  # (B, H)
    if kind == "max":
        return top
    return torch.cat([mean, top], dim=-1)  # mean_max: (B, 2H)


class TextseqForSequenceClassification(PreTrainedModel):
    """The encoder (`backbone`), textseq's pooling and its MLP head (`head.layers`: dropout,
    [linear, ReLU, dropout,] linear), with the parameter names of textseq's model."""

    config_class = PretrainedConfig
    base_model_prefix = "backbone"

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        if config.textseq_pooling not in POOLINGS:
            raise ValueError(f"textseq_pooling must be one of {POOLINGS}")
        self.backbone = AutoModel.from_config(config)
        width = config.hidden_size * (2 if config.textseq_pooling == "mean_max" else 1)
        hidden, dropout = config.textseq_head_hidden_size, config.textseq_head_dropout
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden > 0:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, config.num_labels))
        self.head = nn.Module()
        self.head.layers = nn.Sequential(*layers)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        """input_ids (B, T), attention_mask (B, T) 1 for real tokens; labels (B,) class ids
        give the cross-entropy `loss`."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # token_type_ids are not passed on: textseq's model never passes them (all zeros)
        states = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state  # (B, T, H)
        pooled = pool(self.config.textseq_pooling, states, attention_mask.bool())
        logits = self.head.layers(pooled)  # (B, C)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
