"""Language modelling (`task: lm`): next-token prediction and generation (PTB, Shakespeare)."""

from textseq.tasks.base import Task
from textseq.tasks.lm import commands
from textseq.tasks.lm.config import LMConfig
from textseq.tasks.lm.predictor import LanguageModelPredictor

TASK = Task(
    name="lm",
    summary="language modelling: next-token prediction and generation",
    noun="a language model",
    config=LMConfig,
    files=(),
    verbs=("generate", "serve", "neighbors", "embeddings-plot"),
    predictor=LanguageModelPredictor,
    recipe="textseq.tasks.lm.recipe",
    exporter=None,
    commands=commands,
    answers="generations",
)
