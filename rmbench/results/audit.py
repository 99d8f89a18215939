"""Trust nothing in ``items.jsonl`` that can be checked: the reading side of a run directory.

``rmbench report``, ``leaderboard build`` / ``verify`` (and every command that reads runs) call
:func:`audit_items`; ``report`` and ``verify`` also call :func:`regrade_items`.

* **ids**: ``run.json`` records, at run start, every item id of the task with its example's content
  hash (``data.items``). A line with an id outside it, or with another content hash, is refused
  (:class:`RecordError` naming the file, line and field); so is a line of another run identity
  (:mod:`rmbench.results.identity`). The same id twice with different content is refused when the file is
  read (:func:`rmbench.results.files.read_items`).
* **metrics**: each item is graded again from its stored raw prediction (``scores``) and the task's
  examples with the run's policies, and the result must equal the stored ``metrics``, ``ties``,
  ``invalid``, grader extras and baseline metrics. A hand-edited metric, or a score edited without
  its metric, is found. Re-grading needs the task's data (a data folder); without it ``report`` says
  the metrics were not re-graded and ``verify`` fails.

Run directories written before rmbench recorded ``data.items`` are read with a warning (ids are then
checked only when the data is loaded for re-grading).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmbench.datatypes import Example, ItemResult, Prediction
from rmbench.errors import RecordError, UserError
from rmbench.results.files import ITEMS_FILE, RUN_FILE, read_items
from rmbench.results.identity import identity_hash


def recorded_item_hashes(run: Mapping[str, Any]) -> dict[str, str] | None:
    """``{id: example content hash}`` recorded in run.json at run start, or ``None`` (older run.json)."""
    items = (run.get("data") or {}).get("items")
    return dict(items) if isinstance(items, Mapping) else None


def audit_items(run_dir: Path, run: Mapping[str, Any]) -> list[ItemResult]:
    """The items of ``run_dir`` in the task's order, after the id, content and identity checks above."""
    path = run_dir / ITEMS_FILE
    existing = read_items(path)
    known = recorded_item_hashes(run)
    expected_identity = identity_hash(run)
    for item_id, item in existing.items.items():
        line = existing.line_of.get(item_id)
        if known is not None and item_id not in known:
            raise RecordError(
                str(path), line, f"unknown item id '{item_id}': not one of the {len(known)} items "
                f"{run_dir / RUN_FILE} recorded for this run", field="id",
                hint="items.jsonl was edited or mixes runs; rerun the model in a new --out directory",
            )
        if known is not None and known[item_id] != item.example_hash:
            raise RecordError(
                str(path), line, f"item '{item_id}' has example_hash {item.example_hash}, run.json recorded "
                f"{known[item_id]}", field="example_hash",
            )
        if item.identity and item.identity != expected_identity:
            raise RecordError(
                str(path), line, f"item '{item_id}' was written by another run configuration (identity "
                f"{item.identity}, run.json's is {expected_identity})", field="identity",
            )
    order = list(known) if known is not None else list(existing.items)
    return [existing.items[i] for i in order if i in existing.items]


def load_run_examples(run: Mapping[str, Any], data_dir: Path | None) -> list[Example]:
    """The examples a run was scored on, read again from the data (``data_dir``, else the folder the run
    read). Raises :class:`UserError` when they cannot be read or their fingerprint differs."""
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    task_info, data = run["task"], run["data"]
    source = data.get("source") or {}
    if data_dir is None and source.get("kind") == "local" and source.get("location"):
        data_dir = Path(source["location"])
    overrides = task_info.get("overrides") or None
    task = load_task(task_info["name"], (), overrides)
    if task.spec_hash != task_info.get("spec_hash"):
        raise UserError(f"task '{task_info['name']}' changed since the run (spec hash {task.spec_hash}, "
                        f"run.json {task_info.get('spec_hash')}); cannot re-grade its items")
    exset = load_examples(task.spec, data_dir, limit=data.get("limit"), subsets=None,
                          use_bundled=source.get("kind") == "bundled")
    wanted = set(data.get("subsets") or [])
    examples = [e for e in exset.examples if not wanted or e.subset in wanted]
    from rmbench.datatypes import content_hash

    fingerprint = content_hash([e.content_hash() for e in examples])
    if fingerprint != run.get("data_fingerprint", data.get("fingerprint")):
        raise UserError(f"the data read from {data_dir} has fingerprint {fingerprint}, the run's is "
                        f"{run.get('data_fingerprint')}; cannot re-grade its items")
    return examples


def regrade_items(run: Mapping[str, Any], items: Sequence[ItemResult], examples: Sequence[Example]) -> list[str]:
    """Grade every item again from its raw scores; one message per disagreement (empty: all agree)."""
    from rmbench.adapters.baselines import LengthBaseline
    from rmbench.grading.core import Policies, grade

    cfg = run["config"]
    default = Policies()
    policies = Policies(cfg.get("tie_policy") or default.tie_policy, cfg.get("invalid_policy") or default.invalid_policy,
                        cfg.get("inconsistent_policy") or default.inconsistent_policy)
    by_id = {e.id: e for e in examples}
    problems: list[str] = []
    for item in items:
        ex = by_id.get(item.id)
        if ex is None:
            problems.append(f"item '{item.id}': not an example of the task")
            continue
        if ex.content_hash() != item.example_hash:
            problems.append(f"item '{item.id}': example_hash {item.example_hash}, the data's is {ex.content_hash()}")
            continue
        if getattr(item, "error", None):  # a backend error, not a verdict: nothing to grade
            continue
        scores = {k: v for k, v in item.scores.items() if k != "tokens"}
        pred = Prediction(scores=scores, tokens=int(item.scores.get("tokens", 0) or 0), invalid=bool(item.invalid))
        try:
            g = grade(ex, pred, policies)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # scores edited out of shape
            problems.append(f"item '{item.id}': its scores cannot be graded ({type(exc).__name__}: {exc})")
            continue
        fresh = {"metrics": g.metrics, "ties": g.ties, "invalid": g.invalid,
                 "extra": {k: v for k, v in (g.extra or {}).items()}}
        stored = {"metrics": item.metrics, "ties": item.ties, "invalid": item.invalid,
                  "extra": {k: item.extra.get(k) for k in (g.extra or {})}}
        for name in item.baselines:
            if name == "length" and ex.kind in ("pairwise", "multi_response"):
                fresh[f"baselines.{name}"] = grade(ex, LengthBaseline().score([ex])[0], policies).metrics
                stored[f"baselines.{name}"] = item.baselines[name]
        for key in fresh:
            if not same(stored[key], fresh[key]):
                problems.append(f"item '{item.id}': stored {key} {stored[key]!r} != re-graded {fresh[key]!r}")
    return problems


def same(a: Any, b: Any) -> bool:
    """Equal, with floats compared to 1e-9 (relative) and NaN equal to NaN; tuples equal lists."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)
