"""``rmbench merge``: join the run directories of ``--shard i/n`` runs into the unsharded run's directory.

Checks, each a one-line :class:`~rmbench.errors.UserError` naming the directory:

* every directory is a shard run (``data.shard`` in its ``run.json``) and passes the item audit
  (:func:`rmbench.results.audit.audit_items`: ids, content hashes, run identity);
* all shards describe one run: run identity, configuration (statistics settings included), data block,
  shard count, rule and selection agree; the first differing setting is named (``config.max_length: 64 -> 32``);
* an item id found in two shards must have identical lines (a directory given twice is harmless; two
  different results for one item are refused);
* every item of the selection is present; otherwise the merge is refused and the missing shards are named,
  unless ``allow_partial``: then the output is a partial run that ``rmbench run --out DIR`` (unsharded,
  same options) completes, scoring only what is missing.

The output is the unsharded run's directory: ``run.json`` equal to the unsharded run's (the shard's, with
the selection's ``items`` and ``n_items`` and without ``data.shard``; model and environment from the
lowest shard), ``items.jsonl`` in the selection's order, ``summary.json`` and ``report.md`` through the
normal summary path. Its ``timing`` says what was merged: nothing scored by the merge, every item reused,
and each shard's own counts under ``shards``. The shard directories are never changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rmbench.datatypes import ItemResult
from rmbench.errors import UserError
from rmbench.results.files import (
    ITEMS_FILE,
    RUN_FILE,
    SUMMARY_FILE,
    atomic_write_json,
    atomic_write_text,
    read_json,
)
from rmbench.results.identity import identity
from rmbench.shards.slice import SHARD_KEY, shard_of
from rmbench.shards.spec import Shard

_SHARD_ONLY = ("n_items", "items", SHARD_KEY)  # data keys that differ between the shards of one run


@dataclass(frozen=True)
class ShardRun:
    """One shard's run directory, read and audited."""

    path: Path
    manifest: dict[str, Any]
    shard: Shard
    items: list[ItemResult]


@dataclass(frozen=True)
class MergeOutcome:
    run_dir: Path
    summary: dict[str, Any]
    n_items: int  # the unsharded selection
    missing: list[str]  # ids of the selection no shard holds (only with allow_partial)


def read_shard(path: Path) -> ShardRun:
    """``path`` as a :class:`ShardRun`; a :class:`UserError` when it is no shard's run directory."""
    from rmbench.results.audit import audit_items

    if not (path / RUN_FILE).is_file():
        raise UserError(f"{path}: not a run directory (no {RUN_FILE})")
    manifest = read_json(path / RUN_FILE)
    shard = shard_of(manifest) if isinstance(manifest, dict) else None
    if shard is None:
        raise UserError(f"{path / RUN_FILE}: not a shard (no data.shard); merge joins runs made with --shard i/n")
    return ShardRun(path, manifest, shard, audit_items(path, manifest))


def comparable(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What must agree between two shards of one run: the identity, the whole configuration, the data
    block apart from the shard's own items, and the shard count, rule and selection."""
    data = manifest.get("data") or {}
    facts = data.get(SHARD_KEY) or {}
    return {
        **identity(manifest),
        "config": manifest.get("config"),
        "data": {k: v for k, v in data.items() if k not in _SHARD_ONLY},
        "shard": {k: v for k, v in facts.items() if k != "index"},
    }


def check_compatible(runs: Sequence[ShardRun]) -> None:
    """Refuse shards of different runs, naming the first differing settings."""
    from rmbench.results.settings_diff import settings_diff

    first = runs[0]
    base = comparable(first.manifest)
    for other in runs[1:]:
        diff = settings_diff(base, comparable(other.manifest))
        if diff:
            shown = "; ".join(d for d in diff if not d.startswith("shard.selection.items."))[:300] or diff[0]
            raise UserError(
                f"{other.path}: not a shard of the same run as {first.path} (differs in: {shown})",
                hint="merge only the shards of one command (same model, task, data and options)",
            )


def join_items(runs: Sequence[ShardRun]) -> dict[str, ItemResult]:
    """Every item by id; an id in two shards must have the same line."""
    joined: dict[str, ItemResult] = {}
    where: dict[str, Path] = {}
    for run in runs:
        for item in run.items:
            old = joined.get(item.id)
            if old is not None and old.to_dict() != item.to_dict():
                raise UserError(
                    f"{run.path / ITEMS_FILE}: item '{item.id}' is also in {where[item.id] / ITEMS_FILE} with a "
                    "different result; the shards overlap",
                    hint="merge each shard once (two runs of one shard scored it twice); drop one of the directories",
                )
            joined[item.id] = item
            where.setdefault(item.id, run.path)
    return joined


def missing_message(runs: Sequence[ShardRun], selection: Mapping[str, str], joined: Mapping[str, ItemResult]) -> str:
    """Which shards are absent or unfinished, for the refusal of an incomplete merge."""
    count = runs[0].shard.count
    given = {r.shard.index for r in runs}
    parts = []
    absent = [f"{i}/{count}" for i in range(count) if i not in given]
    if absent:
        parts.append(f"no directory for shard {', '.join(absent)}")
    for run in sorted(runs, key=lambda r: r.shard.index):
        wanted = int(run.manifest["data"]["n_items"])
        if len(run.items) < wanted:
            parts.append(f"shard {run.shard} ({run.path}) has {len(run.items)} of {wanted} items")
    lost = len(selection) - len(joined)
    return f"{lost} of {len(selection)} items are missing: {'; '.join(parts)}"


def merged_manifest(runs: Sequence[ShardRun]) -> dict[str, Any]:
    """The unsharded run's run.json, from the lowest shard's."""
    base = min(runs, key=lambda r: r.shard.index).manifest
    manifest = json.loads(json.dumps(base))  # a deep copy
    data = manifest["data"]
    selection = data[SHARD_KEY]["selection"]
    data["n_items"] = int(selection["n_items"])
    data["items"] = dict(selection["items"])
    del data[SHARD_KEY]
    return manifest


def merge_shards(dirs: Sequence[Path], out: Path, *, allow_partial: bool = False, overwrite: bool = False,
                 out_locked: bool = False) -> MergeOutcome:
    """Join the shard run directories ``dirs`` into the run directory ``out`` (rules: module docstring).
    ``out_locked``: the caller holds ``out``'s run-directory lock (``--executor ray``'s driver)."""
    from contextlib import nullcontext

    from rmbench.results.run_dir import lock_run_dir

    t0, started = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    if not dirs:
        raise UserError("merge: no shard directories given")
    unique = list({p.resolve(): p for p in dirs}.values())
    _check_out(out, unique, overwrite)
    runs = [read_shard(p) for p in unique]
    check_compatible(runs)
    joined = join_items(runs)
    manifest = merged_manifest(runs)
    selection: dict[str, str] = manifest["data"]["items"]
    missing = [i for i in selection if i not in joined]
    if missing and not allow_partial:
        raise UserError(
            missing_message(runs, selection, joined),
            hint="pass every shard's directory, finish the unfinished shards (rerun their command), or "
            "--allow-partial to write a partial run that 'rmbench run --out DIR' completes",
        )
    ordered = [joined[i] for i in selection if i in joined]
    with nullcontext() if out_locked else lock_run_dir(out, "rmbench merge"):
        if overwrite:
            from rmbench.results.run_dir import clear_run_dir

            clear_run_dir(out)
        return _write(out, manifest, ordered, runs, missing, (t0, started))


def _check_out(out: Path, shards: Sequence[Path], overwrite: bool) -> None:
    from rmbench.results.run_dir import check_can_overwrite, check_out_path, is_run_dir

    check_out_path(out)
    if out.resolve() in {p.resolve() for p in shards}:
        raise UserError(f"--out {out} is one of the shard directories; merge into a directory of its own")
    if overwrite:
        check_can_overwrite(out)
    elif out.exists() and is_run_dir(out):
        raise UserError(f"--out {out} already holds a run; nothing was written",
                        hint="pass another --out, or --overwrite to replace its run files (shards are never changed)")


def _write(out: Path, manifest: dict[str, Any], items: Sequence[ItemResult], runs: Sequence[ShardRun],
           missing: Sequence[str], clock: tuple[float, str]) -> MergeOutcome:
    """Write run.json, items.jsonl (the lines ItemWriter writes), summary.json and report.md."""
    from rmbench.results.summary import build_summary
    from rmbench.runner import write_outputs

    atomic_write_json(out / RUN_FILE, manifest)
    lines = "".join(json.dumps(it.to_dict(), ensure_ascii=False) + "\n" for it in items)
    atomic_write_text(out / ITEMS_FILE, lines)
    t0, started = clock
    timing = {
        "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - t0, 3),
        "items_scored_this_session": 0,  # the merge scores nothing: every item comes from a shard
        "items_reused": len(items),
        "shards": [_shard_timing(r) for r in sorted(runs, key=lambda r: r.shard.index)],
    }
    summary = build_summary(manifest, items, timing)
    write_outputs(out, summary)
    return MergeOutcome(out, summary, len(manifest["data"]["items"]), list(missing))


def _shard_timing(run: ShardRun) -> dict[str, Any]:
    """A shard's directory, item count and its own run's timing counts (from its summary.json, if any)."""
    entry: dict[str, Any] = {"shard": str(run.shard), "run_dir": str(run.path), "n_items": len(run.items)}
    path = run.path / SUMMARY_FILE
    timing = read_json(path).get("timing") if path.is_file() else None
    if isinstance(timing, dict):
        for key in ("wall_seconds", "items_scored_this_session", "items_reused"):
            if key in timing:
                entry[key] = timing[key]
    return entry
