"""The command line with a pretrained encoder (the packaged all-MiniLM-L6-v2) on a small slice
of real SST-2: train, evaluate, predict, and reload with neither the package nor a network."""

import json
from pathlib import Path

import pytest

import textseq
import textseq.text.pretrained
from textseq.cli import main
from textseq.tasks.classify.data import load_examples

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sst2_minilm.yaml"


@pytest.fixture(scope="module")
def dev_slice(datasets_dir, tmp_path_factory) -> Path:
    """The first 200 SST-2 dev sentences, as a TSV file with the named dataset's labels."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    examples = load_examples("sst2:dev")[:200]
    patch.undo()
    path = tmp_path_factory.mktemp("data") / "dev200.tsv"
    rows = ["label\ttext"] + [f"{e.label}\t{e.text}" for e in examples]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_train_evaluate_predict_and_reload_offline(
    datasets_dir, dev_slice, tmp_path, capsys, monkeypatch
):
    """MiniLM fine-tuned for one epoch on 320 SST-2 phrases, validated on 200 dev sentences.
    (One test, so that parallel test workers never train it twice.)"""
    monkeypatch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    monkeypatch.setenv("TEXTSEQ_CACHE", str(tmp_path / "cache"))
    trained = tmp_path / "minilm"
    overrides = [
        f"data.val={dev_slice}",
        "data.limit_train=320",
        "data.batch_size=16",
        "trainer.max_epochs=1",
        "trainer.val_check_interval=1.0",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        "optim.lr=0.003",
    ]
    code = main(
        ["-q", "train", str(CONFIG), "--out", str(trained)]
        + [arg for override in overrides for arg in ("--set", override)]
    )
    assert code == 0
    capsys.readouterr()

    # the model directory carries the tokenizer and the encoder's config
    for name in ("pretrained/config.json", "pretrained/tokenizer.json", "vocab.json"):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["data"]["train_examples"] == 320
    assert metrics["data"]["vocab_size"] == 30522  # the MiniLM tokenizer's

    # evaluate agrees with training's validation and beats chance
    assert main(["evaluate", str(trained), "--data", str(dev_slice)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 200
    assert report["accuracy"] == pytest.approx(metrics["best"]["val_acc"], abs=1e-6)
    assert report["accuracy"] > 0.6

    # predict, then reload with neither the package nor a network: same probabilities
    texts = ["a gripping , beautifully acted film", "a dull , lifeless mess"]
    assert main(["predict", str(trained), *texts]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == texts

    # neighbors: the backbone's input embeddings, indexed by the tokenizer's vocabulary
    assert main(["neighbors", str(trained), "Good", "-k", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = textseq.load(trained)
    table = model.word_embeddings()
    assert result["word"] == "good" and table.weight.shape == (30522, 384)
    assert table.weight.data_ptr() == model.model.backbone.get_input_embeddings().weight.data_ptr()
    found = table.neighbors("good", k=3)
    assert [n["word"] for n in result["neighbors"]] == [word for word, _ in found]

    def no_package(*args, **kwargs):
        raise AssertionError("a saved model must not need the package")

    monkeypatch.setattr(textseq.text.pretrained, "package_model_dir", no_package)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reloaded = textseq.load(trained).predict(texts)
    for line, again in zip(lines, reloaded, strict=True):
        assert line["label"] == again["label"]
        for label, p in line["probs"].items():
            assert again["probs"][label] == pytest.approx(p, abs=1e-5)

    # ONNX (fp32 and int8): parity-checked on the dev slice, with the encoder's own
    # tokenizer.json beside the file, whose ids are the ones the model reads.
    from tokenizers import Tokenizer

    from textseq.export import export_model

    for quantize in (None, "int8"):
        out = tmp_path / "onnx" / f"minilm{'.' + quantize if quantize else ''}.onnx"
        report = export_model(trained, format="onnx", quantize=quantize, out=out, limit=64)
        assert report.max_prob_diff <= report.tolerance and report.label_agreement > 0.9
    hf = Tokenizer.from_file(str(tmp_path / "onnx" / "tokenizer.json"))
    assert hf.encode(texts[0]).ids == model.pipeline.encode(texts[0])
    onnx = textseq.load(trained, onnx=tmp_path / "onnx" / "minilm.onnx").predict(texts)
    for line, again in zip(lines, onnx, strict=True):
        assert again["probs"]["positive"] == pytest.approx(line["probs"]["positive"], abs=1e-4)
