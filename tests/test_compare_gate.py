"""``rmbench compare`` and ``rmbench gate`` on real runs (LLMBar, cheap baseline models)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rmbench.analysis.compare import compare_runs, compare_values
from rmbench.analysis.gate import decide, run_gate, unpaired_bounds
from rmbench.analysis.pairing import load_run_dir
from rmbench.cli.commands import app
from rmbench.errors import UserError

LIMIT = 12  # per subset: 60 LLMBar items


def _run(out: Path, data_dir: Path, model: str, seed: int = 0, limit: int = LIMIT) -> Path:
    from rmbench.runner import RunConfig, run

    run(RunConfig.from_flat(task="llmbar", model=model, kind="baseline", seed=seed, limit=limit, data_dir=data_dir,
                  out_dir=out, n_bootstrap=500))
    return out


def _report(run_dir: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output


def _cli_main(*args: str) -> subprocess.CompletedProcess[str]:
    """Through ``main()``, so user errors become exit code 2."""
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {
        "length": _run(root / "length", data_dir, "baseline:length"),
        "r0": _run(root / "r0", data_dir, "baseline:random", seed=0),
        "r1": _run(root / "r1", data_dir, "baseline:random", seed=1),
        "r0_again": _run(root / "r0_again", data_dir, "baseline:random", seed=0),
    }
    # A planted regression: a copy of r0 where 20 correct items are flipped to wrong, then re-reported.
    bad = root / "bad"
    shutil.copytree(out["r0"], bad)
    lines = [json.loads(x) for x in (bad / "items.jsonl").read_text().splitlines()]
    flipped = 0
    for d in lines:
        if d["metrics"]["accuracy"] == 1.0 and flipped < 20:
            d["metrics"]["accuracy"] = 0.0
            d["scores"]["chosen"], d["scores"]["rejected"] = d["scores"]["rejected"], d["scores"]["chosen"]
            flipped += 1
    assert flipped == 20
    (bad / "items.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    _report(bad)
    out["bad"] = bad
    return out


def _items(run_dir: Path) -> dict[str, dict]:
    return {d["id"]: d for d in map(json.loads, (run_dir / "items.jsonl").read_text().splitlines())}


# ------------------------------------------------------------------------------------ compare


def test_compare_cli_numbers_match_items(runs: dict[str, Path], tmp_path: Path) -> None:
    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    res = CliRunner().invoke(app, ["compare", str(runs["length"]), str(runs["r0"]), "--md", str(md), "--json", str(js),
                                   "--n-bootstrap", "1000"])
    assert res.exit_code == 0, res.output
    doc = json.loads(js.read_text())
    assert doc["schema"] == "rmbench.compare/1"
    a, b = _items(runs["length"]), _items(runs["r0"])
    overall = doc["rows"]["overall"]
    acc_a = np.mean([d["metrics"]["accuracy"] for d in a.values()])
    acc_b = np.mean([d["metrics"]["accuracy"] for d in b.values()])
    assert overall["n"] == len(a) == 5 * LIMIT
    assert overall["a"]["value"] == pytest.approx(acc_a)
    assert overall["b"]["value"] == pytest.approx(acc_b)
    assert overall["diff"]["value"] == pytest.approx(acc_b - acc_a)
    assert overall["diff"]["low"] <= overall["diff"]["value"] <= overall["diff"]["high"]
    binary = [i for i in a if a[i]["metrics"]["accuracy"] in (0, 1) and b[i]["metrics"]["accuracy"] in (0, 1)]
    n_b = sum(a[i]["metrics"]["accuracy"] == 1 and b[i]["metrics"]["accuracy"] == 0 for i in binary)
    n_c = sum(a[i]["metrics"]["accuracy"] == 0 and b[i]["metrics"]["accuracy"] == 1 for i in binary)
    assert (overall["mcnemar"]["b"], overall["mcnemar"]["c"]) == (n_b, n_c)
    subsets = [s for s in doc["rows"] if s != "overall"]
    assert len(subsets) == 5
    for s in subsets:
        row = doc["rows"][s]
        assert row["n"] == LIMIT
        assert row["p_holm"] >= row["mcnemar"]["p_exact"] - 1e-12
    text = md.read_text()
    assert "| subset | n |" in text and "McNemar b / c" in text and "overall" in text


def test_compare_is_deterministic_and_pure() -> None:
    a = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1] * 5
    b = [1, 1, 1, 0, 0, 1, 1, 0, 1, 1] * 5
    clusters = [str(i) for i in range(50)]
    r1 = compare_values(a, b, clusters, np.random.default_rng(3), n_resamples=500, confidence=0.95)
    r2 = compare_values(a, b, clusters, np.random.default_rng(3), n_resamples=500, confidence=0.95)
    assert r1 == r2
    assert r1["diff"]["value"] == pytest.approx(np.mean(b) - np.mean(a))
    assert (r1["mcnemar"]["b"], r1["mcnemar"]["c"]) == (5, 10)
    assert not r1["clustered"]


def test_compare_half_ties_left_out_of_mcnemar(runs: dict[str, Path], tmp_path: Path) -> None:
    half = tmp_path / "half"
    shutil.copytree(runs["r1"], half)
    lines = [json.loads(x) for x in (half / "items.jsonl").read_text().splitlines()]
    for d in lines[:3]:
        d["metrics"]["accuracy"] = 0.5
    (half / "items.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    comp = compare_runs(load_run_dir(runs["r0"]), load_run_dir(half), n_resamples=500)
    overall = comp.rows["overall"]
    assert overall["mcnemar_left_out"] == 3
    assert overall["mcnemar"]["n"] == overall["n"] - 3
    assert any("left out of McNemar" in n for n in comp.notes)


def test_compare_reports_items_in_one_run_only(runs: dict[str, Path], tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(runs["r1"], partial)
    lines = (partial / "items.jsonl").read_text().splitlines()
    (partial / "items.jsonl").write_text("\n".join(lines[:-4]) + "\n")
    comp = compare_runs(load_run_dir(runs["r0"]), load_run_dir(partial), n_resamples=500)
    assert len(comp.alignment.only_a) == 4 and comp.alignment.only_b == []
    assert comp.rows["overall"]["n"] == len(lines) - 4
    assert "only in A" in comp.notes[0]


def test_compare_refuses_different_data(runs: dict[str, Path], tmp_path: Path, data_dir: Path) -> None:
    other = _run(tmp_path / "limit5", data_dir, "baseline:length", limit=5)
    with pytest.raises(UserError, match="data fingerprint"):
        compare_runs(load_run_dir(runs["r0"]), load_run_dir(other))
    proc = _cli_main("compare", str(runs["r0"]), str(other))
    assert proc.returncode == 2
    assert "data fingerprint" in proc.stderr


def test_compare_refuses_metric_not_recorded_per_item(runs: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="'seg_f1' is not recorded per item") as err:
        compare_runs(load_run_dir(runs["r0"]), load_run_dir(runs["r1"]), metric="seg_f1")
    assert "accuracy" in str(err.value)  # the hint lists the per-item metrics


# --------------------------------------------------------------------------------------- gate


def test_decide_rule() -> None:
    same = decide("overall", 100, 0.7, 0.7, 0.0, 0.0, 0.0, alpha=0.05, margin=0.0, method="paired-bootstrap")
    assert same.status == "pass" and not same.inconclusive
    fail = decide("overall", 100, 0.7, 0.5, -0.2, -0.3, -0.1, alpha=0.05, margin=0.02, method="paired-bootstrap")
    assert fail.status == "fail"
    noisy = decide("overall", 20, 0.7, 0.65, -0.05, -0.2, 0.1, alpha=0.05, margin=0.02, method="paired-bootstrap")
    assert noisy.status == "pass" and noisy.inconclusive
    edge = decide("overall", 100, 0.7, 0.66, -0.04, -0.06, -0.02, alpha=0.05, margin=0.02, method="paired-bootstrap")
    assert edge.status == "pass"  # U == -m is not below the margin
    skipped = decide("tiny", 1, 1.0, 0.0, -1.0, None, None, alpha=0.05, margin=0.02, method="paired-bootstrap")
    assert skipped.status == "skipped"


def test_unpaired_bounds_reference_value() -> None:
    est = {"value": 0.5, "low": 0.4, "high": 0.6, "confidence": 0.95}
    d, lo, hi = unpaired_bounds(est, est, 0.05)
    # se = 0.1 / 1.959964 each; U = 1.644854 * sqrt(2) * se
    assert d == 0.0
    assert hi == pytest.approx(1.6448536 * 2**0.5 * 0.1 / 1.9599640, rel=1e-6)
    assert lo == pytest.approx(-hi)


def test_gate_passes_identical_rerun(runs: dict[str, Path], tmp_path: Path) -> None:
    assert _items(runs["r0"]) == _items(runs["r0_again"])
    junit = tmp_path / "gate.xml"
    res = CliRunner().invoke(app, ["gate", "--baseline", str(runs["r0"]), "--candidate", str(runs["r0_again"]),
                                   "--max-drop", "0", "--junit", str(junit), "--n-bootstrap", "2000"])
    assert res.exit_code == 0, res.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")][0] == "overall"
    assert len(list(suite.iter("testcase"))) == 6


def test_gate_noise_does_not_fail(runs: dict[str, Path]) -> None:
    # Two seeds of the random baseline: the same model up to noise.
    result = run_gate(runs["r0"], runs["r1"], max_drop=1.0, alpha=0.05, n_resamples=2000)
    assert result.passed
    assert result.settings["bonferroni_k"] == 6


def test_gate_fails_planted_regression(runs: dict[str, Path], tmp_path: Path) -> None:
    md, junit, js = tmp_path / "gate.md", tmp_path / "gate.xml", tmp_path / "gate.json"
    res = CliRunner().invoke(app, ["gate", "--baseline", str(runs["r0"]), "--candidate", str(runs["bad"]),
                                   "--max-drop", "2", "--alpha", "0.05", "--md", str(md), "--junit", str(junit),
                                   "--json", str(js), "--n-bootstrap", "2000"])
    assert res.exit_code == 1, res.output
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"overall", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
                          "llmbar-adver-GPTOut", "llmbar-adver-manual"}
    failure = cases["overall"].find("failure")
    assert failure is not None
    assert "change -33.3 points" in failure.get("message", "")  # 20 of 60 items flipped
    assert "baseline" in (failure.text or "") and "upper bound" in (failure.text or "")
    assert int(root.get("failures", "0")) >= 1
    doc = json.loads(js.read_text())
    overall = next(c for c in doc["cases"] if c["name"] == "overall")
    assert overall["status"] == "fail"
    assert overall["diff"] == pytest.approx(-20 / (5 * LIMIT))
    assert overall["upper"] < -0.02
    text = md.read_text()
    assert "gate failed" in text and "| overall | ❌ fail |" in text


def test_gate_summary_only_baseline_is_unpaired(runs: dict[str, Path], tmp_path: Path) -> None:
    md = tmp_path / "gate.md"
    res = CliRunner().invoke(app, ["gate", "--baseline", str(runs["r0"] / "summary.json"), "--candidate",
                                   str(runs["bad"]), "--max-drop", "2", "--no-subsets", "--md", str(md)])
    assert res.exit_code == 1, res.output
    assert "unpaired" in md.read_text()
    same = run_gate(runs["r0"] / "summary.json", runs["r0_again"], max_drop=0.0)
    assert same.passed and same.cases[0].method == "unpaired-normal"


def test_gate_input_errors_exit_2(runs: dict[str, Path], tmp_path: Path) -> None:
    proc = _cli_main("gate", "--baseline", str(tmp_path / "missing"), "--candidate", str(runs["r0"]), "--max-drop", "1")
    assert proc.returncode == 2
    assert "missing" in proc.stderr
    proc = _cli_main("gate", "--baseline", str(runs["r0"]), "--candidate", str(runs["r1"]), "--max-drop", "-1")
    assert proc.returncode == 2
    assert "--max-drop" in proc.stderr
