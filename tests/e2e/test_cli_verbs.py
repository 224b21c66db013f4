"""Every verb through the task table, on tiny models trained on real slices: `neighbors` and
`embeddings-plot` on a tagger, a language model and a translation model (their word, token and
source embeddings), and the one-line error, with no traceback, for a verb a task lacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import textseq
from textseq.cli import main

pytestmark = pytest.mark.e2e

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK = {"trainer.max_epochs": 1, "trainer.threads": 1, "trainer.progress_bar": "false"}


@pytest.fixture(scope="module")
def data_env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets_dir
    patch.undo()


def _train(config: str, out: Path, settings: dict) -> Path:
    overrides = [arg for key, value in {**QUICK, **settings}.items()
                 for arg in ("--set", f"{key}={value}")]  # fmt: skip
    assert main(["-q", "train", str(CONFIGS / config), "--out", str(out), *overrides]) == 0
    return out


@pytest.fixture(scope="module")
def tagger(data_env, tmp_path_factory):
    """A BiLSTM-CRF on 300 CoNLL-2003 sentences, learned word embeddings (no GloVe)."""
    settings = {
        "data.limit_train": 300,
        "data.limit_val": 50,
        "model.embedding.vectors": "null",
        "model.words_from_vectors": "false",
        "model.embedding.dim": 16,
        "model.chars.dim": 4,
        "model.chars.hidden_size": 4,
        "model.encoder.hidden_size": 16,
    }
    return _train("conll2003_bilstm_crf.yaml", tmp_path_factory.mktemp("runs") / "ner", settings)


@pytest.fixture(scope="module")
def language_model(data_env, tmp_path_factory):
    """A small LSTM language model on 3,000 lines of PTB."""
    settings = {
        "data.limit_train": 3000,
        "data.limit_val": 1000,
        "model.embedding.dim": 16,
        "model.rnn.hidden_size": 16,
    }
    return _train("ptb_lstm_small.yaml", tmp_path_factory.mktemp("runs") / "ptb", settings)


@pytest.fixture(scope="module")
def translator(data_env, tmp_path_factory):
    """A GRU with Bahdanau attention on 300 Multi30k pairs (German -> English)."""
    settings = {
        "data.limit_train": 300,
        "data.limit_val": 40,
        "model.embedding.dim": 16,
        "model.rnn.encoder_hidden_size": 16,
        "model.rnn.decoder_hidden_size": 32,
        "model.rnn.attention_dim": 16,
    }
    out = tmp_path_factory.mktemp("runs") / "de_en"
    return _train("multi30k_gru_bahdanau.yaml", out, settings)


def _nearest(table: np.ndarray, vocab, word: str, k: int) -> list[str]:
    """The k words of `vocab` whose rows of `table` (V, E) are most cosine-similar to `word`'s,
    without the word itself and the specials (ties: lower id first)."""
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    cosine = unit @ unit[vocab.stoi[word]]  # (V,)
    cosine[[vocab.stoi[word], *(vocab.stoi[s] for s in vocab.specials)]] = -np.inf
    return [vocab.itos[i] for i in np.argsort(-cosine, kind="stable")[:k]]


def _neighbors(directory: Path, word: str, capsys) -> dict:
    assert main(["neighbors", str(directory), word, "-k", "4"]) == 0
    return json.loads(capsys.readouterr().out)


def _plot(directory: Path, words: list[str], out: Path, capsys) -> dict:
    code = main(["embeddings-plot", str(directory), "--words", ",".join(words), "--out", str(out)])
    assert code == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    return json.loads(capsys.readouterr().out)


def test_a_taggers_neighbors_are_rows_of_its_word_embeddings(tagger, tmp_path, capsys):
    result = _neighbors(tagger, "Germany", capsys)  # looked up lower-cased, as the tagger does
    assert result["word"] == "germany"
    model = textseq.load(tagger)
    table = model.model.embedding.weight.detach().numpy()  # (V, 16): words, not characters
    expected = _nearest(table, model.encoder.words, "germany", 4)
    assert [n["word"] for n in result["neighbors"]] == expected
    words = ["Germany", "German", "the", "qwertyuiop"]
    report = _plot(tagger, words, tmp_path / "w.png", capsys)
    assert report["words"] == ["germany", "german", "the"] and report["missing"] == ["qwertyuiop"]


def test_a_language_models_neighbors_are_rows_of_its_token_embeddings(
    language_model, tmp_path, capsys
):
    result = _neighbors(language_model, "market", capsys)
    model = textseq.load(language_model)
    table = model.model.embedding.weight.detach().numpy()  # (V, 16)
    expected = _nearest(table, model.pipeline.vocab, "market", 4)
    assert [n["word"] for n in result["neighbors"]] == expected
    cosines = [n["cosine"] for n in result["neighbors"]]
    assert cosines == sorted(cosines, reverse=True)
    assert "<eos>" not in [n["word"] for n in result["neighbors"]]
    report = _plot(language_model, ["market", "stock", "the", "of"], tmp_path / "w.png", capsys)
    assert report["words"] == ["market", "stock", "the", "of"] and report["missing"] == []


def test_a_translation_models_neighbors_are_rows_of_its_source_embeddings(
    translator, tmp_path, capsys
):
    # The official tokenised files are lower-cased already: the model reads "Mann" as unknown.
    assert main(["neighbors", str(translator), "Mann"]) == 3
    assert "did you mean 'mann'?" in capsys.readouterr().err
    result = _neighbors(translator, "mann", capsys)
    model = textseq.load(translator)
    src_vocab = model.encoder.src_vocab
    table = model.model.src_embedding.weight.detach().numpy()  # (V_src, 16)
    assert table.shape[0] == len(src_vocab) != len(model.encoder.tgt_vocab)
    expected = _nearest(table, src_vocab, "mann", 4)
    assert [n["word"] for n in result["neighbors"]] == expected
    assert all(n["word"] in src_vocab.stoi for n in result["neighbors"])
    report = _plot(translator, ["mann", "frau", "hund", "ein"], tmp_path / "w.png", capsys)
    assert report["words"] == ["mann", "frau", "hund", "ein"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("textseq: error: "), err
    return lines[0]


def test_a_verb_a_task_lacks_is_one_line_naming_its_verbs(
    tagger, language_model, translator, tmp_path, capsys
):
    assert main(["generate", str(tagger), "--prompt", "the"]) == 2
    error = _one_line_error(capsys)
    assert f"{tagger} holds a tagger (task: tag); generate is not one of its verbs" in error
    assert "predict, explain, export, serve, neighbors, embeddings-plot" in error
    assert f"use: textseq predict {tagger}" in error

    out = tmp_path / "model.onnx"
    assert main(["export", str(language_model), "--format", "onnx", "--out", str(out)]) == 2
    error = _one_line_error(capsys)
    assert "holds a language model (task: lm); export is not one of its verbs" in error
    assert f"use: textseq generate {language_model}" in error
    assert not out.exists()

    for verb in (["explain", "the market"], ["translate", "the market"]):
        assert main([verb[0], str(language_model), verb[1]]) == 2
        error = _one_line_error(capsys)
        assert f"holds a language model (task: lm); {verb[0]} is not one of its verbs" in error
        assert f"use: textseq generate {language_model}" in error


def test_an_option_the_tasks_function_lacks_is_one_line_naming_those_it_has(
    tagger, language_model, capsys
):
    assert main(["evaluate", str(language_model), "--data", "ptb:valid", "--src", "x.de"]) == 2
    error = _one_line_error(capsys)
    assert "--src: not an option of evaluate for a language model" in error
    assert "its options: --data, --batch-size" in error
    assert main(["evaluate", str(tagger)]) == 2
    assert "evaluate needs --data" in _one_line_error(capsys)
    # The tagger's own hint where a classifier's option is asked of it
    assert main(["predict", str(tagger), "--explain", "EU rejects German call"]) == 2
    assert "--explain is for classifiers" in _one_line_error(capsys)
