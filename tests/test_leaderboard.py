"""Leaderboard build / verify / render on real runs (LLMBar, cheap baseline models)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rmbench.analysis.leaderboard import (
    LEADERBOARD_SCHEMA,
    build_leaderboard,
    rank_entries,
    ranking_method,
    verify_leaderboard,
)
from rmbench.analysis.pairing import load_run_dir
from rmbench.cli.commands import app
from rmbench.errors import UserError
from rmbench.results.summary import compute_results

LIMIT = 10


def _run(out: Path, data_dir: Path, model: str, seed: int = 0, limit: int = LIMIT) -> Path:
    from rmbench.runner import RunConfig, run

    run(RunConfig.from_flat(task="llmbar", model=model, kind="baseline", seed=seed, limit=limit, data_dir=data_dir,
                  out_dir=out, n_bootstrap=500))
    return out


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("lb-runs")
    _run(root / "length", data_dir, "baseline:length")
    _run(root / "random-0", data_dir, "baseline:random", seed=0)
    _run(root / "random-1", data_dir, "baseline:random", seed=1)
    return root


@pytest.fixture(scope="module")
def board(runs_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lb") / "llmbar.json"
    res = CliRunner().invoke(app, ["leaderboard", "build", *(str(runs_root / n) for n in ("length", "random-0",
                                   "random-1")), "--runs-root", str(runs_root), "--out", str(out),
                                   "--n-bootstrap", "1000"])
    assert res.exit_code == 0, res.output
    return out


def _verify(path: Path, runs_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", "leaderboard", "verify", str(path), "--runs-root",
                           str(runs_root)], capture_output=True, text=True, timeout=300)


def test_build_schema_and_numbers(board: Path, runs_root: Path) -> None:
    doc = json.loads(board.read_text())
    assert doc["schema"] == LEADERBOARD_SCHEMA
    assert doc["task"]["name"] == "llmbar" and doc["task"]["version"] == 1
    assert doc["task"]["primary_metric"] == "accuracy"
    entries = doc["entries"]
    assert [e["rank"] for e in entries] == [1, 2, 3]
    values = [e["overall"]["metrics"]["accuracy"]["value"] for e in entries]
    assert values == sorted(values, reverse=True)
    for e in entries:
        run_dir = runs_root / e["run_dir"]
        run = load_run_dir(run_dir)
        assert run.run["data_fingerprint"] == doc["data_fingerprint"]
        res = compute_results(run.run, list(run.items.values()))
        assert e["overall"]["metrics"]["accuracy"]["value"] == res["overall"]["metrics"]["accuracy"]["value"]
        assert e["overall"]["n_items"] == 5 * LIMIT
        assert set(e["subsets"]) == set(doc["task"]["subsets"])
        assert e["manifest"]["items_jsonl_sha256"] == hashlib.sha256((run_dir / "items.jsonl").read_bytes()).hexdigest()
        assert e["manifest"]["run_json_sha256"] == hashlib.sha256((run_dir / "run.json").read_bytes()).hexdigest()
        lo, hi = e["rank_range"]
        assert lo <= e["rank"] <= hi
        # tied entries are exactly the ones the range does not separate
        assert hi - lo <= len(e["tied_with"])
        for other in e["tied_with"]:
            assert e["name"] in next(x for x in entries if x["name"] == other)["tied_with"]


def test_verify_ok(board: Path, runs_root: Path) -> None:
    proc = _verify(board, runs_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reproduce" in proc.stdout


def test_verify_catches_edited_number(board: Path, runs_root: Path, tmp_path: Path) -> None:
    doc = json.loads(board.read_text())
    entry = doc["entries"][1]
    entry["subsets"]["llmbar-natural"]["metrics"]["accuracy"]["value"] += 0.1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    problems = verify_leaderboard(doc, runs_root)
    assert [(p.entry, p.field) for p in problems] == [(entry["name"], "subsets.llmbar-natural.metrics.accuracy.value")]
    proc = _verify(edited, runs_root)
    assert proc.returncode == 1
    out = " ".join(proc.stdout.split())
    assert entry["name"] in out and "subsets.llmbar-natural.metrics.accuracy.value" in out


def test_verify_catches_edited_item_line(board: Path, runs_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(runs_root, copy)
    items = copy / "length" / "items.jsonl"
    lines = items.read_text().splitlines()
    d = json.loads(lines[0])
    d["metrics"]["accuracy"] = 1.0 - d["metrics"]["accuracy"]
    lines[0] = json.dumps(d)
    items.write_text("\n".join(lines) + "\n")
    doc = json.loads(board.read_text())
    fields = {p.field for p in verify_leaderboard(doc, copy) if p.entry == "baseline:length"}
    assert "manifest.items_jsonl_sha256" in fields
    assert "overall.metrics.accuracy.value" in fields
    proc = _verify(board, copy)
    assert proc.returncode == 1
    assert "items_jsonl_sha256" in proc.stdout


def test_verify_missing_run_dir(board: Path, tmp_path: Path) -> None:
    problems = verify_leaderboard(json.loads(board.read_text()), tmp_path)
    assert {p.field for p in problems} == {"run_dir"} and len(problems) == 3


def test_build_refuses_mixed_data(runs_root: Path, tmp_path: Path, data_dir: Path) -> None:
    other = _run(tmp_path / "limit4", data_dir, "baseline:length", limit=4)
    proc = subprocess.run([sys.executable, "-m", "rmbench.cli", "leaderboard", "build", str(runs_root / "length"),
                           str(other), "--out", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "refusing to mix" in proc.stderr and "data fingerprint" in proc.stderr


def test_identical_runs_are_tied(runs_root: Path, tmp_path: Path) -> None:
    twin = tmp_path / "random-0-copy"
    shutil.copytree(runs_root / "random-0", twin)
    doc = build_leaderboard([runs_root / "random-0", twin], n_resamples=500)
    a, b = doc["entries"]
    assert a["tied_with"] == [b["name"]] and b["tied_with"] == [a["name"]]
    assert a["rank_range"] == b["rank_range"] == [1, 2]
    with pytest.raises(UserError, match="twice"):
        build_leaderboard([runs_root / "random-0", runs_root / "random-0"])


def test_ci_overlap_ranking_for_aggregate_metrics(runs_root: Path) -> None:
    runs = [load_run_dir(runs_root / n) for n in ("length", "random-0", "random-1")]
    names = ["a", "b", "c"]
    headline = {"a": {"value": 0.8, "low": 0.75, "high": 0.85}, "b": {"value": 0.6, "low": 0.5, "high": 0.7},
                "c": {"value": 0.65, "low": 0.55, "high": 0.76}}
    ranks = rank_entries(runs, names, headline, "f1", method="ci-overlap", seed=0, n_resamples=10, confidence=0.95)
    assert ranks["a"] == {"rank": 1, "rank_range": [1, 2], "tied_with": ["c"]}  # 0.75 < 0.76: overlap with c
    assert ranks["c"] == {"rank": 2, "rank_range": [1, 3], "tied_with": ["a", "b"]}
    assert ranks["b"] == {"rank": 3, "rank_range": [2, 3], "tied_with": ["c"]}
    assert ranking_method(runs, "accuracy") == "paired-bootstrap"
    assert ranking_method(runs, "seg_f1") == "ci-overlap"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.external += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_render_page_is_self_contained(board: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    res = CliRunner().invoke(app, ["leaderboard", "render", str(board), "--out", str(page)])
    assert res.exit_code == 0, res.output
    parser = _Collector()
    parser.feed(page.read_text())
    assert parser.external == []  # no external assets
    assert {"table", "th", "script", "style"} <= set(parser.tags)
    text = " ".join(parser.text)
    doc = json.loads(board.read_text())
    for e in doc["entries"]:
        assert e["name"] in text
    assert "statistically tied with" in text
    # the plotly page (issue 16): one figure per leaderboard with its bundle inline, a panel per entry
    html = page.read_text()
    assert html.count('class="plot"') == 1 and "Plotly.newPlot" in html
    assert text.count("rmbench leaderboard verify") >= len(doc["entries"])
    assert {"section", "subset"} <= set(text.split())


def test_entries_carry_sections_baseline_and_provenance(board: Path) -> None:
    doc = json.loads(board.read_text())
    for e in doc["entries"]:
        assert set(e["sections"]) == {"Natural", "Adversarial"}  # tasks/llmbar.yaml scoring.sections
        assert e["sections"]["Natural"]["subsets"] == ["llmbar-natural"]
        assert 0 <= e["baselines"]["length"]["accuracy"]["value"] <= 1
        assert e["provenance"]["rmbench_version"]
    length = next(e for e in doc["entries"] if e["name"] == "baseline:length")
    mine, own = length["baselines"]["length"]["accuracy"], length["overall"]["metrics"]["accuracy"]
    assert (mine["value"], mine["n"]) == (own["value"], own["n"])  # same grading (the bootstrap stream differs)


def test_verify_checks_the_new_fields_and_accepts_files_without_them(board: Path, runs_root: Path) -> None:
    doc = json.loads(board.read_text())
    doc["entries"][0]["provenance"]["rmbench_version"] = "9.9.9"
    doc["entries"][1]["sections"]["Natural"]["metrics"]["accuracy"]["value"] = 0.123
    found = {(p.entry, p.field) for p in verify_leaderboard(doc, runs_root)}
    assert found == {(doc["entries"][0]["name"], "provenance.rmbench_version"),
                     (doc["entries"][1]["name"], "sections.Natural.metrics.accuracy.value")}
    old = json.loads(board.read_text())  # a file written before the fields existed
    for e in old["entries"]:
        for key in ("sections", "baselines", "provenance"):
            del e[key]
    assert verify_leaderboard(old, runs_root) == []


def test_render_without_plotly_says_how_to_install_it(board: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.modules['plotly...'] = None`` makes the import fail as it does where plotly is not installed."""
    from rmbench.analysis.leaderboard import load_leaderboard
    from rmbench.reports.leaderboard_page import render_page

    for mod in ("plotly", "plotly.graph_objects", "plotly.io"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(UserError, match="plotly") as info:
        render_page(load_leaderboard(board))
    assert "pip install 'rmbench[page]'" in str(info.value)


def test_render_defaults_to_the_leaderboards_folder(board: Path, tmp_path: Path) -> None:
    def render(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rmbench.cli", "leaderboard", "render", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    empty = render("--out", "empty.html")
    assert empty.returncode == 2 and "leaderboards/*.json" in empty.stderr
    (tmp_path / "leaderboards").mkdir()
    shutil.copy(board, tmp_path / "leaderboards" / "llmbar.json")
    proc = render("--out", "page.html")
    assert proc.returncode == 0, proc.stderr
    assert "rmbench leaderboard verify leaderboards/llmbar.json" in (tmp_path / "page.html").read_text()
