"""At 80 columns ``compare``, ``gate``, ``list`` and the run report keep rows distinguishable: subset
names are shortened from the middle (never all ``llmbar…``), intervals are never cut, descriptions
are cut at word boundaries, and the notes of report.md reach the terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rmbench.analysis.compare import compare_runs
from rmbench.analysis.compare import render_terminal as compare_terminal
from rmbench.analysis.gate import render_terminal as gate_terminal
from rmbench.analysis.gate import run_gate
from rmbench.analysis.pairing import load_run_dir
from rmbench.cli.commands import app
from rmbench.reports.run_report import render_terminal
from rmbench.reports.terminal_tables import middle_ellipsis

SUBSETS = ["llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst", "llmbar-adver-GPTOut",
           "llmbar-adver-manual"]


def _text(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path]:
    from rmbench.runner import RunConfig, run

    root = tmp_path_factory.mktemp("width")
    for model in ("baseline:length", "baseline:random"):
        run(RunConfig.from_flat(task="llmbar", model=model, kind="baseline", limit=12, data_dir=data_dir,
                      out_dir=root / model.split(":")[1], n_bootstrap=300))
    return root / "length", root / "random"


def _labels(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^│ (\S+)", text, re.M)}


def test_compare_at_80_columns(two_runs: tuple[Path, Path]) -> None:
    comp = compare_runs(load_run_dir(two_runs[0]), load_run_dir(two_runs[1]), n_resamples=300)
    text = _text(compare_terminal(comp, width=80))
    assert max(len(line) for line in text.splitlines()) <= 80
    labels = _labels(text)
    assert {middle_ellipsis(s, 20) for s in SUBSETS} <= labels and "overall" in labels
    assert len({middle_ellipsis(s, 20) for s in SUBSETS}) == len(SUBSETS)  # still distinguishable
    assert re.search(r"\d…|…\d|\[…", text) is None  # no number or interval cut
    assert all(re.search(rf"{re.escape(p)}", text) for p in ("p Holm", "MDE", "B − A"))
    diff = comp.rows["overall"]["diff"]
    assert f"[{diff['low'] * 100:+.1f}, {diff['high'] * 100:+.1f}]" in text


def test_gate_at_80_columns(two_runs: tuple[Path, Path]) -> None:
    g = run_gate(two_runs[0], two_runs[1], max_drop=50.0, n_resamples=300)
    text = _text(gate_terminal(g, width=80))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert {middle_ellipsis(s, 20) for s in SUBSETS} <= _labels(text)
    assert "upper" in text and re.search(r"\d…|…\d|\[…", text) is None  # no number cut


def test_run_report_terminal_shows_the_notes(two_runs: tuple[Path, Path]) -> None:
    import json

    summary = json.loads((two_runs[1] / "summary.json").read_text())
    text = " ".join(_text(render_terminal(summary, width=80)).split())
    assert "not distinguishable from the response-length baseline" in text
    # a judge's position consistency, with its interval, is printed too (not only in report.md)
    summary["model"]["kind"] = "judge"
    summary["results"]["overall"]["metrics"]["consistent"] = {"value": 0.8, "low": 0.7, "high": 0.9}
    text = " ".join(_text(render_terminal(summary, width=80)).split())
    assert "preferred the same response in both orders for 80.0 [70.0, 90.0]% of pairs" in text


def test_list_at_80_columns_cuts_no_word() -> None:
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    names = {m.group(1) for m in re.finditer(r"^│ (\S+)\s+│ \d", result.output, re.M)}
    assert {"rewardbench-2", "processbench", "llmbar", "judge-robustness"} <= names
    from rmbench.data.task import discover_tasks, parse_task_file

    words = {w for path, origin in discover_tasks(()).values()
             for w in re.findall(r"[\w'-]+", parse_task_file(path, origin).spec.description)}
    cut = re.findall(r"([\w'-]+)…", result.output)
    assert cut and all(w in words for w in cut)  # the ellipsis follows a whole word
    assert "LLMBar (Zeng et" in " ".join(result.output.split())  # a description starts whole
