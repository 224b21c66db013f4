"""Translation metrics: corpus BLEU and chrF (sacrebleu), and how references are tokenised
for them."""

from __future__ import annotations

from collections.abc import Sequence

from textseq.tasks.translate.config import TranslateConfig


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str) -> dict:
    """Corpus BLEU (Papineni et al. 2002) and chrF (Popović 2015) from sacrebleu."""
    from sacrebleu.metrics import BLEU, CHRF

    # force: tokenised hypotheses are what is meant here; sacrebleu would warn about them.
    bleu = BLEU(tokenize=tokenize, force=True)
    chrf = CHRF()
    refs = [list(references)]
    bleu_score = bleu.corpus_score(list(hypotheses), refs)
    chrf_score = chrf.corpus_score(list(hypotheses), refs)
    return {
        "bleu": round(bleu_score.score, 2),
        "chrf": round(chrf_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def bleu_tokenize(cfg: TranslateConfig, *, named: bool) -> str:
    """sacrebleu's tokenizer for references in `cfg.data.variant`: the official tokenised
    files are compared as they are (`none`), anything else with sacrebleu's default (13a)."""
    return "none" if named and cfg.data.variant == "tok" else "13a"
