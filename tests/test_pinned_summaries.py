"""Summaries pinned across refactors: llmbar, rm-bench, processbench and felm on the tiny models.

Each case runs ``rmbench run`` (a real subprocess, real tiny models, real upstream files) and compares
the summary's numbers with ``tests/fixtures/pinned_summaries/<case>.json``: every metric value and
interval, n, ties, invalid and truncated counts, per subset and section, and the policies. Timing,
package versions and temporary paths are left out. A refactor that changes any of them fails here.

Regenerate the files only for an intended change of results (say why in the commit):
``RMBENCH_REGEN_PINS=1 python -m pytest tests/test_pinned_summaries.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PINS = Path(__file__).parent / "fixtures" / "pinned_summaries"
COMMON = ["--n-bootstrap", "300", "--seed", "7", "--quiet"]

# case -> (model fixture, arguments after the model); limits keep each run to seconds
CASES: dict[str, tuple[str, list[str]]] = {
    "llmbar-scalar": ("tiny_rm_dir", ["--task", "llmbar", "--kind", "scalar", "--limit", "6"]),
    "rm-bench-scalar": ("tiny_rm_dir", ["--task", "rm-bench", "--kind", "scalar", "--limit", "4"]),
    "processbench-process": ("tiny_lm_dir", ["--task", "processbench", "--kind", "process", "--limit", "3"]),
    "felm-judge": ("tiny_lm_dir", ["--task", "felm", "--kind", "judge", "--limit", "1", "--max-new-tokens", "8"]),
}

_DROP = {"timing", "environment"}


def _pinned_view(summary: dict[str, Any]) -> dict[str, Any]:
    """The parts of a summary that must not change: results, policies, task identity, data counts."""
    cfg = summary.get("config", {})
    return {
        "schema": summary.get("schema"),
        "task": {k: summary["task"].get(k) for k in ("name", "version", "example_kind")},
        "data": {k: summary["data"].get(k) for k in ("fingerprint", "n_items", "limit", "subsets")},
        "policies": {k: cfg.get(k) for k in ("tie_policy", "invalid_policy", "seed", "n_bootstrap", "kind")},
        "results": summary["results"],
    }


def _run(tmp_path: Path, data_dir: Path, model: Path, args: list[str]) -> dict[str, Any]:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rmbench.cli", "run", "--model", str(model), *args, "--data-dir", str(data_dir),
           "--out", str(out), *COMMON]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_is_pinned(case: str, tmp_path: Path, data_dir: Path, request: pytest.FixtureRequest) -> None:
    fixture, args = CASES[case]
    model = request.getfixturevalue(fixture)
    view = _pinned_view(_run(tmp_path, data_dir, model, args))
    path = PINS / f"{case}.json"
    if os.environ.get("RMBENCH_REGEN_PINS") == "1":
        PINS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(view, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert json.loads(json.dumps(view, sort_keys=True)) == expected
