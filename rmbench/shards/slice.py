"""The examples of one shard (``--shard i/n``) and what its ``run.json`` records about the shard.

Rule (:data:`~rmbench.shards.spec.SHARD_RULE`, round-robin): the task's examples are selected as for an
unsharded run (``--limit``, ``--subset``), then example ``k`` of that selection (0-based, in its order)
goes to shard ``k mod n``. The slice depends only on the selection, ``i`` and ``n``: never on the
machine, the time or the model. Dealing round-robin keeps shard sizes within one item of each other and
mixes subsets (long and short items) into every shard.

A shard is a run of its own (resumable, reportable): its ``data.items`` and ``data.n_items`` are the
shard's items, its ``data.subsets`` and ``data.fingerprint`` are the unsharded selection's (so its run
identity, and the identity stamped on its item lines, equal the unsharded run's), and ``data.shard``
records the shard, the rule and every item of the unsharded selection, so ``rmbench merge`` can check
that shards fit together and are complete (:mod:`rmbench.shards.merge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmbench.data.examples import ExampleSet
from rmbench.errors import UserError
from rmbench.shards.spec import SHARD_RULE, Shard

SHARD_KEY = "shard"
"""The key of the shard's facts in run.json's ``data`` block."""


@dataclass(frozen=True)
class ShardExampleSet(ExampleSet):
    """The examples of one shard, with the facts of the unsharded selection they were dealt from."""

    shard: Shard = Shard(0, 1)
    selection: dict[str, str] = field(default_factory=dict)  # every selected id -> content hash, in order
    selection_subsets: list[str] = field(default_factory=list)

    @property
    def subsets(self) -> list[str]:
        return list(self.selection_subsets)  # the selection's: a summary lists the same subsets in every shard


def shard_examples(exset: ExampleSet, shard: Shard) -> ShardExampleSet:
    """Shard ``shard.index`` of ``exset`` by :data:`SHARD_RULE`; a :class:`UserError` when it is empty."""
    examples = exset.examples[shard.index :: shard.count]
    if not examples:
        raise UserError(
            f"--shard {shard}: the selection has only {len(exset.examples)} items, so shard {shard.index} is empty",
            hint=f"use at most {len(exset.examples)} shards",
        )
    return ShardExampleSet(
        examples, exset.source, exset.records_read, exset.records_skipped, exset.fingerprint, shard=shard,
        selection={e.id: e.content_hash() for e in exset.examples}, selection_subsets=exset.subsets,
    )


def shard_facts(exset: ExampleSet) -> dict[str, Any]:
    """``{"shard": {...}}`` for run.json's data block of a shard ({} for an unsharded run)."""
    if not isinstance(exset, ShardExampleSet):
        return {}
    return {SHARD_KEY: {"index": exset.shard.index, "count": exset.shard.count, "rule": SHARD_RULE,
                        "selection": {"n_items": len(exset.selection), "items": dict(exset.selection)}}}


def shard_of(manifest: Mapping[str, Any]) -> Shard | None:
    """The shard a run.json describes (None: an unsharded run)."""
    facts = (manifest.get("data") or {}).get(SHARD_KEY)
    if not isinstance(facts, Mapping):
        return None
    return Shard(int(facts["index"]), int(facts["count"]))


def check_same_shard(run_dir: Path, stored: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Refuse to resume a run directory under another ``--shard`` (the identity check cannot see it: shards
    share the unsharded run's identity)."""
    old, new = shard_of(stored), shard_of(current)
    if old != new:
        raise UserError(
            f"{run_dir} holds {_describe(old)}, this run is {_describe(new)}",
            hint="every shard needs its own run directory (the default folder name includes the shard)",
        )


def _describe(shard: Shard | None) -> str:
    return "an unsharded run" if shard is None else f"shard {shard}"
