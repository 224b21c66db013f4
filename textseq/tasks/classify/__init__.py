"""Text classification (`task: classify`): one label per text (SST-2, IMDB, AG News)."""

from textseq.tasks.base import Task
from textseq.tasks.classify import commands
from textseq.tasks.classify.config import Config
from textseq.tasks.classify.predictor import TextClassifierPredictor

TASK = Task(
    name="classify",
    summary="text classification: one label per text",
    noun="a classifier",
    config=Config,
    files=("labels.json",),
    verbs=("predict", "explain", "export", "serve", "neighbors", "embeddings-plot"),
    predictor=TextClassifierPredictor,
    recipe="textseq.tasks.classify.recipe",
    exporter="textseq.tasks.classify.export",
    commands=commands,
)
