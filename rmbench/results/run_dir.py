"""Claiming a run directory: what ``--out`` may be, what ``--overwrite`` may delete, and the lock that
keeps two ``rmbench run`` processes out of one directory.

* A run directory is recognised by the files rmbench writes (:data:`RUN_DIR_FILES`). ``--overwrite``
  deletes exactly those files (and the temp files of rmbench's atomic writes) and nothing else: a
  user's other files and sub-folders stay. A folder that holds other files but no run is refused, as
  are a symbolic link and a regular file given as ``--out``.
* :func:`lock_run_dir` takes an exclusive ``fcntl.flock`` on ``.rmbench.lock`` inside the directory
  for the whole run. The file records who holds it (pid, host, start time) so a second process can
  say who is in the way. The lock dies with its process (the kernel releases it, even on ``kill -9``);
  the file stays and is reused. Temp files left by a process killed during an atomic write are
  removed once the lock is held.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from rmbench.errors import UserError
from rmbench.results.files import ITEMS_FILE, REPORT_FILE, RUN_FILE, SUMMARY_FILE

LOCK_FILE = ".rmbench.lock"
RUN_DIR_FILES = (ITEMS_FILE, RUN_FILE, SUMMARY_FILE, REPORT_FILE)
# atomic_write_text's temp files: ".<name>.<random>" next to the file it replaces
_TEMP_PREFIXES = tuple(f".{name}." for name in RUN_DIR_FILES)


def check_out_path(path: Path) -> None:
    """Refuse an ``--out`` that cannot be a run directory: a symbolic link or an existing non-directory."""
    if path.is_symlink():
        raise UserError(
            f"--out {path} is a symbolic link; rmbench writes and deletes run files only in a real directory",
            hint=f"pass the directory it points to ({path.resolve()}) or another --out",
        )
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a directory", hint="pass a directory for the run")


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run: ``run.json`` or ``items.jsonl`` written by rmbench."""
    return any((path / name).is_file() for name in (RUN_FILE, ITEMS_FILE))


def rmbench_files(path: Path) -> list[Path]:
    """The files of ``path`` that rmbench writes in a run directory (not the lock file)."""
    out = [path / name for name in RUN_DIR_FILES if (path / name).is_file() or (path / name).is_symlink()]
    out += sorted(p for p in path.iterdir() if p.name.startswith(_TEMP_PREFIXES) and not p.is_dir())
    return out


def check_can_overwrite(path: Path) -> None:
    """Refuse ``--overwrite`` of anything but a run directory, an empty folder or a new path.

    A folder with other content but no run is refused, so ``--out . --overwrite`` in a home or project
    folder deletes nothing.
    """
    check_out_path(path)
    if path.exists() and not is_run_dir(path):
        others = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE)
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise UserError(
                f"--overwrite: {path} is not a run directory (no {RUN_FILE} or {ITEMS_FILE}) and holds other "
                f"files ({shown}); nothing was deleted",
                hint="pass an empty or new --out directory, or a run directory written by rmbench",
            )


def clear_run_dir(path: Path) -> list[Path]:
    """``--overwrite``: delete the run files of ``path`` (listed in the module docstring), return them.
    Other files and sub-folders stay."""
    check_can_overwrite(path)
    if not path.exists():
        return []
    doomed = rmbench_files(path)
    for p in doomed:
        p.unlink()
    return doomed


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']} (started {info['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def lock_run_dir(path: Path, what: str = "rmbench run") -> Iterator[None]:
    """Hold an exclusive lock on run directory ``path`` (created if needed) for the ``with`` block.

    Raises :class:`UserError` at once, naming the holder, when another process holds it.
    """
    import fcntl

    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{path} is in use by {_holder(lock_path)}: two runs must not write one run directory",
                hint="wait for it to finish, or use another --out directory",
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        for stale in rmbench_files(path):  # temp files of a process killed mid-write; only ours, we hold the lock
            if stale.name.startswith(_TEMP_PREFIXES):
                stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)  # releases the flock
