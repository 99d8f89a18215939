"""Read a task's upstream records, from a local mirror or from the Hugging Face Hub.

This is the only module that imports ``datasets``. Local files are read here directly (json, jsonl,
csv with the standard library; parquet with pyarrow) so that a malformed record is reported with its
file and line; Hub datasets go through ``datasets.load_dataset`` with a pinned revision. json, jsonl
and csv files may be compressed (``.gz``, ``.zst``) and in any text encoding (:mod:`rmbench.data.files`).

Which source is used:

* ``--data-dir`` / ``RMBENCH_DATA_DIR`` set and the task has ``source.local`` -> local files;
* otherwise ``source.hub`` -> the Hub (fails fast and clearly when offline);
* ``source.bundled`` -> samples shipped inside the package (used by the embedded default).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmbench.data.files import compression, format_suffix, open_text
from rmbench.data.task import HubSource, LocalSource, TaskSpec
from rmbench.errors import RecordError, UserError

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"


@dataclass(frozen=True)
class Record:
    """One upstream record and where it came from (1-based line for jsonl/csv, record index for json)."""

    data: Mapping[str, Any]
    file: str
    line: int
    subset: str | None


@dataclass(frozen=True)
class SourceInfo:
    """What was read, for the run summary."""

    kind: str  # "local" | "hub" | "bundled"
    location: str
    files: dict[str, str]  # file or dataset id -> sha256 (first 16) or revision

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "files": self.files}


def resolve_data_dir(cli_value: Path | None) -> Path | None:
    value = cli_value or (Path(os.environ["RMBENCH_DATA_DIR"]) if os.environ.get("RMBENCH_DATA_DIR") else None)
    if value is not None and not value.is_dir():
        raise UserError(f"data directory {value} does not exist", hint="pass --data-dir or set RMBENCH_DATA_DIR")
    return value


def choose_source(spec: TaskSpec, data_dir: Path | None, use_bundled: bool = False) -> tuple[str, Any]:
    """Pick the source kind for this run; raise a clear error when none applies."""
    src = spec.source
    if use_bundled:
        if src.bundled is None:
            raise UserError(f"task '{spec.name}' has no bundled sample", hint="pass --data-dir with the upstream files")
        return "bundled", src.bundled
    if src.local is not None and (data_dir is not None or _all_absolute(src.local)):
        return "local", src.local
    if src.hub is not None:
        return "hub", src.hub
    if src.local is not None:
        raise UserError(
            f"task '{spec.name}' reads local files but no data directory is set",
            hint="pass --data-dir DIR or set RMBENCH_DATA_DIR to the folder holding the upstream files",
        )
    if src.bundled is not None:
        return "bundled", src.bundled
    raise UserError(
        f"task '{spec.name}' declares no source",
        hint="give it a data file (source.local.files) or a Hub dataset (source.hub)",
    )


def _all_absolute(local: LocalSource) -> bool:
    files = local.files if isinstance(local.files, list) else [
        f for v in local.files.values() for f in (v if isinstance(v, list) else [v])
    ]
    return bool(files) and all(Path(f).is_absolute() for f in files)


def read_records(
    spec: TaskSpec, data_dir: Path | None, use_bundled: bool = False
) -> tuple[Iterator[Record], SourceInfo]:
    kind, source = choose_source(spec, data_dir, use_bundled)
    if kind == "hub":
        return _hub_records(source), SourceInfo("hub", source.path, {source.path: source.revision})
    root = SAMPLES_DIR if kind == "bundled" else (data_dir or Path("/"))
    files = _local_files(source, root)
    info = SourceInfo(kind, _location(root, files), {rel: _file_hash(path) for _, rel, path in files})
    return _local_records(files, source.format, source.encoding), info


def _location(root: Path, files: list[tuple[str | None, str, Path]]) -> str:
    """What the report shows as the source: the data directory, or the files themselves when they were
    given as absolute paths (``--data-file``), which no directory describes."""
    if files and all(Path(rel).is_absolute() for _, rel, _ in files):
        return ", ".join(dict.fromkeys(str(path) for _, _, path in files))
    return str(root)


def _local_files(source: LocalSource, root: Path) -> list[tuple[str | None, str, Path]]:
    entries: list[tuple[str | None, str]] = []
    if isinstance(source.files, list):
        entries = [(None, f) for f in source.files]
    else:
        for subset, rel in source.files.items():
            entries += [(subset, r) for r in (rel if isinstance(rel, list) else [rel])]
    out = []
    for subset, rel in entries:
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if not path.is_file():
            raise UserError(f"{path}: data file not found", hint=f"is the data directory ({root}) the right one?")
        out.append((subset, rel, path))
    return out


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _infer_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = format_suffix(path).lstrip(".")
    if suffix in {"json", "jsonl", "csv", "parquet"}:
        return suffix
    if suffix in {"tsv"}:
        return "csv"
    raise UserError(
        f"{path}: cannot tell the file format from its suffix",
        hint="use .json, .jsonl, .csv or .parquet (json, jsonl and csv may end in .gz or .zst)",
    )


def read_file_records(path: Path, fmt: str | None = None, encoding: str | None = None) -> Iterator[tuple[int, Mapping]]:
    """``(line, record)`` for every record of one local file; anything malformed is a :class:`RecordError`
    (or :class:`UserError` for the file as a whole) naming the file, never another exception."""
    fmt = _infer_format(path, fmt)
    if fmt == "parquet" and compression(path):
        raise UserError(f"{path}: a parquet file cannot be read compressed", hint="parquet compresses internally: "
                        "decompress the file (gunzip / zstd -d) and read the .parquet")
    n = 0
    for line, data in _READERS[fmt](path, encoding):
        if not isinstance(data, Mapping):
            raise RecordError(str(path), line, f"expected an object/row, got {type(data).__name__}")
        n += 1
        yield line, data
    if n == 0:
        raise UserError(f"{path}: file holds no records")


def _local_records(
    files: list[tuple[str | None, str, Path]], declared: str | None, encoding: str | None = None
) -> Iterator[Record]:
    for subset, _rel, path in files:
        for line, data in read_file_records(path, declared, encoding):
            yield Record(data, str(path), line, subset)


def _json_loads(text: str, path: Path, line: int | None) -> Any:
    """``json.loads`` whose every failure names the place: invalid JSON, absurd nesting, huge numbers."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise RecordError(str(path), line, "invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise RecordError(str(path), line, f"invalid JSON ({exc})") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise RecordError(str(path), line, "invalid text: an unpaired surrogate escape (\\ud800-\\udfff) is not a character",
                          hint="the file was written by a program that split a character in two; fix it at the source")
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string in a parsed JSON value holds a lone surrogate (no file encoding can write it)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _LONE_SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _read_jsonl(path: Path, encoding: str | None = None) -> Iterator[tuple[int, Any]]:
    with open_text(path, encoding) as f:
        yield from _jsonl_lines(f, path)


def _jsonl_lines(lines: Iterable[str], path: Path) -> Iterator[tuple[int, Any]]:
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield i, _json_loads(raw, path, i)
        except json.JSONDecodeError as exc:
            raise RecordError(str(path), i, f"invalid JSON ({exc.msg} at column {exc.colno})") from None


def _read_json(path: Path, encoding: str | None = None) -> Iterator[tuple[int, Any]]:
    with open_text(path, encoding) as f:
        text = f.read()
    try:
        data = _json_loads(text, path, None)
    except json.JSONDecodeError as exc:
        if exc.lineno > 1 or text.lstrip().startswith("{") and "\n{" in text:
            # Probably JSON lines saved with a .json suffix.
            yield from _jsonl_lines(io.StringIO(text), path)
            return
        raise RecordError(str(path), exc.lineno, f"invalid JSON ({exc.msg})") from None
    if isinstance(data, dict):
        # {"data": [...]} or {id: record} layouts
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(x, dict) for x in lists[0]):
            data = lists[0]
        else:
            data = [dict(v, id=v.get("id", k)) if isinstance(v, dict) else v for k, v in data.items()]
    if not isinstance(data, list):
        raise RecordError(str(path), None, "expected a JSON list of records")
    # Line numbers for a JSON array: the record's 0-based index + 1 ("record N").
    yield from enumerate(data, start=1)


def _read_csv(path: Path, encoding: str | None = None) -> Iterator[tuple[int, Any]]:
    delimiter = "\t" if format_suffix(path) == ".tsv" else ","
    with open_text(path, encoding, newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise RecordError(str(path), reader.line_num, f"invalid CSV ({exc})") from None


def _read_parquet(path: Path, encoding: str | None = None) -> Iterator[tuple[int, Any]]:
    # pyarrow's to_pylist gives plain Python values (lists, dicts, None) as json and the Hub do;
    # pandas would give numpy arrays for list columns and NaN for missing values.
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several exception types for unreadable files
        raise RecordError(str(path), None, f"cannot read parquet file ({exc})") from None
    yield from enumerate(table.to_pylist(), start=1)


_READERS = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv, "parquet": _read_parquet}


def _hub_records(hub: HubSource) -> Iterator[Record]:
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        raise UserError("the 'datasets' package is needed to read Hub datasets") from None
    jobs = (
        [(label, cfg.get("name", hub.name), cfg.get("split", hub.split)) for label, cfg in hub.subsets.items()]
        if hub.subsets
        else [(None, hub.name, hub.split)]
    )
    for label, name, split in jobs:
        where = f"hf://datasets/{hub.path}@{hub.revision}" + (f" ({name})" if name else "") + f" [{split}]"
        try:
            ds = datasets.load_dataset(hub.path, name, split=split, revision=hub.revision)
        except Exception as exc:  # network, auth, missing revision: all user-facing
            offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
            raise UserError(
                f"cannot load {where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                hint=(
                    "the Hub is switched off (HF_HUB_OFFLINE=1); " if offline else "the Hub may be unreachable; "
                )
                + "pass --data-dir with a local mirror of the upstream files",
            ) from None
        for i, row in enumerate(ds, start=1):
            yield Record(row, where, i, label)
