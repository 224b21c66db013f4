"""The scripted cells and orthogonal initialisation are chosen by config in every task with a
recurrent encoder: a tiny run trains, publishes and reloads into a model that predicts."""

import random

import pytest

import textseq

SMALL_TRAINER = {"max_epochs": 1, "progress_bar": False, "threads": 1}


def _classify(tmp_path, cell):
    rng = random.Random(0)
    rows = ["text\tlabel"]
    for _ in range(40):
        label = rng.choice(["pos", "neg"])
        rows.append(f"a {'good' if label == 'pos' else 'bad'} film\t{label}")
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = {
        "task": "classify",
        "data": {"train": str(tmp_path / "train.tsv"), "val": None, "batch_size": 8},
        "model": {
            "embedding": {"dim": 8},
            "encoder": {"hidden_size": 8, "cell": cell, "init": "orthogonal"},
        },
    }
    return config, lambda model: model.predict(["a good film"])


def _tag(tmp_path, cell):
    sentence = "Peter\tB-PER\nvisits\tO\nBaghdad\tB-LOC\n.\tO\n\n"
    (tmp_path / "train.conll").write_text(sentence * 12, encoding="utf-8")
    config = {
        "task": "tag",
        "data": {"train": str(tmp_path / "train.conll"), "val": None, "batch_size": 8},
        "model": {
            "embedding": {"dim": 8},
            "chars": {"dim": 4, "hidden_size": 4},
            "encoder": {"hidden_size": 8, "num_layers": 2, "cell": cell, "init": "orthogonal"},
        },
    }
    return config, lambda model: model.predict(["Peter visits Baghdad ."])


def _lm(tmp_path, cell):
    (tmp_path / "corpus.txt").write_text("the cat sat on the mat .\n" * 40, encoding="utf-8")
    config = {
        "task": "lm",
        "data": {"train": str(tmp_path / "corpus.txt"), "val": None, "batch_size": 4, "bptt": 5},
        "model": {
            "embedding": {"dim": 8},
            "rnn": {"hidden_size": 8, "num_layers": 2, "cell": cell, "init": "orthogonal"},
        },
    }
    return config, lambda model: model.generate("the", max_tokens=3, seed=0)


def _translate(tmp_path, cell):
    paths = {}
    for split, count in (("train", 40), ("val", 8)):
        rng = random.Random(split)
        pairs = [[str(rng.randrange(10)) for _ in range(3)] for _ in range(count)]
        for side, lines in (("src", pairs), ("tgt", [list(reversed(p)) for p in pairs])):
            path = tmp_path / f"{split}.{side}"
            path.write_text("\n".join(" ".join(x) for x in lines) + "\n", encoding="utf-8")
            paths[f"{split}_{side}"] = str(path)
    config = {
        "task": "translate",
        "data": {"train": None, "val": None, **paths, "batch_size": 16},
        "text": {"min_freq": 1},
        "model": {
            "embedding": {"dim": 8},
            "rnn": {
                "encoder_hidden_size": 8,
                "decoder_hidden_size": 8,
                "attention_dim": 8,
                "encoder_cell": cell,
                "init": "orthogonal",
            },
        },
    }
    return config, lambda model: model.translate(["1 2 3"])


@pytest.mark.parametrize(
    "make, cell",
    [
        (_classify, "mgu"),
        (_tag, "nested_lstm"),
        (_lm, "layernorm_lstm"),
        (_translate, "peephole_lstm"),
    ],
    ids=["classify", "tag", "lm", "translate"],
)
def test_a_scripted_cell_trains_publishes_and_reloads(tmp_path, make, cell):
    config, use = make(tmp_path, cell)
    directory = textseq.train({**config, "trainer": SMALL_TRAINER}, out=tmp_path / "model")
    model = textseq.load(directory)
    assert use(model) == use(textseq.load(directory))
    rnn_cells = {m.cell for m in model.model.modules() if hasattr(m, "cell")}
    assert cell in rnn_cells
