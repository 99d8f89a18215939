"""Local data files that are not plain UTF-8 (issue 10 item 11, issue 11 item 4): byte-order marks
(Excel's UTF-8 BOM in a CSV header, UTF-16), latin-1, gzip and zstd compression, and the report naming
the file a ``--data-file`` run read. Real files written in each form, read by the real loaders and CLI.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.data.sources import read_file_records
from rmbench.data.task import parse_task_file
from rmbench.errors import RecordError, UserError

ROWS = [
    {"prompt": "Qu'est-ce qu'un café?", "chosen": "Une boisson chaude à base de grains torréfiés.", "rejected": "Non."},
    {"prompt": "Größe?", "chosen": "Die Größe ist 3 Meter, gemessen am Boden.", "rejected": "3"},
    {"prompt": "Año?", "chosen": "El año tiene doce meses.", "rejected": "12"},
]


def _csv_text(rows: list[dict[str, str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n", delimiter=delimiter)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _jsonl_text(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _records(path: Path, **kw: str) -> list[dict[str, str]]:
    return [dict(r) for _, r in read_file_records(path, **kw)]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


PAIRS = ("run", "--task", "pairs", "--model", "baseline:length", "--kind", "baseline", "--quiet", "--n-bootstrap", "100")

# ------------------------------------------------------------------------------------ encodings


def test_excel_csv_with_a_utf8_bom_in_the_header(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with EF BB BF; the first column used to be read as '\\ufeffprompt'."""
    path = tmp_path / "excel.csv"
    path.write_bytes(_csv_text(ROWS).encode("utf-8-sig"))
    assert _records(path) == ROWS
    out = tmp_path / "run"
    result = _cli(*PAIRS, "--data-file", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["data"]["n_items"] == 3


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_files_with_a_utf16_or_utf32_bom(tmp_path: Path, encoding: str) -> None:
    import codecs

    bom = {"utf-16": b"", "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": b""}[encoding]  # utf-16/32 write their own
    for name, text in (("d.jsonl", _jsonl_text(ROWS)), ("d.csv", _csv_text(ROWS)), ("d.json", json.dumps(ROWS))):
        path = tmp_path / name
        path.write_bytes(bom + text.encode(encoding))
        assert _records(path) == ROWS, (encoding, name)


def test_latin1_file_is_a_clear_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(_jsonl_text(ROWS).encode("latin-1"))
    with pytest.raises(RecordError) as info:
        _records(path)
    err = info.value
    assert (err.file, err.line) == (str(path), 1)  # "café" on line 1
    assert "not valid UTF-8 text (bytes e9" in str(err) and "source.local.encoding=latin-1" in str(err)
    # the same through the CLI: one line, exit 2
    result = _cli(*PAIRS, "--data-file", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}:1: not valid UTF-8 text" in " ".join(result.stderr.split())


def test_latin1_error_names_the_right_line_deep_in_a_file(tmp_path: Path) -> None:
    ascii_rows = [{"prompt": f"q{i}", "chosen": "a" * 200, "rejected": "b"} for i in range(500)]
    path = tmp_path / "big.csv"
    path.write_bytes(_csv_text([*ascii_rows, ROWS[1]]).encode("latin-1"))  # 'Größe' on line 502
    with pytest.raises(RecordError) as info:
        _records(path)
    assert info.value.line == 502


def test_declared_encoding_reads_latin1(tmp_path: Path) -> None:
    path = tmp_path / "prefs.csv"
    path.write_bytes(_csv_text(ROWS).encode("latin-1"))
    assert _records(path, encoding="latin-1") == ROWS
    out = tmp_path / "run"
    result = _cli(*PAIRS, "--data-file", str(path), "--set", "source.local.encoding=latin-1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["data"]["n_items"] == 3


def test_unknown_encoding_is_refused_at_load(tmp_path: Path) -> None:
    task = Path(__file__).resolve().parents[1] / "tasks" / "pairs.yaml"
    with pytest.raises(UserError, match="unknown text encoding 'latin-9000'"):
        parse_task_file(task, overrides={"source": {"local": {"files": ["/x.csv"], "encoding": "latin-9000"}}})


def test_utf16_without_a_bom_is_named(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(_jsonl_text(ROWS).encode("utf-16-le"))
    with pytest.raises(RecordError, match="NUL bytes: UTF-16 without a byte-order mark"):
        _records(path)
    assert _records(path, encoding="utf-16-le") == ROWS


def test_unpaired_surrogate_escape_is_a_record_error(tmp_path: Path) -> None:
    """``"\\ud800"`` is valid JSON but not text: it used to crash later when hashed (UnicodeEncodeError)."""
    path = tmp_path / "prefs.jsonl"
    path.write_text(_jsonl_text(ROWS[:1]) + '{"prompt": "q\\ud800", "chosen": "a", "rejected": "b"}\n')
    with pytest.raises(RecordError, match="unpaired surrogate") as info:
        _records(path)
    assert info.value.line == 2
    result = _cli(*PAIRS, "--data-file", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and f"{path}:2: invalid text" in " ".join(result.stderr.split())
    paired = tmp_path / "ok.json"
    paired.write_text('[{"prompt": "\\ud83d\\ude00", "chosen": "a", "rejected": "b"}]')  # an escaped pair is fine
    assert _records(paired)[0]["prompt"] == "\U0001f600"


# ----------------------------------------------------------------------------------- compression


@pytest.mark.parametrize("name", ["d.jsonl.gz", "d.json.gz", "d.csv.gz", "d.tsv.gz"])
def test_gzip_files(tmp_path: Path, name: str) -> None:
    text = {".jsonl": _jsonl_text(ROWS), ".json": json.dumps(ROWS), ".csv": _csv_text(ROWS),
            ".tsv": _csv_text(ROWS, delimiter="\t")}[Path(name).suffixes[0]]
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    assert _records(path) == ROWS


def test_gzip_data_file_through_the_cli_and_the_report_names_it(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_text(ROWS).encode("utf-8")))
    out = tmp_path / "run"
    result = _cli(*PAIRS, "--data-file", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["source"]["location"] == str(path)
    assert f"- items: 3 from local source `{path}`" in (out / "report.md").read_text()
    # the terminal view says it too
    shown = _cli("report", str(out))
    assert f"3 items from local source {path}" in " ".join(shown.stdout.split())


def test_several_data_files_are_all_named(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(_jsonl_text(ROWS[:2]))
    b.write_text(_jsonl_text(ROWS[2:]))
    out = tmp_path / "run"
    result = _cli(*PAIRS, "--data-file", str(a), "--data-file", str(b), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["data"]["source"]["location"] == f"{a}, {b}"


def test_data_dir_runs_still_name_the_directory(data_dir: Path, tmp_path: Path) -> None:
    from rmbench.runner import RunConfig, run

    outcome = run(RunConfig.from_flat(task="llmbar", model="baseline:length", kind="baseline", limit=1, data_dir=data_dir,
                            out_dir=tmp_path / "r", n_bootstrap=50))
    assert outcome.summary["data"]["source"]["location"] == str(data_dir)


def test_gzip_content_under_a_plain_name_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(gzip.compress(_jsonl_text(ROWS).encode("utf-8")))
    assert _records(path) == ROWS


def test_truncated_gzip_is_a_record_error(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_text(ROWS * 50).encode("utf-8"))[:-40])
    with pytest.raises(RecordError, match="cannot decompress the gzip file"):
        _records(path)


def test_not_gzip_but_named_gz(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl.gz"
    path.write_text(_jsonl_text(ROWS))
    with pytest.raises(RecordError, match="cannot decompress the gzip file"):
        _records(path)


def test_zstd_files(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard", reason="optional: pip install zstandard")
    path = tmp_path / "prefs.csv.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(_csv_text(ROWS).encode("utf-8")))
    assert _records(path) == ROWS


def test_zstd_without_the_package_gives_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``zstandard`` is installed, its absence is simulated by hiding the module (a stand-in for an
    environment without it); where it is not installed, this is the real situation."""
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard -> ImportError
    path = tmp_path / "prefs.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 16)
    with pytest.raises(UserError, match="needs the optional 'zstandard' package") as info:
        _records(path)
    assert "pip install zstandard" in str(info.value)


def test_compressed_parquet_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet.gz"
    path.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(UserError, match="a parquet file cannot be read compressed"):
        _records(path)
