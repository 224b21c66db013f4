"""`textseq export DIR --format hf --out HFDIR` for a classifier with a pretrained encoder: a
Hugging Face (Hub-style) folder that `AutoTokenizer.from_pretrained(HFDIR)` and
`AutoModelForSequenceClassification.from_pretrained(HFDIR, trust_remote_code=True)` load,
without textseq, and that gives the probabilities `textseq.load(DIR).predict` gives.

What the folder holds:

- `config.json`: the encoder's own config (its `model_type`, e.g. bert) with `id2label` and
  `label2id` in the model's output order, `textseq_pooling`, `textseq_head_hidden_size`,
  `textseq_head_dropout`, and `auto_map` naming the model class;
- `modeling_textseq.py` (`textseq.tasks.classify.hub_modeling`, copied as it is): the class
  `TextseqForSequenceClassification`, the encoder (`AutoModel` of the config) with textseq's
  pooling and head. No stock `...ForSequenceClassification` is used, because none computes
  what textseq's model computes: BERT's puts a dense layer and a tanh on [CLS] ("pooler")
  before its classifier, textseq pools the last layer (mean, cls, max, mean_max or last over
  the real tokens) and puts its MLP head on that; hence `trust_remote_code=True`;
- `model.safetensors`: textseq's weights under their own names (`backbone.*`, `head.*`);
- the tokenizer (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`): the
  encoder's tokenizer with textseq's text cleaning (`text` section: HTML, URLs, whitespace)
  prepended to its normalizer (`textseq.text.portable.cleaning_normalizers`), truncation to
  the model's `data.max_length`, loaded as a `PreTrainedTokenizerFast` so the file is used
  as written;
- `README.md`: the model card (training config, data, metrics, intended use, limitations,
  the parity figures of the export).

The parity check runs textseq's model and the folder (loaded through `from_pretrained` with
`local_files_only=True`, in this process) on held-out texts; it compares the token ids and
the probabilities. The folder is built under `HFDIR.partial` and renamed into place only when
the largest probability difference is within the tolerance, else nothing is left behind.
Attention poolings (attention, self_attention, multihead) have weights of their own and are
refused in one line.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from textseq.errors import ExportError
from textseq.model_dir import partial_dir
from textseq.tasks.classify.data import load_examples
from textseq.tasks.classify.predictor import TextClassifierPredictor
from textseq.text.portable import cleaning_normalizers
from textseq.text.pretrained import PRETRAINED_DIR
from textseq.version import __version__

MODELING = "modeling_textseq.py"
MODEL_CLASS = "TextseqForSequenceClassification"
POOLINGS = ("mean", "cls", "max", "mean_max", "last")  # hub_modeling.POOLINGS
# Cleaning steps that no `tokenizers` normalizer expresses here (textseq.text.portable)
UNEXPRESSED = {
    "hashtags": "keep",
    "emoji": "keep",
    "remove_punctuation": False,
    "remove_digits": False,
}


@dataclass
class HubParity:
    """The folder beside textseq's model on the held-out texts."""

    texts: int
    max_prob_diff: float  # largest |p_hf - p_textseq| over texts and classes
    label_agreement: float  # share of texts whose predicted labels agree
    id_mismatches: int  # texts whose token ids differ (AutoTokenizer vs textseq's pipeline)
    torch_ms: float  # textseq's model, per batch
    export_ms: float  # the folder's model, per batch


def check_exportable(predictor: TextClassifierPredictor) -> None:
    """Raises ExportError, in one line, for a classifier the folder cannot express."""
    model = predictor.config.model
    if model.encoder.type != "pretrained":
        raise ExportError(
            f"--format hf exports classifiers with a pretrained encoder; this one's encoder is "
            f"{model.encoder.type!r} (export it with --format onnx or torchscript)"
        )
    if model.pooling.type not in POOLINGS:
        raise ExportError(
            f"--format hf exports the poolings {', '.join(POOLINGS)}; this model pools with "
            f"{model.pooling.type!r} (export it with --format onnx)"
        )


def write_hub_folder(
    predictor: TextClassifierPredictor,
    out: Path,
    *,
    data: str,
    limit: int,
    batch_size: int,
    tolerance: float,
) -> HubParity:
    """Writes the folder for `predictor` at `out` (replacing one there) after checking it on
    the first `limit` texts of `data`; raises ExportError (nothing written) beyond
    `tolerance`."""
    check_exportable(predictor)
    texts = [e.text for e in load_examples(data, label_column=None)][:limit]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ExportError(f"{data} holds no texts for the parity check")
    out = Path(out)
    work = partial_dir(out)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _write_model(predictor, work)
        _write_tokenizer(predictor, work)
        parity = check_parity(predictor, work, texts, batch_size=batch_size)
        if not parity.max_prob_diff <= tolerance:
            raise ExportError(
                f"the exported folder's probabilities differ from the PyTorch model's by up to "
                f"{parity.max_prob_diff:.3g} (tolerance {tolerance:g}) on {len(texts)} "
                f"held-out texts; nothing was written to {out}"
            )
        (work / "README.md").write_text(model_card(predictor, parity, data), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return parity


# --- the files -----------------------------------------------------------------------------


def _write_model(predictor: TextClassifierPredictor, folder: Path) -> None:
    from safetensors.torch import save_file

    config = predictor.config
    encoder = predictor.model.backbone.config.to_dict()
    labels = predictor.labels
    encoder.pop("_name_or_path", None)
    encoder.pop("architectures", None)
    encoder.pop("auto_map", None)
    encoder.pop("transformers_version", None)
    encoder.update(
        architectures=[MODEL_CLASS],
        auto_map={"AutoModelForSequenceClassification": f"{MODELING[:-3]}.{MODEL_CLASS}"},
        id2label={str(i): label for i, label in enumerate(labels)},
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="single_label_classification",
        textseq_pooling=config.model.pooling.type,
        textseq_head_hidden_size=config.model.head.hidden_size,
        textseq_head_dropout=config.model.head.dropout,
        textseq_version=__version__,
    )
    (folder / "config.json").write_text(json.dumps(encoder, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name("hub_modeling.py"), folder / MODELING)
    state = {k: v.detach().contiguous() for k, v in predictor.model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def max_tokens(predictor: TextClassifierPredictor) -> int:
    """The most tokens textseq gives a text ([CLS] and [SEP] included)."""
    tokenizer_limit = getattr(predictor.pipeline.tokenizer, "max_length", None)
    limits = [x for x in (tokenizer_limit, predictor.pipeline.max_length) if x]
    return min(limits)


def portable_tokenizer(predictor: TextClassifierPredictor):
    """The `tokenizers.Tokenizer` that gives the ids `predictor.encode` gives: the encoder's
    own (saved in the model directory) with textseq's cleaning before its normalizer,
    truncated as textseq truncates, unpadded. Also what `--format onnx` writes beside a
    pretrained classifier's graph."""
    from tokenizers import Tokenizer, normalizers

    source = predictor.directory / PRETRAINED_DIR
    hf = Tokenizer.from_file(str(source / "tokenizer.json"))
    steps = cleaning_normalizers(predictor.pipeline.cleaner)
    if hf.normalizer is not None:
        steps.append(hf.normalizer)
    if steps:
        hf.normalizer = normalizers.Sequence(steps)
    hf.no_padding()  # padding is the caller's: padding=True pads to the batch's longest
    hf.enable_truncation(max_tokens(predictor))
    return hf


def _write_tokenizer(predictor: TextClassifierPredictor, folder: Path) -> None:
    limit = max_tokens(predictor)
    portable_tokenizer(predictor).save(str(folder / "tokenizer.json"))
    saved = predictor.pipeline.tokenizer.tokenizer  # the transformers tokenizer textseq used
    specials = {
        name: getattr(saved, name)
        for name in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
        if getattr(saved, name, None) is not None
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": limit,
        "padding_side": "right",
        "truncation_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
        **specials,
    }
    (folder / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8"
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(specials, indent=2) + "\n", encoding="utf-8"
    )


# --- the parity check ----------------------------------------------------------------------


def load_folder(folder: Path) -> tuple[Any, Any]:
    """(tokenizer, model) as a consumer loads them: AutoTokenizer and
    AutoModelForSequenceClassification, from the folder only."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(folder), local_files_only=True, trust_remote_code=True
    )
    return tokenizer, model.eval()


def check_parity(
    predictor: TextClassifierPredictor, folder: Path, texts: list[str], *, batch_size: int
) -> HubParity:
    """textseq's probabilities and token ids beside the folder's, on `texts`."""
    import time

    tokenizer, model = load_folder(folder)
    started = time.perf_counter()
    ours = torch.softmax(predictor.logits(texts, batch_size=batch_size), dim=-1)  # (N, C)
    torch_s = time.perf_counter() - started
    theirs = torch.empty_like(ours)
    mismatches = 0
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            batch = tokenizer(chunk, truncation=True, padding=True, return_tensors="pt")
            logits = model(**batch).logits  # (B, C)
            theirs[start : start + len(chunk)] = torch.softmax(logits.float(), dim=-1)
            lengths = batch["attention_mask"].sum(dim=1).tolist()
            rows = [ids[:n] for ids, n in zip(batch["input_ids"].tolist(), lengths, strict=True)]
            mismatches += sum(a != b for a, b in zip(rows, predictor.encode(chunk), strict=True))
    export_s = time.perf_counter() - started
    batches = -(-len(texts) // batch_size)
    agreement = float((ours.argmax(-1) == theirs.argmax(-1)).float().mean())
    return HubParity(
        texts=len(texts),
        max_prob_diff=float((ours - theirs).abs().max()),
        label_agreement=agreement,
        id_mismatches=mismatches,
        torch_ms=1000 * torch_s / batches,
        export_ms=1000 * export_s / batches,
    )


# --- the model card ------------------------------------------------------------------------


def model_card(predictor: TextClassifierPredictor, parity: HubParity, data: str) -> str:
    """README.md: what the model is, how it was trained and scored, how to use it, its
    limits."""
    import yaml

    config = predictor.config
    metrics = _metrics(predictor.directory)
    labels = predictor.labels
    summary = metrics.get("data", {})
    best = metrics.get("best") or {}
    pooling = config.model.pooling.type
    encoder = config.model.encoder.pretrained
    head = config.model.head.hidden_size
    head_text = "one linear layer" if head == 0 else f"linear ({head}), ReLU, linear"
    rows = "\n".join(f"| {key} | {_number(value)} |" for key, value in sorted(best.items()))
    data_rows = "\n".join(f"| {key} | {_number(value)} |" for key, value in summary.items())
    cleaning = config.text
    unexpressed = [
        key for key, default in UNEXPRESSED.items() if getattr(cleaning, key, default) != default
    ]
    front = {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "tags": ["textseq", "text-classification"],
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# Text classifier ({', '.join(labels)}), exported by textseq {__version__}",
        "",
        f"A `{encoder}` encoder fine-tuned by textseq for text classification: the last "
        f"layer's states are pooled with `{pooling}` over the real tokens and a head "
        f"({head_text}) gives one logit per label.",
        "",
        "## Labels",
        "",
        "| id | label |",
        "|---|---|",
        *[f"| {i} | {label} |" for i, label in enumerate(labels)],
        "",
        "## How to use",
        "",
        "```python",
        "import torch",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        "",
        'tokenizer = AutoTokenizer.from_pretrained("HFDIR")',
        "model = AutoModelForSequenceClassification.from_pretrained(",
        '    "HFDIR", trust_remote_code=True',
        ").eval()",
        'batch = tokenizer(["a gripping, beautifully acted film"], truncation=True, '
        'padding=True, return_tensors="pt")',
        "with torch.no_grad():",
        "    probs = model(**batch).logits.softmax(-1)",
        "print(model.config.id2label[int(probs.argmax(-1)[0])])",
        "```",
        "",
        "## Architecture: a custom model file (`trust_remote_code=True`)",
        "",
        f"`config.json` is the encoder's own config (`model_type: "
        f"{predictor.model.backbone.config.model_type}`) with `auto_map` naming "
        f"`{MODELING}`'s `{MODEL_CLASS}`, which imports only torch and transformers. "
        "No stock class is used because none computes this model exactly: "
        '`BertForSequenceClassification` puts a dense layer and a tanh (the "pooler") on '
        f"[CLS] before its classifier; this model pools with `{pooling}` and applies its own "
        "head. `model.safetensors` keeps textseq's parameter names (`backbone.*` the encoder, "
        "`head.*` the head).",
        "",
        "## Training",
        "",
        f"- Training data: `{config.data.train}`; validation: `{config.data.val}`.",
        *(["", "| data | value |", "|---|---|", data_rows] if data_rows else []),
        "",
        f"- Best validation (`{metrics.get('monitor', config.trainer.monitor)}`) at epoch "
        f"{metrics.get('best_epoch')}; training took {metrics.get('train_seconds')} s.",
        *(["", "| metric | value |", "|---|---|", rows] if rows else []),
        "",
        "The full training config (textseq's `config.yaml`):",
        "",
        "```yaml",
        yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True).strip(),
        "```",
        "",
        "## Export check",
        "",
        f"Exported with `textseq export --format hf`; on the first {parity.texts} texts of "
        f"`{data}`, this folder loaded through `from_pretrained` gives probabilities within "
        f"{parity.max_prob_diff:.2g} of textseq's model (largest absolute difference), the "
        f"same label for {parity.label_agreement:.2%} of them, and the same token ids for "
        f"{parity.texts - parity.id_mismatches} of {parity.texts}.",
        "",
        "## Intended use",
        "",
        f"Classifying short English texts like the training data's into {', '.join(labels)}, "
        "for research, baselines and as a component whose errors a person can catch. It is "
        "not meant for decisions about people, nor for text unlike the training data "
        "(other languages, domains or lengths), without measuring it there first.",
        "",
        "## Limitations",
        "",
        f"- Texts longer than {max_tokens(predictor)} tokens ([CLS] and [SEP] included) are "
        "truncated: only their beginning is read.",
        "- The tokenizer repeats textseq's text cleaning (HTML tags and entities, URLs, "
        "whitespace) in its normalizer; HTML entities outside HTML 4's named ones and the "
        "common numeric references stay as written (see textseq's portable tokenizer).",
        *(
            [
                f"- textseq's cleaning also applied {', '.join(unexpressed)}, which the "
                "tokenizer file does not: clean texts that way before tokenizing."
            ]
            if unexpressed
            else []
        ),
        "- The model inherits the biases of its pretrained encoder and of its training "
        "data; its probabilities are not calibrated beyond what the validation figures show.",
        "",
    ]
    return "\n".join(lines)


def _metrics(directory: Path | None) -> dict[str, Any]:
    path = None if directory is None else directory / "metrics.json"
    if path is None or not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
