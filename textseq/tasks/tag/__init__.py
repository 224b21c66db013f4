"""Sequence labelling (`task: tag`): one tag per token (CoNLL-2003 NER and POS)."""

from textseq.tasks.base import Task

TASK = Task(
    name="tag",
    summary="sequence labelling: one tag per token",
    noun="a tagger",
    config="textseq.tasks.tag.config:TagConfig",
    files=("chars.json", "tags.json"),
    verbs=("predict", "explain", "export", "serve", "neighbors", "embeddings-plot"),
    predictor="textseq.tasks.tag.predictor:TaggerPredictor",
    recipe="textseq.tasks.tag.recipe",
    exporter="textseq.tasks.tag.export",
    commands="textseq.tasks.tag.commands",
)
