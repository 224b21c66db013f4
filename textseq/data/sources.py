"""Where labelled texts come from besides files: Hugging Face `datasets` and data in memory.
The one home for these data specs:

- `hf:NAME[:CONFIG]:SPLIT`: `datasets.load_dataset(NAME, CONFIG, split=SPLIT)`; NAME may be a
  Hub id (`stanfordnlp/sst2`) or a local folder of data files (`hf:data/reviews:train`).
- `hf-disk:PATH[:SPLIT]`: `datasets.load_from_disk(PATH)`, a `Dataset` (no SPLIT) or a
  `DatasetDict` (SPLIT names one of its splits), as `save_to_disk` wrote it.
- `memory:NAME`: rows handed to `textseq.train(config, train=..., val=...)`, registered for
  the run by `in_memory` (what the saved config records in their place).

Rows in memory (`examples_from_memory`) are a list of `(text, label)` pairs, of dicts with the
text and label columns, or of texts (unlabelled); a pandas DataFrame; or a `datasets.Dataset`.
A `ClassLabel` column's integers become its class names, as in `textseq.data.readers`; the
text and label columns are chosen as for files.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from textseq.data.readers import TextExample, class_label_names, examples_from_rows
from textseq.errors import DataError

HF = "hf:"
HF_DISK = "hf-disk:"
MEMORY = "memory:"
PREFIXES = (HF, HF_DISK, MEMORY)
_IN_MEMORY: dict[str, Any] = {}  # memory:NAME -> rows, while a run that was handed them lasts
_runs = itertools.count()


def is_source_spec(spec: Any) -> bool:
    """True for the specs this module reads, and for rows in memory (anything not a str)."""
    return not isinstance(spec, (str, Path)) or str(spec).startswith(PREFIXES)


def read_source(
    spec: Any, *, text_column: str = "text", label_column: str | None = "label"
) -> list[TextExample]:
    """The examples of an `hf:`, `hf-disk:` or `memory:` spec, or of rows in memory."""
    if not isinstance(spec, (str, Path)):
        return examples_from_memory(spec, text_column=text_column, label_column=label_column)
    spec = str(spec)
    if spec.startswith(MEMORY):
        if spec not in _IN_MEMORY:
            raise DataError(
                f"{spec} names data handed to a training run in memory, which is not kept with "
                "the model; pass the data itself or a file"
            )
        rows = _IN_MEMORY[spec]
        return examples_from_memory(
            rows, text_column=text_column, label_column=label_column, source=spec
        )
    dataset = _load_disk(spec) if spec.startswith(HF_DISK) else _load_hub(spec)
    return examples_from_memory(
        dataset, text_column=text_column, label_column=label_column, source=spec
    )


def examples_from_memory(
    data: Any,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    source: str = "<memory>",
) -> list[TextExample]:
    """Examples of rows in memory (see the module docstring); a row's "line" is its number
    from 1."""
    label_names = None
    if hasattr(data, "features") and hasattr(data, "to_list"):  # a datasets.Dataset
        label_names = class_label_names(data.features.to_dict()).get(label_column or "")
        rows = data.to_list()
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        rows = data.to_dict("records")
    elif isinstance(data, (str, bytes, Mapping)) or not hasattr(data, "__iter__"):
        raise DataError(
            f"cannot read examples from a {type(data).__name__}; pass a list of (text, label) "
            "pairs or dicts, a pandas DataFrame or a datasets.Dataset",
            path=source,
        )
    else:
        rows = [_as_row(item, text_column, label_column, source) for item in data]
    examples = examples_from_rows(
        enumerate(rows, start=1),
        source=source,
        text_column=text_column,
        label_column=label_column,
        label_names=label_names,
    )
    if not examples:
        raise DataError("there are no examples", path=source)
    return examples


def _as_row(item: Any, text_column: str, label_column: str | None, source: str) -> Mapping:
    if isinstance(item, Mapping):
        return item
    if isinstance(item, TextExample):
        return {text_column: item.text, label_column or "": item.label}
    if isinstance(item, str):
        return {text_column: item}
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return {text_column: item[0], label_column or "": item[1]}
    raise DataError(
        f"a row must be a (text, label) pair, a dict or a text, not {item!r:.60}", path=source
    )


@contextmanager
def in_memory(**data: Any) -> Iterator[dict[str, str]]:
    """Registers each keyword's rows as `memory:KEYWORD-N` for the `with` block and yields
    {keyword: spec}; what is None is left out."""
    run = next(_runs)
    specs = {name: f"{MEMORY}{name}-{run}" for name, rows in data.items() if rows is not None}
    for name, spec in specs.items():
        _IN_MEMORY[spec] = data[name]
    try:
        yield specs
    finally:
        for spec in specs.values():
            _IN_MEMORY.pop(spec, None)


def _datasets():
    try:
        import datasets
    except ImportError:
        raise DataError(
            "hf: and hf-disk: data need the datasets library: pip install datasets"
        ) from None
    return datasets


def _load_hub(spec: str) -> Any:
    parts = spec[len(HF) :].split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise DataError(f"{spec}: write Hugging Face datasets as hf:NAME[:CONFIG]:SPLIT")
    name, config, split = (parts[0], None, parts[1]) if len(parts) == 2 else parts
    datasets = _datasets()
    try:
        return datasets.load_dataset(name, config, split=split)
    except (ValueError, FileNotFoundError, ConnectionError, OSError) as error:
        raise DataError(f"{spec}: datasets.load_dataset failed: {error}") from None


def _load_disk(spec: str) -> Any:
    rest = spec[len(HF_DISK) :]
    path, split = rest, None
    if not Path(rest).expanduser().exists() and ":" in rest:
        path, _, split = rest.rpartition(":")
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{spec}: no such folder {path}")
    datasets = _datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except (ValueError, FileNotFoundError, OSError) as error:
        raise DataError(f"{spec}: datasets.load_from_disk failed: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None or split not in loaded:
            raise DataError(
                f"{spec}: {path} holds the splits {', '.join(loaded)}; name one as "
                f"hf-disk:{path}:SPLIT"
            )
        return loaded[split]
    if split is not None:
        raise DataError(f"{spec}: {path} holds a single split; write hf-disk:{path}")
    return loaded
