"""Readers for labelled text files: TSV, CSV and JSON lines, each optionally gzip-compressed, and
Parquet and Arrow tables (read with pyarrow, as the `datasets` library writes them).

Every reader returns `TextExample`s that remember the file and line they came from, so that a
later error (an unknown label at evaluation, say) can point at the offending line. Problems in
the file itself raise `DataError` naming the file and line; a file is read whole before anything
is returned, so a bad file never yields half its rows.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textseq.errors import DataError

FORMATS = ("tsv", "csv", "jsonl", "txt", "parquet", "arrow")
TABLE_FORMATS = ("parquet", "arrow")  # columnar files: a row's "line" is its row number


@dataclass(frozen=True)
class TextExample:
    """One text with its label (None when the source has no labels) and where it came from."""

    text: str
    label: str | None = None
    source: str = "<memory>"
    line: int | None = None

    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}, line {self.line}"


def detect_format(path: str | Path) -> str:
    """The format named by the file extension (`.gz` ignored): tsv, csv, jsonl or txt."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1].lstrip(".") if suffixes else ""
    aliases = {
        "tsv": "tsv",
        "tab": "tsv",
        "csv": "csv",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "jsonl",
        "txt": "txt",
        "text": "txt",
        "parquet": "parquet",
        "arrow": "arrow",
    }
    if ext not in aliases:
        raise DataError(
            f"cannot tell the file format from the extension {ext or '(none)'!r}; "
            "use .tsv, .csv, .jsonl or .txt (optionally .gz), .parquet or .arrow",
            path=path,
        )
    return aliases[ext]


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yields (line number from 1, line without its newline) of a UTF-8 file, `.gz` or not.

    Raises `DataError` naming the line for bytes that are not UTF-8, and for a missing or
    corrupt file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=path)
    if path.is_dir():
        raise DataError("is a directory, not a data file", path=path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    line_number = 0
    try:
        with opener(path, "rb") as stream:
            for line_number, raw in enumerate(stream, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    bad = raw[error.start : error.start + 1].hex()
                    raise DataError(
                        f"not valid UTF-8 (byte 0x{bad} at column {error.start + 1}); "
                        "re-save the file as UTF-8",
                        path=path,
                        line=line_number,
                    ) from None
                if line_number == 1:
                    text = text.removeprefix("\ufeff")  # byte-order mark written by some editors
                yield line_number, text.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"corrupt gzip data after line {line_number}: {error}", path=path) from None


def read_texts(path: str | Path) -> list[TextExample]:
    """Unlabelled texts, one per line; blank lines are skipped."""
    examples = [
        TextExample(text=line.strip(), source=str(path), line=number)
        for number, line in iter_lines(path)
        if line.strip()
    ]
    if not examples:
        raise DataError("the file has no texts (it is empty or all lines are blank)", path=path)
    return examples


def read_examples(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    format: str | None = None,
) -> list[TextExample]:
    """Reads a labelled (or, with `label_column=None`, unlabelled) file.

    - TSV: a header line naming the columns, then one row per line, fields split on tabs with no
      quoting (the GLUE convention).
    - CSV: a header line, RFC 4180 quoting (fields may hold commas, quotes and newlines).
    - JSON lines: one object per line; labels may be strings or numbers.
    - txt: one text per line, no labels (only with `label_column=None`).
    - Parquet, Arrow: columns by name; integer labels of a `ClassLabel` column (a table that
      `datasets` wrote) become their class names.

    Rows with an empty text or a missing label are errors that name the line.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", path=path)
    if fmt == "txt":
        if label_column is not None:
            raise DataError(
                "a .txt file holds one text per line and no labels; use .tsv, .csv or .jsonl "
                "for labelled data",
                path=path,
            )
        return read_texts(path)
    label_names: dict[str, list[str]] = {}
    if fmt in TABLE_FORMATS:
        rows, label_names = _table_rows(path, fmt)
    else:
        rows = {"tsv": _tsv_rows, "csv": _csv_rows, "jsonl": _jsonl_rows}[fmt](path)
    examples = examples_from_rows(
        rows,
        source=str(path),
        text_column=text_column,
        label_column=label_column,
        label_names=label_names.get(label_column or ""),
    )
    if not examples:
        raise DataError("the file has no examples (it is empty or has only a header)", path=path)
    return examples


def _label_text(value: object, path: str | Path, line: int) -> str:
    """A label as text, one spelling per label: the JSON numbers 1 and 1.0 are the label "1"
    (as the text 1 of a TSV file is); JSON true/false, lists and objects are refused."""
    if isinstance(value, bool | list | dict):
        raise DataError(
            f"label {value!r} is a JSON {type(value).__name__}; write labels as strings or numbers",
            path=path,
            line=line,
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def examples_from_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    text_column: str = "text",
    label_column: str | None = "label",
    label_names: Sequence[str] | None = None,
) -> list[TextExample]:
    """`TextExample`s of (line, row) pairs, whatever read the rows (a file, a `datasets`
    split, rows in memory). Integer labels become `label_names[label]` when the source names
    its classes (a `ClassLabel` feature), else their decimal string.

    Rows with an empty text or a missing label are errors that name the line."""
    examples = []
    columns_checked = False
    for line, row in rows:
        if not columns_checked:
            _check_columns(row, source, line, text_column, label_column)
            columns_checked = True
        text = row.get(text_column)
        if text is None or not str(text).strip():
            raise DataError(f"empty text in column {text_column!r}", path=source, line=line)
        label = None
        if label_column is not None:
            value = row.get(label_column)
            if value is None or str(value).strip() == "":
                raise DataError(f"no label in column {label_column!r}", path=source, line=line)
            label = _label_name(value, label_names, source, line)
        examples.append(TextExample(text=str(text).strip(), label=label, source=source, line=line))
    return examples


def _label_name(value: Any, names: Sequence[str] | None, source: str, line: int) -> str:
    if names is not None and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise DataError(
                f"label {value} is outside the {len(names)} class names ({', '.join(names)})",
                path=source,
                line=line,
            )
        return names[value]
    return _label_text(value, source, line)


def class_label_names(features: Mapping[str, Any]) -> dict[str, list[str]]:
    """{column: class names} of the `ClassLabel` columns in a `datasets` features dict (as
    `Features.to_dict()` gives it, and as Parquet and Arrow files written by `datasets` keep
    it in their schema metadata)."""
    names = {}
    for column, feature in features.items():
        if isinstance(feature, Mapping) and feature.get("_type") == "ClassLabel":
            names[column] = list(feature.get("names") or [])
    return names


def apply_label_map(
    examples: Sequence[TextExample], label_map: Mapping[str, str] | None
) -> list[TextExample]:
    """The examples with each label that is a key of `label_map` replaced by its value
    (`{"0": "negative", "1": "positive"}`); other labels are kept as they are."""
    if not label_map:
        return list(examples)
    return [
        replace(e, label=label_map.get(e.label, e.label)) if e.label is not None else e
        for e in examples
    ]


def _check_columns(
    row: Mapping[str, Any], path: str | Path, line: int, text_column: str, label_column: str | None
) -> None:
    wanted = [text_column] + ([label_column] if label_column is not None else [])
    for column in wanted:
        if column not in row:
            found = ", ".join(repr(c) for c in row) or "none"
            raise DataError(
                f"no column {column!r} (columns found: {found}); set data.text_column / "
                "data.label_column (or --text-column / --label-column) to the right names",
                path=path,
                line=line,
            )


def _tsv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    header: list[str] | None = None
    for number, line in iter_lines(path):
        if header is None:
            if not line.strip():
                continue
            header = [name.strip() for name in line.split("\t")]
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(
                f"expected {len(header)} tab-separated fields (header: {', '.join(header)}), "
                f"found {len(fields)}",
                path=path,
                line=number,
            )
        yield number, dict(zip(header, fields, strict=True))


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    lines = (line + "\n" for _, line in iter_lines(path))
    reader = csv.reader(lines)
    header: list[str] | None = None
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = [name.strip() for name in fields]
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"expected {len(header)} comma-separated fields (header: "
                    f"{', '.join(header)}), found {len(fields)}",
                    path=path,
                    line=reader.line_num,
                )
            yield reader.line_num, dict(zip(header, fields, strict=True))
    except csv.Error as error:
        raise DataError(f"malformed CSV: {error}", path=path, line=reader.line_num) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"invalid JSON: {error.msg} (column {error.colno})", path=path, line=number
            ) from None
        if not isinstance(row, dict):
            raise DataError(
                f"expected a JSON object, found {type(row).__name__}", path=path, line=number
            )
        yield number, row


def _table_rows(path: Path, fmt: str) -> tuple[list[tuple[int, dict]], dict[str, list[str]]]:
    """The rows (row number from 1, dict) of a Parquet or Arrow (IPC stream or file) table and
    its `ClassLabel` names, if `datasets` wrote it."""
    if not path.exists():
        raise DataError("no such file", path=path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"reading .{fmt} files needs pyarrow: pip install pyarrow", path=path
        ) from None
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
        else:
            try:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"not a readable {fmt} table: {error}", path=path) from None
    metadata = table.schema.metadata or {}
    names: dict[str, list[str]] = {}
    if b"huggingface" in metadata:
        info = json.loads(metadata[b"huggingface"])
        names = class_label_names(info.get("info", {}).get("features", {}))
    return list(enumerate(table.to_pylist(), start=1)), names


def parse_label_map(text: str) -> dict[str, str]:
    """A label map written on the command line, `0=negative,1=positive` or a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"--label-map: invalid JSON: {error.msg}") from None
        if not isinstance(mapping, dict):
            raise DataError("--label-map: expected a JSON object")
        return {str(k): str(v) for k, v in mapping.items()}
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep or not k.strip() or not v.strip() for k, sep, v in pairs):
        raise DataError(f"--label-map: write FROM=TO pairs, e.g. 0=negative,1=positive: {text!r}")
    return {k.strip(): v.strip() for k, _, v in pairs}
