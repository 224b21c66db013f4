"""Readers: TSV/CSV/JSONL/txt, plain or gzip'd, read exactly; every broken file is a DataError
that names the file (and the line, when there is one)."""

import contextlib
import csv
import gzip
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from textseq.data.readers import (
    TextExample,
    detect_format,
    iter_lines,
    read_examples,
    read_texts,
)
from textseq.errors import DataError


def write(path: Path, content: str | bytes) -> Path:
    """Writes `content` (UTF-8 when text) to `path`, gzip'd when the name ends in `.gz`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@contextlib.contextmanager
def raises_data_error(path: Path, line: int | None, match: str):
    """Expects a DataError matching `match` whose message starts with the file (and line)."""
    with pytest.raises(DataError, match=match) as info:
        yield info
    error = info.value
    assert error.path == str(path)
    assert error.line == line
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    assert str(error).startswith(where), str(error)


TSV = "label\ttext\npos\ta fine film\nneg\ta dull , lifeless script\n"
EXPECTED = [("a fine film", "pos"), ("a dull , lifeless script", "neg")]


def pairs(examples):
    return [(e.text, e.label) for e in examples]


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.tsv", "tsv"),
        ("a.TSV", "tsv"),
        ("a.tab", "tsv"),
        ("a.tsv.gz", "tsv"),
        ("a.csv", "csv"),
        ("x.y.CSV.GZ", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
        ("a.jsonl.gz", "jsonl"),
        ("a.txt", "txt"),
        ("a.text.gz", "txt"),
        ("a.parquet", "parquet"),
        ("a.arrow", "arrow"),
    ],
)
def test_detect_format_from_extension(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["data.xlsx", "data", "data.gz", "data.tsv.zip"])
def test_unknown_extension_is_an_error_naming_the_file(name):
    with pytest.raises(DataError, match="cannot tell the file format") as error:
        detect_format(name)
    assert error.value.path == name
    assert str(error.value).startswith(f"{name}: ")


def test_read_examples_with_unknown_extension_names_the_file(tmp_path):
    path = write(tmp_path / "data.xlsx", TSV)
    with raises_data_error(path, None, r"extension 'xlsx'.*\.tsv, \.csv, \.jsonl or \.txt"):
        read_examples(path)


def test_explicit_unknown_format_is_an_error(tmp_path):
    path = write(tmp_path / "data.tsv", TSV)
    with raises_data_error(path, None, "unknown format 'xml'"):
        read_examples(path, format="xml")


def test_explicit_format_overrides_the_extension(tmp_path):
    path = write(tmp_path / "data.dat", TSV)
    assert pairs(read_examples(path, format="tsv")) == EXPECTED


# --- TSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.tsv", "data.tsv.gz"])
def test_tsv_reads_texts_labels_and_line_numbers(tmp_path, name):
    path = write(tmp_path / name, TSV)
    examples = read_examples(path)
    assert examples == [
        TextExample("a fine film", "pos", source=str(path), line=2),
        TextExample("a dull , lifeless script", "neg", source=str(path), line=3),
    ]
    assert examples[1].where() == f"{path}, line 3"


def test_tsv_columns_can_be_in_any_order_and_extra_columns_are_ignored(tmp_path):
    path = write(tmp_path / "d.tsv", "id\tsentence\tlabel\n1\tgood\t1\n2\tbad\t0\n")
    assert pairs(read_examples(path, text_column="sentence")) == [("good", "1"), ("bad", "0")]


def test_tsv_has_no_quoting_and_strips_outer_whitespace(tmp_path):
    path = write(tmp_path / "d.tsv", "label\ttext\n pos \t  \"a, b\" said 'c'  \n")
    assert pairs(read_examples(path)) == [("\"a, b\" said 'c'", "pos")]


def test_tsv_skips_blank_lines_and_reads_crlf(tmp_path):
    path = write(tmp_path / "d.tsv", "\r\nlabel\ttext\r\n\r\npos\tgood\r\n   \nneg\tbad\r\n")
    examples = read_examples(path)
    assert pairs(examples) == [("good", "pos"), ("bad", "neg")]
    assert [e.line for e in examples] == [4, 6]


@pytest.mark.parametrize("name", ["data.tsv", "data.tsv.gz"])
def test_byte_order_mark_is_stripped(tmp_path, name):
    path = write(tmp_path / name, "\ufeff" + TSV)
    assert pairs(read_examples(path)) == EXPECTED


def test_tsv_row_with_wrong_field_count_names_the_line(tmp_path):
    path = write(tmp_path / "d.tsv", "label\ttext\npos\tgood\nneg\tbad\textra\n")
    with raises_data_error(
        path, 3, r"expected 2 tab-separated fields \(header: label, text\), found 3"
    ):
        read_examples(path)


def test_tsv_row_with_too_few_fields_names_the_line(tmp_path):
    path = write(tmp_path / "d.tsv", "label\ttext\npos\tgood\n\nno tab here\n")
    with raises_data_error(path, 4, "found 1"):
        read_examples(path)


def test_plain_and_gzip_files_read_the_same(tmp_path):
    content = TSV + "pos\tcafé ☕ naïve 日本語\n"
    plain = read_examples(write(tmp_path / "a.tsv", content))
    packed = read_examples(write(tmp_path / "a.tsv.gz", content))
    assert pairs(plain) == pairs(packed)
    assert [e.line for e in plain] == [e.line for e in packed] == [2, 3, 4]


# --- CSV -----------------------------------------------------------------------------------


def test_csv_reads_quoted_commas_quotes_and_newlines(tmp_path):
    content = (
        "text,label\n"
        '"Funny, warm and wise",pos\n'
        '"He said ""no"" twice",neg\n'
        '"first line\nsecond line",pos\n'
        "plain,neg\n"
    )
    path = write(tmp_path / "d.csv", content)
    examples = read_examples(path)
    assert pairs(examples) == [
        ("Funny, warm and wise", "pos"),
        ('He said "no" twice', "neg"),
        ("first line\nsecond line", "pos"),
        ("plain", "neg"),
    ]
    # A record spanning lines 4-5 is reported at the line where it ends.
    assert [e.line for e in examples] == [2, 3, 5, 6]


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
def test_csv_written_by_the_csv_module_round_trips(tmp_path, name):
    rows = [("a, b", "x"), ('q "q"', "y"), ("multi\nline", "z")]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["label", "text"])
    writer.writerows((label, text) for text, label in rows)
    path = write(tmp_path / name, buffer.getvalue())  # csv's own \r\n line ends
    assert pairs(read_examples(path)) == rows


def test_csv_crlf_inside_a_quoted_field_is_read_as_lf(tmp_path):
    """Lines are split on LF and lose their CR, so a CRLF inside a field becomes LF."""
    path = write(tmp_path / "d.csv", 'label,text\r\nx,"one\r\ntwo"\r\n')
    assert pairs(read_examples(path)) == [("one\ntwo", "x")]


def test_csv_row_with_wrong_field_count_names_the_line(tmp_path):
    path = write(tmp_path / "d.csv", "label,text\nx,good\ny,bad,extra\n")
    with raises_data_error(path, 3, r"expected 2 comma-separated fields.*found 3"):
        read_examples(path)


def test_csv_header_names_are_stripped_and_blank_rows_skipped(tmp_path):
    path = write(tmp_path / "d.csv", " label , text \n\n,\nx,good\n")
    assert pairs(read_examples(path)) == [("good", "x")]


# --- JSON lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz"])
def test_jsonl_reads_objects_with_string_or_number_labels(tmp_path, name):
    lines = [
        {"text": "good", "label": "pos"},
        {"text": "bad", "label": 0, "extra": [1, 2]},
        {"label": 2.5, "text": "  so-so\n  "},
    ]
    path = write(tmp_path / name, "\n".join(json.dumps(x) for x in lines) + "\n\n")
    examples = read_examples(path)
    assert pairs(examples) == [("good", "pos"), ("bad", "0"), ("so-so", "2.5")]
    assert [e.line for e in examples] == [1, 2, 3]


def test_jsonl_invalid_json_names_the_line(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", label}\n')
    with raises_data_error(path, 3, r"invalid JSON: .* \(column \d+\)"):
        read_examples(path)


@pytest.mark.parametrize(("value", "kind"), [("[1, 2]", "list"), ('"text"', "str"), ("3", "int")])
def test_jsonl_line_that_is_not_an_object_names_the_line(tmp_path, value, kind):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n' + value + "\n")
    with raises_data_error(path, 2, f"expected a JSON object, found {kind}"):
        read_examples(path)


def test_jsonl_later_row_without_text_is_an_empty_text_error(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n{"label": "y"}\n')
    with raises_data_error(path, 2, "empty text in column 'text'"):
        read_examples(path)


# --- errors common to every format ---------------------------------------------------------


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "missing.tsv"
    with raises_data_error(path, None, "no such file"):
        read_examples(path)


def test_directory_names_the_path(tmp_path):
    path = tmp_path / "folder.tsv"
    path.mkdir()
    with raises_data_error(path, None, "is a directory"):
        read_examples(path)


@pytest.mark.parametrize("name", ["d.tsv", "d.csv", "d.jsonl", "d.tsv.gz"])
def test_empty_file_names_the_file(tmp_path, name):
    path = write(tmp_path / name, "")
    with raises_data_error(path, None, "no examples"):
        read_examples(path)


@pytest.mark.parametrize(
    ("name", "header"),
    [("d.tsv", "label\ttext\n"), ("d.csv", "label,text\n"), ("d.tsv.gz", "label\ttext\n\n\n")],
)
def test_header_only_file_names_the_file(tmp_path, name, header):
    path = write(tmp_path / name, header)
    with raises_data_error(path, None, "only a header"):
        read_examples(path)


@pytest.mark.parametrize("name", ["d.tsv", "d.tsv.gz", "d.csv", "d.jsonl", "d.txt"])
def test_non_utf8_bytes_name_the_line_and_column(tmp_path, name):
    lines = {
        "tsv": [b"label\ttext", b"pos\tgood", b"neg\tcaf\xe9 au lait"],
        "csv": [b"label,text", b"pos,good", b"neg,caf\xe9 au lait"],
        "jsonl": [
            b'{"text": "a", "label": 1}',
            b'{"text": "b", "label": 1}',
            b'{"text": "caf\xe9", "label": 1}',
        ],
        "txt": [b"first", b"second", b"caf\xe9 au lait"],
    }[name.split(".")[1]]
    path = write(tmp_path / name, b"\n".join(lines) + b"\n")
    column = lines[2].index(b"\xe9") + 1
    with raises_data_error(path, 3, rf"not valid UTF-8 \(byte 0xe9 at column {column}\)"):
        if name.endswith(".txt"):
            read_texts(path)
        else:
            read_examples(path)


def test_non_utf8_error_comes_before_any_rows_are_returned(tmp_path):
    """A file is read whole first: a bad line near the end still fails the whole read."""
    path = write(tmp_path / "d.tsv", ("label\ttext\n" + "pos\tok\n" * 100).encode() + b"x\t\xff\n")
    with raises_data_error(path, 102, "not valid UTF-8"):
        read_examples(path)


def _gzip_payload() -> bytes:
    text = "label\ttext\n" + "".join(f"pos\ttext number {i}\n" for i in range(200))
    return gzip.compress(text.encode(), mtime=0)


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda data: b"this is not gzip data", r"corrupt gzip data after line 0: Not a gzipped"),
        (lambda data: data[: len(data) // 2], r"corrupt gzip data after line \d+: .*ended before"),
        (lambda data: data[:-8] + bytes(8), r"corrupt gzip data after line 201: CRC check failed"),
        (
            lambda data: data[:30] + bytes(b ^ 0xFF for b in data[30:60]) + data[60:],
            r"corrupt gzip data after line \d+",
        ),
    ],
    ids=["not-gzip", "truncated", "bad-crc", "flipped-bytes"],
)
def test_corrupt_gzip_names_the_file_and_the_last_good_line(tmp_path, corrupt, match):
    path = tmp_path / "d.tsv.gz"
    path.write_bytes(corrupt(_gzip_payload()))
    with raises_data_error(path, None, match):
        read_examples(path)


def test_missing_text_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path / "d.tsv", "label\tsentence\tid\npos\tgood\t1\n")
    with raises_data_error(
        path, 2, r"no column 'text' \(columns found: 'label', 'sentence', 'id'\).*text_column"
    ):
        read_examples(path)


def test_missing_label_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path / "d.csv", "text,stars\ngood,5\n")
    with raises_data_error(path, 2, r"no column 'label' \(columns found: 'text', 'stars'\)"):
        read_examples(path)


def test_missing_column_in_jsonl_lists_the_keys_found(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"review": "good", "label": 1}\n')
    with raises_data_error(path, 1, r"no column 'text' \(columns found: 'review', 'label'\)"):
        read_examples(path)


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("d.tsv", "label\ttext\npos\tgood\nneg\t   \n", 3),
        ("d.csv", 'label,text\npos,good\nneg," "\n', 3),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "", "label": 1}\n', 2),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": null, "label": 1}\n', 2),
    ],
)
def test_empty_text_names_the_line(tmp_path, name, content, line):
    path = write(tmp_path / name, content)
    with raises_data_error(path, line, "empty text in column 'text'"):
        read_examples(path)


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("d.tsv", "label\ttext\npos\tgood\n \tbad\n", 3),
        ("d.csv", "label,text\npos,good\n,bad\n", 3),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n', 2),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": null}\n', 2),
    ],
)
def test_row_without_label_names_the_line(tmp_path, name, content, line):
    path = write(tmp_path / name, content)
    with raises_data_error(path, line, "no label in column 'label'"):
        read_examples(path)


def test_unlabelled_reading_ignores_the_label_column(tmp_path):
    path = write(tmp_path / "d.tsv", "text\ngood\nbad\n")
    assert pairs(read_examples(path, label_column=None)) == [("good", None), ("bad", None)]


# --- plain text ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.txt", "t.txt.gz"])
def test_txt_reads_one_stripped_text_per_nonblank_line(tmp_path, name):
    path = write(tmp_path / name, "\ufefffirst text\n\n  second\t\r\n   \nthird")
    examples = read_examples(path, label_column=None)
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("first text", None, 1),
        ("second", None, 3),
        ("third", None, 5),
    ]
    assert read_texts(path) == examples


def test_txt_with_labels_requested_is_an_error(tmp_path):
    path = write(tmp_path / "t.txt", "a text\n")
    with raises_data_error(path, None, "no labels; use .tsv, .csv or .jsonl"):
        read_examples(path)


def test_blank_txt_file_is_an_error(tmp_path):
    path = write(tmp_path / "t.txt", "\n  \n\t\n")
    with raises_data_error(path, None, "no texts"):
        read_texts(path)


def test_iter_lines_numbers_lines_from_one_and_drops_line_ends(tmp_path):
    path = write(tmp_path / "t.txt", "\ufeffa\r\nb\n\nc\u2028d\x85e\rf")
    assert list(iter_lines(path)) == [(1, "a"), (2, "b"), (3, ""), (4, "c\u2028d\x85e\rf")]


# --- round trips on arbitrary Unicode ------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
NO_TABS = TEXT.map(lambda s: re.sub("[\t\n]", " ", s))
LONG_ROW = [("label", "word " * 20_000)]
CONTROLS = [(" x\x00 ", "\x01\x1f\x7f text \x0b\x0c\x1c\x1d\x1e\x85 \u2028 \u00a0")]
ROUND_TRIP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _rows(
    text: st.SearchStrategy[str], *, blank_texts: bool = False
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """1-8 (label, text) rows; labels are never blank, texts only with `blank_texts`."""
    field = text.filter(lambda s: s.strip())
    return st.lists(st.tuples(field, text if blank_texts else field), min_size=1, max_size=8)


@ROUND_TRIP
@given(_rows(NO_TABS))  # TSV has no quoting
@example(LONG_ROW)
@example(CONTROLS)
def test_tsv_round_trip(tmp_path, rows):
    content = "label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows)
    for name in ("r.tsv", "r.tsv.gz"):
        examples = read_examples(write(tmp_path / name, content))
        assert pairs(examples) == [(text.strip(), label.strip()) for label, text in rows]
        assert [e.line for e in examples] == list(range(2, len(rows) + 2))


@ROUND_TRIP
@given(_rows(TEXT.map(lambda s: re.sub("\r+\n", "\n", s))))  # CRLF in fields: see above
@example(LONG_ROW)
@example(CONTROLS)
@example([("a,b", 'say "hi",\n\nbye')])
def test_csv_round_trip(tmp_path, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["label", "text"])
    writer.writerows(rows)
    for name in ("r.csv", "r.csv.gz"):
        examples = read_examples(write(tmp_path / name, buffer.getvalue()))
        assert pairs(examples) == [(text.strip(), label.strip()) for label, text in rows]


@ROUND_TRIP
@given(_rows(TEXT), st.booleans())
@example(LONG_ROW, False)
@example(CONTROLS, True)
def test_jsonl_round_trip(tmp_path, rows, ensure_ascii):
    content = "".join(
        json.dumps({"label": label, "text": text}, ensure_ascii=ensure_ascii) + "\n"
        for label, text in rows
    )
    for name in ("r.jsonl", "r.jsonl.gz"):
        examples = read_examples(write(tmp_path / name, content))
        assert pairs(examples) == [(text.strip(), label.strip()) for label, text in rows]
        assert [e.line for e in examples] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
@ROUND_TRIP
@given(rows=_rows(NO_TABS, blank_texts=True))
@example(rows=[("a", "ok"), ("b", ""), ("c", " \x1c\u3000")])
def test_first_blank_text_is_reported_at_its_line(tmp_path, fmt, rows):
    if fmt == "tsv":
        content = "label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows)
        first_line = 2
    else:
        content = "".join(json.dumps({"label": lb, "text": tx}) + "\n" for lb, tx in rows)
        first_line = 1
    path = write(tmp_path / f"r.{fmt}", content)
    blank = [first_line + i for i, (_, text) in enumerate(rows) if not text.strip()]
    if blank:
        with raises_data_error(path, blank[0], "empty text in column 'text'"):
            read_examples(path)
    else:
        assert [e.text for e in read_examples(path)] == [text.strip() for _, text in rows]
