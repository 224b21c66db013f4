"""Translation (`task: translate`): sequence-to-sequence models with beam search (Multi30k)."""

from textseq.tasks.base import Task

TASK = Task(
    name="translate",
    summary="translation: sequence to sequence with attention, beam search",
    noun="a translation model",
    config="textseq.tasks.translate.config:TranslateConfig",
    files=("tgt_vocab.json",),
    verbs=("translate", "explain", "serve", "export", "neighbors", "embeddings-plot"),
    predictor="textseq.tasks.translate.predictor:TranslatorPredictor",
    recipe="textseq.tasks.translate.recipe",
    exporter="textseq.tasks.translate.export",
    commands="textseq.tasks.translate.commands",
    answers="translations",
)
