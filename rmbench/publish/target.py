"""What ``rmbench publish`` publishes: a run directory or a leaderboard file, read and checked.

A run directory must hold ``run.json``, ``items.jsonl``, ``summary.json`` and ``report.md`` (the last
two are written at the end of a run, or by ``rmbench report``). Its items are audited against
``run.json`` as every command that reads runs does. A leaderboard file must be a
``rmbench.leaderboard/1`` document; the run directories its entries name are published with it when
they are found, so that the receiver can run ``rmbench leaderboard verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rmbench.datatypes import ItemResult
from rmbench.errors import UserError
from rmbench.results.files import ITEMS_FILE, REPORT_FILE, RUN_FILE, SUMMARY_FILE, read_json

RUN_FILES = (RUN_FILE, SUMMARY_FILE, REPORT_FILE, ITEMS_FILE)


@dataclass(frozen=True)
class RunTarget:
    """A run directory: its manifest, summary, audited items and the raw bytes of its four files."""

    path: Path
    run: dict[str, Any]
    summary: dict[str, Any]
    items: list[ItemResult]
    raw: dict[str, bytes]  # file name -> bytes, byte-identical to the run directory's


@dataclass(frozen=True)
class LeaderboardTarget:
    """A leaderboard file, its bytes, and the run directory of each entry (by recorded ``run_dir``)."""

    path: Path
    doc: dict[str, Any]
    raw: bytes
    runs: dict[str, dict[str, bytes]]  # recorded run_dir -> {file name: bytes} of the run's files


Target = RunTarget | LeaderboardTarget


def load_target(path: Path, runs_root: Path | None = None) -> Target:
    """A :class:`RunTarget` for a folder, a :class:`LeaderboardTarget` for a ``.json`` file."""
    if path.is_dir():
        return load_run_target(path)
    if path.is_file():
        return load_leaderboard_target(path, runs_root)
    raise UserError(f"{path}: no such run directory or leaderboard file")


def load_run_target(path: Path) -> RunTarget:
    from rmbench.analysis.pairing import load_run_dir

    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        hint = "'rmbench report DIR' writes summary.json and report.md from the items" if RUN_FILE not in missing \
            and ITEMS_FILE not in missing else None
        raise UserError(f"{path}: not a finished run directory (missing {', '.join(missing)})", hint=hint)
    loaded = load_run_dir(path)
    if not loaded.items:
        raise UserError(f"{path / ITEMS_FILE}: no items scored, nothing to publish")
    summary = read_json(path / SUMMARY_FILE)
    if not isinstance(summary, dict) or "results" not in summary:
        raise UserError(f"{path / SUMMARY_FILE}: not a run summary (no 'results')")
    raw = {name: (path / name).read_bytes() for name in RUN_FILES}
    return RunTarget(path, dict(loaded.run), summary, list(loaded.items.values()), raw)


def load_leaderboard_target(path: Path, runs_root: Path | None) -> LeaderboardTarget:
    from rmbench.analysis.leaderboard import load_leaderboard, resolve_run_dir

    doc = load_leaderboard(path)
    runs: dict[str, dict[str, bytes]] = {}
    for entry in doc["entries"]:
        recorded = str(entry["run_dir"])
        if not _portable(recorded):
            raise UserError(f"{path}: entry '{entry['name']}' records run_dir '{recorded}', which is not a "
                            "relative path inside a runs folder",
                            hint="rebuild the leaderboard with 'rmbench leaderboard build ... --runs-root runs'")
        run_dir = resolve_run_dir(recorded, runs_root, path)
        if not (run_dir / RUN_FILE).is_file() or not (run_dir / ITEMS_FILE).is_file():
            raise UserError(f"{path}: run directory of entry '{entry['name']}' not found at {run_dir}",
                            hint="pass --runs-root, the folder the leaderboard's run_dir paths are relative to")
        # verify needs run.json and items.jsonl; summary.json and report.md go along where they exist
        runs[recorded] = {name: (run_dir / name).read_bytes() for name in RUN_FILES if (run_dir / name).is_file()}
    return LeaderboardTarget(path, doc, path.read_bytes(), runs)


def _portable(recorded: str) -> bool:
    """A ``run_dir`` that can be placed under ``runs/`` in the repository: relative, no ``..``."""
    p = PurePosixPath(recorded)
    return bool(recorded) and not p.is_absolute() and ".." not in p.parts and "\\" not in recorded
