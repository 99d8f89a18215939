"""The run directory: ``items.jsonl`` (append-only source of truth), ``run.json``, ``summary.json``, ``report.md``.

* ``run.json`` is written when a run starts: the configuration that determines every item's result.
  A resumed run must match it, or it is refused (results from two configurations never mix).
* ``items.jsonl`` gets one line per item as soon as it is scored (flushed and fsynced per batch).
  A torn last line from a killed process is detected and dropped on resume.
* ``summary.json`` and ``report.md`` are written atomically (temp file + rename) at the end and can be
  regenerated from the items at any time (``rmbench report``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rmbench.datatypes import ItemResult
from rmbench.errors import RecordError, UserError

ITEMS_FILE = "items.jsonl"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new file, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise naming_path(exc, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise naming_path(exc, path) from None
        raise


def naming_path(exc: OSError, path: Path) -> OSError:
    """The same error (errno, reason, hence type: ``PermissionError``, ...) naming ``path``: the file the
    user asked for, not a temporary file next to it, and a path even where the OS gives none (a failed
    write or flush on a full disk)."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise RecordError(str(path), exc.lineno, f"invalid JSON ({exc.msg})") from None


_FIX_LINE = "items.jsonl holds only lines rmbench wrote: fix or delete that line (a deleted item is rescored on resume)"


@dataclass(frozen=True)
class ExistingItems:
    items: dict[str, ItemResult]
    dropped_partial_line: bool


def read_items(path: Path, *, repair: bool = False) -> ExistingItems:
    """Read ``items.jsonl``; a torn final line (killed mid-write) is dropped, and with ``repair`` cut off."""
    items: dict[str, ItemResult] = {}
    if not path.exists():
        return ExistingItems(items, False)
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    dropped = False
    good_bytes = 0
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            good_bytes += len(line) + 1
            continue
        try:
            d = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for a line cut inside a character
            is_last = all(not rest.strip() for rest in lines[i:])
            if is_last:  # only a line that is not even JSON can be a torn write
                dropped = True
                break
            raise RecordError(str(path), i, f"corrupt item line ({exc})") from None
        if not isinstance(d, dict):
            raise RecordError(
                str(path), i, f"corrupt item line (expected a JSON object, got {type(d).__name__})", hint=_FIX_LINE
            )
        try:
            item = ItemResult.from_dict(d)
        except TypeError as exc:
            raise RecordError(str(path), i, f"corrupt item line ({exc})", hint=_FIX_LINE) from None
        items[item.id] = item  # a later line for the same id wins (re-scored items)
        good_bytes += len(line) + 1
    if dropped and repair:
        with path.open("r+b") as f:
            f.truncate(min(good_bytes, len(raw)))
    return ExistingItems(items, dropped)


class ItemWriter:
    """Append item lines; each :meth:`write_many` call is flushed and fsynced before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._f: IO[str] = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise naming_path(exc, path) from None

    def write_many(self, items: Iterable[ItemResult]) -> None:
        """Append and fsync; an ``OSError`` (disk full, ...) names the file. Lines written by earlier calls
        are untouched; a line cut short here is dropped and rescored on resume (:func:`read_items`)."""
        try:
            for item in items:
                self._f.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())
        except OSError as exc:
            raise naming_path(exc, self.path) from None

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as exc:
            raise naming_path(exc, self.path) from None

    def __enter__(self) -> ItemWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(OSError):  # already failing: closing may fail again on a full disk
            self._f.close()


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[ItemResult]]:
    """``run.json`` and the items of a finished or partial run, in the order they were written."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run directory not found")
    run = read_json(run_dir / RUN_FILE)
    items = list(read_items(run_dir / ITEMS_FILE).items.values())
    return run, items
