"""Classifier over a pretrained Hugging Face encoder (BERT, MiniLM, ...), fine-tuned:

    token ids (the encoder's own tokenizer) -> encoder(input_ids, attention_mask)
              -> pooling ([CLS], masked mean, attention) -> dropout -> MLP head

The attention mask comes from the true lengths, so padding never changes a prediction.

Shapes: B batch, T longest length (in the encoder's tokens), H encoder hidden size, N heads,
L layers, C classes.
"""

from __future__ import annotations

import torch
from torch import nn

from textseq.models.classifier import ClassifierOutput, build_readout


class PretrainedClassifier(nn.Module):
    """A Hugging Face encoder (`backbone`, an `AutoModel`) with a pooling and a head.

    `embedding` is the encoder's input embedding table (a property, so its weights are not
    registered twice); `backbone` is what `optim.backbone_lr` applies to.
    """

    def __init__(self, *, backbone: nn.Module, pooling: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.head = head

    @property
    def embedding(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    def forward(
        self,
        token_ids: torch.Tensor,
        lengths: torch.Tensor,
        *,
        return_layer_attention: bool = False,
    ) -> ClassifierOutput:
        """token_ids: (B, T) padded ids of the encoder's tokenizer; lengths: (B,) >= 1."""
        mask = torch.arange(token_ids.size(1), device=token_ids.device) < lengths[:, None]  # (B, T)
        if return_layer_attention:
            output = self._run_with_attention(token_ids, mask)
        else:
            output = self.backbone(input_ids=token_ids, attention_mask=mask.long())
        states = output.last_hidden_state  # (B, T, H)
        pooled, weights = self.pooling(states, mask)  # (B, H), (B, T) or None
        layer_attention = list(output.attentions) if return_layer_attention else None
        return ClassifierOutput(self.head(pooled), weights, layer_attention)  # (B, C)

    def _run_with_attention(self, token_ids: torch.Tensor, mask: torch.Tensor):
        """The fused attention kernels cannot return weights: switch to the explicit
        ("eager") implementation for this call only."""
        config = self.backbone.config
        implementation = getattr(config, "_attn_implementation", None)
        switch = implementation not in (None, "eager") and hasattr(
            self.backbone, "set_attn_implementation"
        )
        if switch:
            self.backbone.set_attn_implementation("eager")
        try:
            return self.backbone(
                input_ids=token_ids, attention_mask=mask.long(), output_attentions=True
            )  # attentions: L x (B, N, T, T)
        finally:
            if switch:
                self.backbone.set_attn_implementation(implementation)


def build_pretrained_classifier(
    *,
    backbone: nn.Module,
    num_labels: int,
    pooling: str = "mean",
    pooling_attention_dim: int = 128,
    pooling_num_heads: int = 4,
    head_hidden_size: int = 0,
    head_dropout: float = 0.1,
) -> PretrainedClassifier:
    """A `PretrainedClassifier` on `backbone`; the head reads its hidden size from the
    backbone's config."""
    hidden = backbone.config.hidden_size
    backbone.train()  # `from_pretrained` returns it in eval mode: dropout would stay off
    pool, head = build_readout(
        input_dim=hidden,
        num_labels=num_labels,
        pooling=pooling,
        pooling_attention_dim=pooling_attention_dim,
        pooling_num_heads=pooling_num_heads,
        head_hidden_size=head_hidden_size,
        head_dropout=head_dropout,
    )
    return PretrainedClassifier(backbone=backbone, pooling=pool, head=head)
