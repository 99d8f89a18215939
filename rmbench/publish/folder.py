"""Write a publication's files into a folder: the ``--dry-run`` output and the upload's staging folder.

Each file is written atomically (temporary file in the same folder, fsync, rename). The folder must
be absent, empty, or a folder this command wrote before (it holds ``rmbench_publish.json`` and no file
that list does not name): then files of the earlier publication that the new one does not have are
removed, so the folder is exactly the new publication. Any other folder is refused untouched, so a
user's files are never overwritten or deleted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from rmbench.errors import UserError
from rmbench.publish.bundle import PUBLISH_FILE, PUBLISH_SCHEMA
from rmbench.results.files import atomic_write_bytes


def write_folder(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (repository path -> bytes) under ``folder``; return the paths written."""
    stale = previous_files(folder) - set(files)
    written = []
    for rel, data in files.items():
        path = folder / rel
        atomic_write_bytes(path, data)
        written.append(path)
    for rel in sorted(stale):
        (folder / rel).unlink(missing_ok=True)
        _remove_empty_parents(folder, folder / rel)
    return written


def previous_files(folder: Path) -> set[str]:
    """Files of the earlier publication in ``folder`` (empty when the folder is absent or empty);
    a :class:`UserError` when ``folder`` holds anything else."""
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise UserError(f"{folder}: exists and is not a folder; --dry-run needs a folder to write into")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    if not present:
        return set()
    listed = _listed_files(folder / PUBLISH_FILE)
    foreign = sorted(present - (listed or set()) - {PUBLISH_FILE})
    if listed is None or foreign:
        shown = ", ".join((foreign or sorted(present))[:3])
        raise UserError(f"{folder}: not empty and not a folder written by 'rmbench publish' (holds {shown}); "
                        "nothing was written: choose an empty or new folder for --dry-run")
    return present  # every one of them listed by the earlier publication


def _listed_files(path: Path) -> set[str] | None:
    """The files an earlier ``rmbench_publish.json`` lists, or ``None`` when there is no such file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != PUBLISH_SCHEMA or not isinstance(doc.get("files"), dict):
        return None
    return {str(p) for p in doc["files"]}


def _remove_empty_parents(root: Path, path: Path) -> None:
    parent = path.parent
    while parent != root and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
