"""The parts of a leaderboard entry that the page shows beside the ranking (``docs/leaderboard.md``).

* ``sections``: the task's sections (``scoring.sections``) as the run's summary computes them, so a
  leaderboard has the same section columns as ``report.md``;
* ``baselines``: the overall estimates of the response-length baseline graded on the run's items
  (what a model must beat to show more than a length preference);
* ``provenance``: what identifies the model and the software: weights, tokenizer and chat-template
  hashes, the model revision, and the rmbench version that ran it (only the ones the run recorded).

All three are recomputed by ``leaderboard verify`` like every other field. They were added within
``rmbench.leaderboard/1``; a file written before them has none, and :data:`OPTIONAL_KEYS` lets
``verify`` check them only where a file carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPTIONAL_KEYS = ("sections", "baselines", "provenance")
"""Entry fields added within schema version 1: verified when present, not required."""

_EST_KEYS = ("value", "low", "high", "n")
_MODEL_HASHES = ("weights_sha256", "tokenizer_sha256", "chat_template_sha256", "revision")


def _estimates(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m: {k: est.get(k) for k in _EST_KEYS} for m, est in metrics.items()}


def trimmed_sections(results: Mapping[str, Any]) -> dict[str, Any]:
    """``{section: {"subsets", "n_items", "metrics"}}`` from a summary's ``results`` ({} without sections).
    ``n_items`` is ``None`` for a section that is a mean of its subsets (no pooled item count)."""
    return {
        name: {"subsets": list(sec.get("subsets") or []), "n_items": sec.get("n_items"),
               "metrics": _estimates(sec.get("metrics") or {})}
        for name, sec in (results.get("sections") or {}).items()
    }


def trimmed_baselines(results: Mapping[str, Any]) -> dict[str, Any]:
    """``{baseline: {metric: estimate}}`` of the overall block ({} when the run graded no baseline)."""
    return {b: _estimates(metrics) for b, metrics in (results["overall"].get("baselines") or {}).items()}


def provenance(run: Mapping[str, Any]) -> dict[str, str]:
    """The model's recorded hashes and revision and the rmbench version of the run (``run.json``), as
    strings; a hash the backend did not record (a baseline has no weights) is left out."""
    model = run.get("model") or {}
    out = {k: str(model[k]) for k in _MODEL_HASHES if model.get(k) is not None}
    version = (run.get("environment") or {}).get("rmbench")
    if version is not None:
        out["rmbench_version"] = str(version)
    return out


def entry_details(run: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`OPTIONAL_KEYS` of an entry from a run's ``run.json`` and its computed ``results``."""
    return {"sections": trimmed_sections(results), "baselines": trimmed_baselines(results),
            "provenance": provenance(run)}


def comparable(recorded: Mapping[str, Any], fresh: Mapping[str, Any]) -> dict[str, Any]:
    """``fresh`` without the optional fields ``recorded`` does not carry (files written before them)."""
    return {k: v for k, v in fresh.items() if k not in OPTIONAL_KEYS or k in recorded}
