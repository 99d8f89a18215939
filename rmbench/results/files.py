"""The run directory: ``items.jsonl`` (append-only source of truth), ``run.json``, ``summary.json``, ``report.md``.

* ``run.json`` is written when a run starts: the configuration that determines every item's result.
  A resumed run must match it, or it is refused (results from two configurations never mix).
* ``items.jsonl`` gets one line per item as soon as it is scored (flushed and fsynced per batch).
  A torn last line from a killed process is detected and dropped on resume.
* ``summary.json`` and ``report.md`` are written atomically (temp file + rename) at the end and can be
  regenerated from the items at any time (``rmbench report``). Files get the usual ``0666 & ~umask`` mode.

Guarantees and their tests: ``docs/reliability.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never half: a
    temporary file beside it, flushed to disk, then renamed over it; errors name the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise naming_path(exc, path) from None
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp creates 0600; a normal file respects the umask
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise naming_path(exc, path) from None
        raise


def _current_umask() -> int:
    """The process umask (read by setting it and restoring it at once: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    line_of: dict[str, int] = field(default_factory=dict)  # id -> 1-based line of the line that counts


def read_items(path: Path, *, repair: bool = False) -> ExistingItems:
    """Read ``items.jsonl``.

    * A torn final line (a process killed mid-write) is dropped; with ``repair`` it is cut off.
    * A complete final line without its newline is kept; with ``repair`` the newline is added, so the
      next append starts on a line of its own.
    * Any other malformed line is a :class:`RecordError` naming the file, line and field.
    * An id seen again with the same ``example_hash`` replaces the earlier line (a re-scored item);
      with a different ``example_hash`` it is refused (two contents under one id).
    """
    items: dict[str, ItemResult] = {}
    line_of: dict[str, int] = {}
    if not path.exists():
        return ExistingItems(items, False, line_of)
    if not path.is_file():  # a device (/dev/full gives zeros forever) or a folder is no items file
        raise UserError(f"{path}: not a regular file", hint="--out must be a run directory of its own")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    dropped = False
    good_bytes = 0
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            good_bytes += len(line) + 1
            continue
        try:
            item = item_from_line(line)
        except ValueError as exc:
            if all(not rest.strip() for rest in lines[i:]) and not isinstance(exc, _BadItem):
                dropped = True
                break
            raise RecordError(str(path), i, f"corrupt item line ({exc})", field=getattr(exc, "field", None),
                              hint=_FIX_LINE) from None
        old = items.get(item.id)
        if old is not None and old.example_hash != item.example_hash:
            raise RecordError(
                str(path), i, f"item '{item.id}' was already recorded at line {line_of[item.id]} with "
                f"example_hash {old.example_hash}, here {item.example_hash}", field="example_hash",
                hint="two contents under one id: the file was edited or mixes runs; use a new --out directory",
            )
        items[item.id] = item  # a later line for the same id wins (re-scored items)
        line_of[item.id] = i
        good_bytes += len(line) + 1
    if repair and raw:
        _repair_tail(path, raw, good_bytes if dropped else None)
    return ExistingItems(items, dropped, line_of)


def _repair_tail(path: Path, raw: bytes, keep: int | None) -> None:
    """Cut a torn last line (``keep`` bytes stay) or end a complete last line with its newline."""
    with path.open("r+b") as f:
        if keep is not None:
            f.truncate(min(keep, len(raw)))
            f.flush()
            os.fsync(f.fileno())
            return
        if not raw.endswith(b"\n"):
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())


class _BadItem(ValueError):
    """A complete JSON line that is not an item (never a torn write: a torn line is not valid JSON)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


_ITEM_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "subset": str, "cluster": str, "example_hash": str, "metrics": dict, "scores": dict,
    "ties": int, "invalid": int, "baselines": dict, "extra": dict, "identity": str,
}


def item_from_line(line: bytes | str) -> ItemResult:
    """One ``items.jsonl`` line as an :class:`ItemResult`.

    Raises ``ValueError`` for text that is not JSON (a torn write) and :class:`_BadItem` (a
    ``ValueError``) for JSON that is not an item: not an object, a missing or mistyped field, a metric
    that is not a number. Unknown extra fields are ignored (newer writers may add some).
    """
    try:
        d = json.loads(line)
    except RecursionError:
        raise _BadItem("nested too deeply") from None
    if not isinstance(d, dict):
        raise _BadItem(f"expected a JSON object, got {type(d).__name__}")
    for key in ("id", "subset", "cluster", "example_hash", "metrics", "scores"):
        if key not in d:
            raise _BadItem("missing", field=key)
    for key, typ in _ITEM_FIELD_TYPES.items():
        if key in d and (not isinstance(d[key], typ) or isinstance(d[key], bool) and typ is int):
            raise _BadItem(f"expected {getattr(typ, '__name__', typ)}, got {type(d[key]).__name__}", field=key)
    if not d["id"]:
        raise _BadItem("empty", field="id")
    for name, value in d["metrics"].items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _BadItem(f"metric '{name}' is {type(value).__name__}, expected a number or null", field="metrics")
    return ItemResult.from_dict(d)


class ItemWriter:
    """Append item lines; each :meth:`write_many` call is flushed and fsynced before returning."""

    def __init__(self, path: Path, identity: str = "") -> None:
        """``identity`` (the run's identity hash, :mod:`rmbench.results.identity`) is stamped on every line.
        The file is repaired first (torn tail cut, missing final newline added), so an append never
        glues a new line onto an old one."""
        self.path = path
        self.identity = identity
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file():  # repair a torn or unterminated last line before appending
                read_items(path, repair=True)
            self._f: IO[str] = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise naming_path(exc, path) from None

    def write_many(self, items: Iterable[ItemResult]) -> None:
        """Append and fsync; an ``OSError`` (disk full, ...) names the file. Lines written by earlier calls
        are untouched; a line cut short here is dropped and rescored on resume (:func:`read_items`)."""
        try:
            for item in items:
                d = item.to_dict()
                if self.identity:
                    d["identity"] = self.identity
                self._f.write(json.dumps(d, ensure_ascii=False) + "\n")
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
