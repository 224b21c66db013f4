"""Text classification (`task: classify`): one label per text (SST-2, IMDB, AG News)."""

from textseq.tasks.base import Task

TASK = Task(
    name="classify",
    summary="text classification: one label per text",
    noun="a classifier",
    config="textseq.tasks.classify.config:Config",
    files=("labels.json",),
    verbs=("predict", "explain", "export", "serve", "neighbors", "embeddings-plot"),
    predictor="textseq.tasks.classify.predictor:TextClassifierPredictor",
    recipe="textseq.tasks.classify.recipe",
    exporter="textseq.tasks.classify.export",
    commands="textseq.tasks.classify.commands",
)
