"""Translation (`task: translate`): sequence-to-sequence models with beam search (Multi30k)."""

from textseq.tasks.base import Task
from textseq.tasks.translate import commands
from textseq.tasks.translate.config import TranslateConfig
from textseq.tasks.translate.predictor import TranslatorPredictor

TASK = Task(
    name="translate",
    summary="translation: sequence to sequence with attention, beam search",
    noun="a translation model",
    config=TranslateConfig,
    files=("tgt_vocab.json",),
    verbs=("translate", "explain", "serve", "export", "neighbors", "embeddings-plot"),
    predictor=TranslatorPredictor,
    recipe="textseq.tasks.translate.recipe",
    exporter="textseq.tasks.translate.export",
    commands=commands,
    answers="translations",
)
