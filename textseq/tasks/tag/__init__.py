"""Sequence labelling (`task: tag`): one tag per token (CoNLL-2003 NER and POS)."""

from textseq.tasks.base import Task
from textseq.tasks.tag import commands
from textseq.tasks.tag.config import TagConfig
from textseq.tasks.tag.predictor import TaggerPredictor

TASK = Task(
    name="tag",
    summary="sequence labelling: one tag per token",
    noun="a tagger",
    config=TagConfig,
    files=("chars.json", "tags.json"),
    verbs=("predict", "explain", "export", "serve", "neighbors", "embeddings-plot"),
    predictor=TaggerPredictor,
    recipe="textseq.tasks.tag.recipe",
    exporter="textseq.tasks.tag.export",
    commands=commands,
)
