"""Typed results: the run summary and leaderboard file have pydantic models whose JSON Schemas ship in
the package and in docs/schemas, real summaries validate, and report.md reads the typed fields.

A real run of the tiny reward model through the CLI gives the summary; the pinned summaries of four
task families (llmbar, rm-bench, processbench, felm judge) give real ``results`` blocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rmbench.errors import UserError
from rmbench.results.schema import (
    MODELS,
    Results,
    check_leaderboard,
    check_summary,
    json_schema,
    render_schema,
    shipped_schema,
)

ROOT = Path(__file__).parents[1]
PINS = ROOT / "tests" / "fixtures" / "pinned_summaries"
REGEN = "python -c \"from rmbench.results.schema import MODELS, render_schema; [open(f'{d}/{s}.schema.json', 'w').write(render_schema(s)) for s in MODELS for d in ('rmbench/schemas', 'docs/schemas')]\""


@pytest.mark.parametrize("stem", sorted(MODELS))
def test_shipped_schemas_equal_the_models(stem: str) -> None:
    assert shipped_schema(stem) == json_schema(stem), f"schema of {stem} changed; regenerate with {REGEN}"
    docs = ROOT / "docs" / "schemas" / f"{stem}.schema.json"
    assert docs.read_text(encoding="utf-8") == render_schema(stem), f"docs/schemas out of date; {REGEN}"


def test_schemas_are_package_data() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in text


def test_schema_names_are_stable() -> None:
    """File formats keep their names across refactors (the layout move had renamed four of them)."""
    from rmbench.analysis import agree, compare, gate, leaderboard
    from rmbench.results import summary

    names = {"summary": summary.SUMMARY_SCHEMA, "leaderboard": leaderboard.LEADERBOARD_SCHEMA,
             "compare": compare.COMPARE_SCHEMA, "gate": gate.GATE_SCHEMA, "agree": agree.AGREE_SCHEMA}
    assert names == {"summary": "rmbench.run-summary/1", "leaderboard": "rmbench.leaderboard/1",
                     "compare": "rmbench.compare/1", "gate": "rmbench.gate/1", "agree": "rmbench.agree/1"}


@pytest.mark.parametrize("case", sorted(p.stem for p in PINS.glob("*.json")))
def test_pinned_results_validate(case: str) -> None:
    results = json.loads((PINS / f"{case}.json").read_text())["results"]
    typed = Results.model_validate(results)
    assert typed.overall.n_items == results["overall"]["n_items"]
    assert typed.model_dump(exclude_unset=True) == results  # nothing dropped, nothing renamed


def _run(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    return CliRunner().invoke(app, ["run", "--quiet", "--n-bootstrap", "100", *args])


def test_real_summary_validates_and_report_reads_typed_fields(tiny_rm_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _run(["--model", str(tiny_rm_dir), "--kind", "scalar", "--task", "llmbar", "--bundled", "--limit", "4",
              "--max-length", "64", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    typed = check_summary(summary)
    assert typed.model.chat_template_sha256 and typed.results.overall.truncated == 4
    report = (out / "report.md").read_text()
    assert f"chat template sha256: `{typed.model.chat_template}`" in report
    o = typed.results.overall
    assert f"- truncated: 4 of 4 items ({o.truncated_sequences} sequences) cut at the maximum length" in report

    from rmbench.analysis.leaderboard import build_leaderboard

    doc = build_leaderboard([out], n_resamples=50)
    assert check_leaderboard(doc).entries[0].overall.n_items == 4


def test_a_broken_summary_names_the_field() -> None:
    summary = json.loads((PINS / "llmbar-scalar.json").read_text())
    bad = {"schema": "rmbench.run-summary/1", "task": summary["task"], "data": {**summary["data"], "source": None},
           "model": {}, "config": {"kind": "scalar", "seed": 7, "n_bootstrap": 300, "confidence": 0.95},
           "environment": {}, "results": {**summary["results"], "overall": {"n_items": "many"}}}
    with pytest.raises(UserError, match=r"field 'results.overall.n_items'"):
        check_summary(bad)


def test_a_leaderboard_file_with_a_bad_entry_is_refused(tmp_path: Path) -> None:
    from rmbench.analysis.leaderboard import load_leaderboard

    path = tmp_path / "lb.json"
    path.write_text(json.dumps({"schema": "rmbench.leaderboard/1", "generated_by": "x", "data_fingerprint": "f",
                                "task": {"name": "t", "version": 1, "primary_metric": "accuracy"},
                                "ranking": {"method": "m", "metric": "accuracy", "seed": 0, "n_resamples": 10,
                                            "confidence": 0.95},
                                "entries": [{"name": "a", "rank": 1}]}))
    with pytest.raises(UserError, match=r"lb.json: field 'entries.0.rank_range'"):
        load_leaderboard(path)
