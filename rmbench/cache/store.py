"""The score cache on disk: one SQLite file, ``scores.sqlite``, in the cache folder.

Why SQLite: several runs (processes) may read and write at once. The file is in WAL mode (readers never
block the writer), every write is one short ``BEGIN IMMEDIATE`` transaction, and a busy timeout makes a
second writer wait instead of failing. A crash mid-write leaves the last committed state.

Tables: ``scores`` (entry key -> the serialised prediction, its size and last access time),
``settings`` (settings key -> the model and kind it was written for, and the key's parts, for
``rmbench cache info`` and ``prune --model``), ``descriptions`` (the loaded model's description, so a run
whose every score is cached writes its run.json without loading the model) and ``file_digests``
(sha256 of model files by path, size and modification time, so a large model is hashed once).

The size bound counts the bytes of keys and values; eviction removes the least recently used entries
(:meth:`ScoreStore.evict_to`). Every method may raise :class:`sqlite3.Error` or :class:`OSError`: the
caller (:mod:`rmbench.cache.lookup`) turns them into a warning and runs without the cache.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DB_FILE = "scores.sqlite"
BUSY_TIMEOUT_S = 60.0
_ROW_OVERHEAD = 64  # bytes per entry besides key and value (index entries, timestamps), for the bound
_BATCH = 500  # keys per IN (...) query, below SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, settings TEXT NOT NULL, value TEXT NOT NULL, size INTEGER NOT NULL,
    created REAL NOT NULL, accessed REAL NOT NULL);
CREATE INDEX IF NOT EXISTS scores_accessed ON scores(accessed);
CREATE INDEX IF NOT EXISTS scores_settings ON scores(settings);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, kind TEXT NOT NULL, parts TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS descriptions (
    key TEXT PRIMARY KEY, settings TEXT NOT NULL, description TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
"""


class ScoreStore:
    """One connection to the cache file in ``folder`` (created on first use)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / DB_FILE
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
            if self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("the cache file cannot use write-ahead logging")
            self._db.execute("PRAGMA synchronous = NORMAL")
            with self._write() as db:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``IMMEDIATE``) so concurrent writers queue on the busy timeout."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------------------- entries
    def existing(self, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` the cache holds."""
        found: set[str] = set()
        for batch in _batches(keys):
            marks = ",".join("?" * len(batch))
            found.update(r[0] for r in self._db.execute(f"SELECT key FROM scores WHERE key IN ({marks})", batch))
        return found

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> stored value for the keys present; their access time is set to now."""
        out: dict[str, str] = {}
        for batch in _batches(keys):
            marks = ",".join("?" * len(batch))
            out.update(self._db.execute(f"SELECT key, value FROM scores WHERE key IN ({marks})", batch).fetchall())
        if out:
            now = time.time()
            with self._write() as db:
                for batch in _batches(list(out)):
                    db.execute(f"UPDATE scores SET accessed = ? WHERE key IN ({','.join('?' * len(batch))})",
                               [now, *batch])
        return out

    def put(self, settings_key: str, entries: Mapping[str, str]) -> None:
        """Store ``entries`` (key -> value) written under ``settings_key``; an existing key is replaced."""
        now = time.time()
        rows = [(k, settings_key, v, len(k) + len(v) + _ROW_OVERHEAD, now, now) for k, v in entries.items()]
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?)", rows)

    def register(self, settings_key: str, model: str, kind: str, parts: Mapping[str, Any]) -> None:
        """Record what a settings key stands for (the first writer's model name is kept)."""
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO settings VALUES (?, ?, ?, ?, ?)",
                       (settings_key, model, kind, json.dumps(parts, sort_keys=True), time.time()))

    # -------------------------------------------------------------------------- descriptions
    def description(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT description FROM descriptions WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_description(self, key: str, settings_key: str, description: Mapping[str, Any]) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO descriptions VALUES (?, ?, ?, ?)",
                       (key, settings_key, json.dumps(description, sort_keys=True), time.time()))

    # ------------------------------------------------------------------------- file digests
    def file_digest(self, path: Path, compute: Any) -> str:
        """``compute(path)``, memoised by the file's resolved path, size and modification time."""
        real = path.resolve()
        st = real.stat()
        row = self._db.execute("SELECT size, mtime_ns, sha256 FROM file_digests WHERE path = ?", (str(real),)).fetchone()
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return str(row[2])
        digest = str(compute(real))
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)",
                       (str(real), st.st_size, st.st_mtime_ns, digest))
        return digest

    # ------------------------------------------------------------------------- size and pruning
    def total_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM scores").fetchone()[0])

    def file_bytes(self) -> int:
        """Bytes on disk: the database file and its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(DB_FILE + "-wal")) if p.exists())

    def evict_to(self, max_bytes: int) -> int:
        """Remove least recently used entries until the entries take at most ``max_bytes``; how many."""
        excess = self.total_bytes() - max_bytes
        if excess <= 0:
            return 0
        doomed, freed = [], 0
        for key, size in self._db.execute("SELECT key, size FROM scores ORDER BY accessed, key"):
            doomed.append(key)
            freed += size
            if freed >= excess:
                break
        return self._delete(doomed)

    def prune(self, older_than_s: float | None = None, model: str | None = None) -> int:
        """Remove entries not used for ``older_than_s`` seconds and/or written for ``model`` (its name as
        given to ``rmbench run`` or a prefix of its settings key); how many."""
        where: list[str] = []
        args: list[Any] = []
        if older_than_s is not None:
            where.append("scores.accessed < ?")
            args.append(time.time() - older_than_s)
        if model is not None:
            where.append("scores.settings IN (SELECT key FROM settings WHERE model = ? OR key LIKE ?)")
            args += [model, model + "%"]
        sql = "SELECT key FROM scores" + (" WHERE " + " AND ".join(where) if where else "")
        return self._delete([r[0] for r in self._db.execute(sql, args)])

    def _delete(self, keys: Sequence[str]) -> int:
        with self._write() as db:
            for batch in _batches(keys):
                db.execute(f"DELETE FROM scores WHERE key IN ({','.join('?' * len(batch))})", batch)
            db.execute("DELETE FROM settings WHERE key NOT IN (SELECT DISTINCT settings FROM scores)")
            db.execute("DELETE FROM descriptions WHERE settings NOT IN (SELECT key FROM settings)")
        self._db.execute("PRAGMA incremental_vacuum")  # give the freed pages back to the file system
        return len(keys)

    # ---------------------------------------------------------------------------------- info
    def info(self) -> dict[str, Any]:
        """Entries, bytes, and entry counts per (model, kind)."""
        groups = self._db.execute(
            "SELECT COALESCE(s.model, '?'), COALESCE(s.kind, '?'), COUNT(*), SUM(c.size), MAX(c.accessed) "
            "FROM scores c LEFT JOIN settings s ON s.key = c.settings GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
        return {
            "location": str(self.path),
            "entries": sum(g[2] for g in groups),
            "entry_bytes": self.total_bytes(),
            "file_bytes": self.file_bytes(),
            "by_model": [{"model": m, "kind": k, "entries": n, "bytes": b, "last_used": t} for m, k, n, b, t in groups],
        }


def default_folder() -> Path | None:
    """``$RMBENCH_SCORE_CACHE`` (``off`` disables the cache), else ``$RMBENCH_CACHE/scores``."""
    value = os.environ.get("RMBENCH_SCORE_CACHE", "").strip()
    if value.lower() in ("off", "0", "false", "no"):
        return None
    if value:
        return Path(value).expanduser()
    from rmbench.backends.embedded import default_cache_dir

    return default_cache_dir() / "scores"


def _batches(keys: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for k in keys:
        batch.append(k)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
