"""Property-based tests (hypothesis) of the local data loaders and the items reader.

Whatever bytes a data file holds, :func:`rmbench.data.sources.read_file_records` either yields records
(mappings of text that UTF-8 can encode) or raises :class:`~rmbench.errors.UserError` / :class:`~rmbench.errors.RecordError`, the
errors the CLI prints as one line with exit code 2; never another exception (a traceback). And what a
well-formed file holds comes back unchanged in every encoding and compression rmbench reads.
:func:`rmbench.results.files.read_items` keeps the same promise for a run's items.jsonl.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rmbench.data.sources import read_file_records
from rmbench.errors import UserError
from rmbench.results.files import read_items

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["jsonl", "json", "csv", "tsv"]

# Text without lone surrogates (which no file encoding can hold).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
KEYS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)
RECORDS = st.lists(st.dictionaries(KEYS, JSON_VALUES, min_size=1, max_size=4), min_size=1, max_size=5)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "utf-32"])
COMPRESS = st.sampled_from(["", ".gz"])


def _read_all(payload: bytes, name: str, **kw: Any) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(payload)
        return [dict(r) for _, r in read_file_records(path, **kw)]


def _only_user_errors(payload: bytes, name: str) -> None:
    try:
        records = _read_all(payload, name)
    except UserError:
        return
    assert records and all(isinstance(r, dict) for r in records)
    for r in records:  # every record is text a file can hold: ids and prompts are hashed and written later
        json.dumps(r, ensure_ascii=False).encode("utf-8")


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


def _compress(payload: bytes, suffix: str) -> bytes:
    return gzip.compress(payload) if suffix == ".gz" else payload


# --------------------------------------------------------------------- anything: only UserError


@SETTINGS
@given(payload=st.binary(max_size=400), fmt=st.sampled_from(FORMATS), suffix=COMPRESS)
@example(payload=b"[" * 100_000, fmt="json", suffix="")
@example(payload=b"1" * 5000 + b"\n", fmt="jsonl", suffix="")
@example(payload=b"\x1f\x8b\x08\x00" + b"\x00" * 20, fmt="jsonl", suffix="")
@example(payload=b"\xff\xfe\x00", fmt="csv", suffix="")
@example(payload=b"\x28\xb5\x2f\xfd\x00", fmt="json", suffix="")
@example(payload=b'a\n"' + b"x" * 200_000, fmt="csv", suffix="")
def test_arbitrary_bytes_give_records_or_a_user_error(payload: bytes, fmt: str, suffix: str) -> None:
    _only_user_errors(_compress(payload, suffix), f"data.{fmt}{suffix}")


@SETTINGS
@given(text=st.text(max_size=300), fmt=st.sampled_from(FORMATS), encoding=ENCODINGS)
def test_arbitrary_text_gives_records_or_a_user_error(text: str, fmt: str, encoding: str) -> None:
    try:
        payload = _encode(text, encoding)
    except UnicodeEncodeError:  # lone surrogates: not text any file can hold
        return
    _only_user_errors(payload, f"data.{fmt}")


def _mangle(text: str, cut: int, insert: str) -> str:
    at = cut % (len(text) + 1)
    return text[:at] + insert + text[at:]


@SETTINGS
@given(records=RECORDS, fmt=st.sampled_from(["jsonl", "json"]), cut=st.integers(0, 10_000),
       insert=st.sampled_from(["", "\n", "}", "[", ",", '"', "\x00", "\\", "\ufeff", "\n[1, 2]\n", '\n"x"\n',
                               "\\ud800", "\\udfff\\ud800"]))
def test_almost_valid_json_gives_records_or_a_user_error(records: list[dict], fmt: str, cut: int, insert: str) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records) if fmt == "jsonl" else json.dumps(records)
    _only_user_errors(_mangle(text, cut, insert).encode("utf-8"), f"data.{fmt}")


# ----------------------------------------------------------------------- well-formed: round trip


@SETTINGS
@given(records=RECORDS, encoding=ENCODINGS, suffix=COMPRESS, fmt=st.sampled_from(["jsonl", "json"]))
def test_json_records_round_trip(records: list[dict], encoding: str, suffix: str, fmt: str) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) if fmt == "jsonl" else json.dumps(records)
    got = _read_all(_compress(_encode(text, encoding), suffix), f"data.{fmt}{suffix}")
    assert got == records


def _csv_text(rows: list[dict[str, str]], header: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


CSV_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)


@st.composite
def csv_tables(draw: Callable[..., Any]) -> tuple[list[str], list[dict[str, str]]]:
    header = draw(st.lists(CSV_TEXT.filter(lambda s: s.strip() and s.strip() == s), min_size=1, max_size=4,
                           unique=True))
    rows = draw(st.lists(st.fixed_dictionaries({h: CSV_TEXT for h in header}), min_size=1, max_size=5))
    # a row whose only cell is empty is written as an empty line, which CSV readers skip by design
    rows = [r for r in rows if any(v for v in r.values()) or len(header) > 1]
    return header, rows or [{h: "x" for h in header}]


@SETTINGS
@given(table=csv_tables(), encoding=ENCODINGS, suffix=COMPRESS, tsv=st.booleans())
def test_csv_rows_round_trip(table: tuple[list[str], list[dict[str, str]]], encoding: str, suffix: str,
                             tsv: bool) -> None:
    header, rows = table
    text = _csv_text(rows, header, "\t" if tsv else ",")
    name = f"data.{'tsv' if tsv else 'csv'}{suffix}"
    assert _read_all(_compress(_encode(text, encoding), suffix), name) == rows


@SETTINGS
@given(table=csv_tables())
def test_latin1_csv_reads_with_the_declared_encoding(table: tuple[list[str], list[dict[str, str]]]) -> None:
    header, rows = table
    try:
        payload = _csv_text(rows, header, ",").encode("latin-1")
    except UnicodeEncodeError:
        return
    assert _read_all(payload, "data.csv", encoding="latin-1") == rows


# ------------------------------------------------------------------------------------- items.jsonl


@SETTINGS
@given(payload=st.binary(max_size=300), lines=st.lists(st.sampled_from(
    ["[1, 2]", '"x"', "null", "{}", '{"id": 1}', "{", ""]), max_size=3))
def test_items_reader_gives_items_or_a_user_error(payload: bytes, lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.jsonl"
        path.write_bytes(payload + "\n".join(lines).encode())
        with contextlib.suppress(UserError):
            read_items(path, repair=True)
