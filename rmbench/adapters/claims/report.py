"""What a claim-verification run records and reports beyond the shared summary: the task's classes and
label mappings (in ``run.json``'s task block) and a report line that states them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def task_facts(spec: Any) -> dict[str, Any]:
    """``{"label_mapping": {...}}`` for a claim task (empty for every other kind, so their manifests and
    identities are unchanged)."""
    if spec.example_kind != "claims":
        return {}
    keys = ("classes", "label_map", "nli_label_map")
    return {"label_mapping": {k: spec.options[k] for k in keys if k in spec.options}}


def claim_lines(summary: Mapping[str, Any]) -> list[str]:
    """Report bullets naming the classes and how upstream labels (and an NLI model's labels) map to them."""
    mapping = (summary.get("task") or {}).get("label_mapping")
    if not mapping:
        return []
    classes = ", ".join(f"`{c}`" for c in mapping.get("classes", []))
    labels = ", ".join(f"{k} -> {v}" for k, v in (mapping.get("label_map") or {}).items())
    lines = [f"- classes {classes}; upstream labels: {labels}; unparseable verdicts are a column of their own in "
             "the confusion matrix (a miss for the gold class)"]
    if (summary.get("model") or {}).get("kind") == "nli":
        nli = ", ".join(f"{k} -> {v}" for k, v in (mapping.get("nli_label_map") or {}).items())
        lines.append(f"- NLI labels: {nli}")
    return lines
