"""The identity of a run: what decides every item's result, as a dict and as a short hash.

Two runs with the same identity produce the same items, so their lines may be mixed (a resume).
The identity holds the task (name, version, spec hash), the data fingerprint, the model and the
settings that decide item results (evaluator, policies, seed). It leaves out the *statistics*
settings (:data:`STATISTICS_KEYS`): they only change how the summary is computed from the items, so a
run may be resumed, or re-summarised with ``rmbench report``, under other values.

Every ``items.jsonl`` line carries the hash (:func:`identity_hash`, field ``identity``); a resume
reuses only lines of its own identity (:func:`check_item_identities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmbench.datatypes import content_hash
from rmbench.errors import RecordError, UserError
from rmbench.results.files import ExistingItems

IDENTITY_KEYS = ("task", "data_fingerprint", "model", "config")
STATISTICS_KEYS = ("n_bootstrap", "confidence")


def identity(manifest: Mapping[str, Any], with_model: bool = True) -> dict[str, Any]:
    """The comparable part of a ``run.json`` manifest (``with_model=False``: without the loaded model's
    description, which is known only once the model is loaded; the model's name is in ``config``)."""
    ident = {k: manifest.get(k) for k in IDENTITY_KEYS}
    # The evaluator is identified by its settings; volatile descriptive fields are not compared.
    ident["model"] = (
        {k: v for k, v in (manifest.get("model") or {}).items() if k in ("id", "kind", "weights_hash", "revision")}
        if with_model
        else None
    )
    ident["task"] = {k: (manifest.get("task") or {}).get(k) for k in ("name", "version", "spec_hash")}
    ident["config"] = {k: v for k, v in (manifest.get("config") or {}).items() if k not in STATISTICS_KEYS}
    return ident


def identity_hash(manifest: Mapping[str, Any]) -> str:
    """16 hex digits naming the run's identity without the loaded model's description (so it is known
    before a model is loaded); stamped on every item line."""
    return content_hash(identity(manifest, with_model=False))


def check_item_identities(path: Path, existing: ExistingItems, expected: str, has_manifest: bool) -> None:
    """Refuse to resume from lines another configuration wrote.

    * a line with another identity hash: refused (the folder mixes runs, or run.json was replaced);
    * a line without one (written by rmbench before it recorded identities): accepted only when a
      ``run.json`` vouches for the folder (it was checked against this run before), refused otherwise.

    Refusing, not skipping: skipping would silently rescore and hide that the folder holds a different
    run's results, which the user should move away or discard with ``--overwrite``.
    """
    foreign = [i for i, it in existing.items.items() if it.identity and it.identity != expected]
    if foreign:
        first = min(foreign, key=lambda i: existing.line_of.get(i, 0))
        raise RecordError(
            str(path), existing.line_of.get(first),
            f"{len(foreign)} item line(s) were written by another run configuration (identity "
            f"{existing.items[first].identity}, this run is {expected}); nothing was reused",
            field="identity", hint="use another --out directory, or --overwrite to discard the old results",
        )
    unnamed = [i for i, it in existing.items.items() if not it.identity]
    if unnamed and not has_manifest:
        raise UserError(
            f"{path}: {len(unnamed)} item line(s) carry no run identity and the folder has no run.json, so "
            "nothing shows which model and settings produced them; nothing was reused",
            hint="use another --out directory, or --overwrite to discard the old results",
        )
