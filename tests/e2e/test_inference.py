"""Quantised (int8) and bf16 inference chosen at load time, on small models trained on real
SST-2 and CoNLL-2003 slices; and the export of those models (`textseq export`)."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import textseq
from textseq.cli import main
from textseq.inference import is_quantized
from textseq.tasks.classify.data import load_examples

pytestmark = pytest.mark.e2e

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def data_env(datasets_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    patch.setenv("TEXTSEQ_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield datasets_dir
    patch.undo()


def _train(config: Path, out: Path, *overrides: str) -> Path:
    threads = torch.get_num_threads()
    args = ["-q", "train", str(config), "--out", str(out)]
    for override in (*overrides, "trainer.threads=1", "trainer.progress_bar=false"):
        args += ["--set", override]
    code = main(args)
    torch.set_num_threads(threads)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def classifier(data_env, tmp_path_factory):
    """The default BiLSTM-attention config, smaller, one epoch on 2,000 SST-2 phrases."""
    return _train(
        CONFIGS / "sst2_bilstm_attention.yaml",
        tmp_path_factory.mktemp("runs") / "sst2",
        "data.limit_train=2000",
        "data.limit_val=300",
        "trainer.max_epochs=1",
        "model.encoder.hidden_size=24",
        "model.pooling.attention_dim=24",
        "model.head.hidden_size=24",
    )


@pytest.fixture(scope="module")
def dev_texts(data_env):
    return [e.text for e in load_examples("sst2:dev")][:300]


def test_int8_model_has_quantised_layers_and_agrees_with_fp32(classifier, dev_texts):
    fp32 = textseq.load(classifier)
    int8 = textseq.load(classifier, quantize="int8")
    assert not is_quantized(fp32.model) and is_quantized(int8.model)
    kinds = {type(m).__name__ for m in int8.model.modules()}
    assert {"LSTM", "Linear"} <= kinds
    assert all(
        type(m).__module__.startswith("torch.ao.nn.quantized")
        for m in int8.model.modules()
        if type(m).__name__ in ("LSTM", "Linear")
    )
    ours = fp32.predict(dev_texts)
    theirs = int8.predict(dev_texts)
    agreement = sum(a["label"] == b["label"] for a, b in zip(ours, theirs, strict=True))
    assert agreement / len(dev_texts) >= 0.95
    largest = max(
        abs(a["probs"]["positive"] - b["probs"]["positive"])
        for a, b in zip(ours, theirs, strict=True)
    )
    assert 0 < largest < 0.2  # int8 changes the numbers, a little


def test_bf16_agrees_with_fp32(classifier, dev_texts):
    fp32 = textseq.load(classifier).predict(dev_texts)
    bf16 = textseq.load(classifier, precision="bf16").predict(dev_texts)
    agreement = sum(a["label"] == b["label"] for a, b in zip(fp32, bf16, strict=True))
    assert agreement / len(dev_texts) >= 0.95


def test_bad_options_are_refused_with_the_value(classifier):
    with pytest.raises(ValueError, match="quantize \\('int4'\\)"):
        textseq.load(classifier, quantize="int4")
    with pytest.raises(ValueError, match="precision \\('fp8'\\)"):
        textseq.load(classifier, precision="fp8")
    with pytest.raises(ValueError, match="alternatives"):
        textseq.load(classifier, quantize="int8", precision="bf16")


def test_evaluate_and_predict_take_quantize(classifier, capsys):
    assert main(["evaluate", str(classifier), "--data", "sst2:dev"]) == 0
    fp32 = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(classifier), "--data", "sst2:dev", "--quantize", "int8"]) == 0
    int8 = json.loads(capsys.readouterr().out)
    assert int8["n"] == fp32["n"] == 872
    assert abs(int8["accuracy"] - fp32["accuracy"]) < 0.03
    assert main(["predict", str(classifier), "--quantize", "int8", "a fine film"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in ("negative", "positive")
    assert main(["predict", str(classifier), "--quantize", "int4", "a fine film"]) == 2


# --- export ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "quantize"), [("onnx", None), ("torchscript", None), ("onnx", "int8")]
)
def test_export_passes_its_parity_check_and_runs_any_batch_shape(
    classifier, tmp_path, fmt, quantize, capsys
):
    from textseq.inference import OnnxRunner

    out = tmp_path / f"model.{fmt}"
    args = ["export", str(classifier), "--format", fmt, "--out", str(out), "--limit", "200"]
    assert main(["--progress", *args, *(["--quantize", quantize] if quantize else [])]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout: the JSON report only
    assert report["max_prob_diff"] <= report["tolerance"] == (0.1 if quantize else 1e-3)
    assert report["inputs"] == 203 and report["export_ms_per_batch"] > 0
    # --progress: both runs of the parity check counted on stderr
    for what in (fmt, "PyTorch"):
        assert f"parity check: {what}: 203/203 inputs (" in captured.err
    # An ONNX file has the model directory's portable tokenizer.json beside it.
    beside = ["tokenizer.json"] if fmt == "onnx" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, *beside])
    # The file runs on a batch shape it was never traced with, and gives the model's answer.
    model = textseq.load(classifier)
    texts = ["a gripping , beautifully acted film", "dull", "not bad at all , really"]
    ids = [model.pipeline.vocab.encode(model.pipeline.tokens(t)) for t in texts]
    lengths = torch.tensor([len(x) for x in ids])
    token_ids = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, x in enumerate(ids):
        token_ids[row, : len(x)] = torch.tensor(x)
    run = OnnxRunner(out) if fmt == "onnx" else torch.jit.load(str(out))
    logits, attention = run(token_ids, lengths)
    expected = [r["probs"]["positive"] for r in model.predict(texts)]
    got = torch.softmax(torch.as_tensor(logits), dim=-1)[:, 1].tolist()
    assert got == pytest.approx(expected, abs=0.1 if quantize else 1e-4)
    assert torch.as_tensor(attention)[1, 1:].abs().sum() == 0  # padding gets no attention
    if fmt == "onnx":  # the predictor runs the file in ONNX Runtime
        onnx = textseq.load(classifier, onnx=out).predict(texts)
        assert [r["probs"]["positive"] for r in onnx] == pytest.approx(
            expected, abs=0.1 if quantize else 1e-4
        )


def test_an_onnx_only_consumer_classifies_like_textseq(classifier, tmp_path, data_env):
    """benchmarks/onnx_consumer.py, with onnxruntime, tokenizers and numpy only, reads the
    labels from the file's metadata and the tokenizer.json beside it."""
    import onnx

    out = tmp_path / "export" / "model.onnx"
    assert main(["-q", "export", str(classifier), "--format", "onnx", "--out", str(out)]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["textseq.task"] == "classify" and meta["textseq.version"] == textseq.__version__
    assert json.loads(meta["textseq.labels"]) == ["negative", "positive"]
    assert json.loads(meta["textseq.config"])["model"]["encoder"]["type"] == "rnn"
    examples = load_examples("sst2:dev")[:300]
    data = tmp_path / "dev.jsonl"
    data.write_text(
        "".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in examples)
    )
    predictions = tmp_path / "predictions.jsonl"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "onnx_consumer.py"
    command = [sys.executable, str(script), str(out), "--data", str(data)]
    done = subprocess.run(
        [*command, "--predictions", str(predictions)], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert not {"torch", "textseq", "transformers"} & set(result["modules"])
    assert {"numpy", "onnxruntime", "tokenizers"} <= set(result["modules"])
    theirs = [json.loads(line) for line in predictions.read_text().splitlines()]
    ours = textseq.load(classifier).predict([e.text for e in examples])
    assert [t["label"] for t in theirs] == [o["label"] for o in ours]
    for t, o in zip(theirs, ours, strict=True):
        assert t["probs"]["positive"] == pytest.approx(o["probs"]["positive"], abs=1e-4)
    truth = [e.label for e in examples]
    assert (
        result["accuracy"] == sum(o["label"] == y for o, y in zip(ours, truth, strict=True)) / 300
    )


def test_a_broken_export_is_refused_and_nothing_is_written(classifier, tmp_path, monkeypatch):
    import textseq.export as export

    original = export._write_torchscript

    def broken(subject, path, *, quantize):  # exports a model whose last layer is negated
        head = subject.predictor.model.head
        last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.neg_()
            original(subject, path, quantize=quantize)
            last.weight.neg_()

    monkeypatch.setattr(export, "_write_torchscript", broken)
    out = tmp_path / "model.pt"
    with pytest.raises(export.ExportError, match="nothing was written"):
        export.export_model(classifier, format="torchscript", out=out, limit=50)
    assert list(tmp_path.iterdir()) == []
    assert main(["export", str(classifier), "--format", "torchscript", "--out", str(out)]) == 3


@pytest.fixture(scope="module")
def transformer(data_env, tmp_path_factory):
    return _train(
        CONFIGS / "sst2_transformer.yaml",
        tmp_path_factory.mktemp("runs") / "sst2_transformer",
        "data.limit_train=1000",
        "data.limit_val=100",
        "trainer.max_epochs=1",
        "model.embedding.vectors=null",
        "model.embedding.dim=32",
        "model.encoder.num_layers=1",
        "model.encoder.num_heads=4",
        "model.encoder.ff_dim=32",
    )


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_transformer_classifier_exports(transformer, tmp_path, fmt):
    from textseq.export import export_model

    report = export_model(transformer, format=fmt, out=tmp_path / "t", limit=100)
    assert report.max_prob_diff <= 1e-4 and report.label_agreement == 1.0


@pytest.fixture(scope="module")
def tagger(data_env, tmp_path_factory):
    return _train(
        CONFIGS / "conll2003_bilstm_crf.yaml",
        tmp_path_factory.mktemp("runs") / "ner",
        "data.limit_train=200",
        "data.limit_val=60",
        "model.words_from_vectors=false",
        "model.encoder.hidden_size=16",
        "trainer.max_epochs=1",
    )


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_tagger_exports_emissions_whose_marginals_match(tagger, tmp_path, fmt):
    from textseq.export import export_model

    report = export_model(tagger, format=fmt, out=tmp_path / "ner", limit=60)
    assert report.task == "tag" and report.viterbi_in_graph
    assert report.max_prob_diff <= 1e-4 and report.label_agreement == 1.0


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_tagger_decodes_viterbi_paths_of_any_length_in_the_graph(tagger, tmp_path, fmt):
    """The graph's tags output is the CRF's Viterbi path, also for sentences longer than any
    the graph was traced or checked with (the loops are in the graph, not unrolled)."""
    import shutil

    from safetensors.torch import load_file, save_file

    from textseq.export import _runner, export_model

    # Random transition scores, large next to the emissions: paths then switch tags often and
    # depend on every back-pointer (the briefly trained tagger alone tags almost all O).
    noisy = tmp_path / "noisy"
    shutil.copytree(tagger, noisy)
    weights = load_file(noisy / "model.safetensors")
    generator = torch.Generator().manual_seed(0)
    for name in ("transitions", "start_transitions", "end_transitions"):
        key = f"output.{name}"
        weights[key] = 5 * torch.randn(weights[key].shape, generator=generator)
    save_file(weights, noisy / "model.safetensors")
    manifest = json.loads((noisy / "textseq.json").read_text())
    manifest["sha256"]["model.safetensors"] = hashlib.sha256(
        (noisy / "model.safetensors").read_bytes()
    ).hexdigest()  # these weights are changed on purpose
    (noisy / "textseq.json").write_text(json.dumps(manifest))
    path = export_model(noisy, format=fmt, out=tmp_path / "ner", limit=60).path
    model = textseq.load(noisy).model
    lengths = torch.tensor([70, 1, 33, 69])
    word_ids = torch.randint(2, model.embedding.num_embeddings, (4, 70), generator=generator)
    inputs = [word_ids, lengths]
    if model.char_encoder is not None:
        inputs.append(torch.randint(1, 20, (4, 70, 6), generator=generator))
    if model.casing_embedding is not None:
        inputs.append(torch.randint(1, 4, (4, 70), generator=generator))
    mask = torch.arange(70) < lengths[:, None]
    word_ids[~mask] = 0
    emissions, tags = _runner(fmt, path)(*inputs)
    expected = model.output.decode(torch.as_tensor(emissions), mask)
    assert torch.equal(torch.as_tensor(tags)[mask], expected[mask])
    assert len(set(expected[mask].tolist())) > 2  # not a trivially constant path


def test_tagger_runs_quantised(tagger):
    fp32 = textseq.load(tagger)
    int8 = textseq.load(tagger, quantize="int8")
    assert is_quantized(int8.model)
    sentences = [["U.N.", "official", "Ekeus", "heads", "for", "Baghdad", "."]]
    assert len(int8.predict(sentences)[0]["tags"]) == len(fp32.predict(sentences)[0]["tags"])


def test_export_refuses_a_language_model_and_bad_formats(classifier):
    from textseq.export import export_model

    with pytest.raises(ValueError, match="format \\('tflite'\\)"):
        export_model(classifier, format="tflite")
