"""Language modelling (`task: lm`): next-token prediction and generation (PTB, Shakespeare)."""

from textseq.tasks.base import Task

TASK = Task(
    name="lm",
    summary="language modelling: next-token prediction and generation",
    noun="a language model",
    config="textseq.tasks.lm.config:LMConfig",
    files=(),
    verbs=("generate", "serve", "neighbors", "embeddings-plot"),
    predictor="textseq.tasks.lm.predictor:LanguageModelPredictor",
    recipe="textseq.tasks.lm.recipe",
    exporter=None,
    commands="textseq.tasks.lm.commands",
    answers="generations",
)
