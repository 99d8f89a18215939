"""Bring your own scores: ``rmbench run --scores FILE`` on published per-item scores.

The real scores are ArmoRM's per-solution rewards on RewardMATH, from the RewardMATH authors'
repository (``rewardmath/reference_scores_ArmoRM_reward.json``: one record per problem with the
solution writers and their scores). The converters below turn them into rmbench's scores format.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.adapters.precomputed import PrecomputedAdapter
from rmbench.analysis.compare import compare_runs
from rmbench.analysis.gate import run_gate
from rmbench.analysis.pairing import load_run_dir
from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.errors import RecordError, UserError
from rmbench.runner import RunConfig, run


def _reference(data_dir: Path) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """ArmoRM scores by problem text -> {writer: score}, and the chosen writer per problem id (upstream)."""
    ref = json.loads((data_dir / "rewardmath" / "reference_scores_ArmoRM_reward.json").read_text())
    scores = {r["problem"]: dict(zip(r["solution_reference"], r["score"], strict=True)) for r in ref}
    direct = json.loads((data_dir / "rewardmath" / "RewardMATH_direct.json").read_text())
    chosen = {str(r["problem_id"]): r["solution_reference"] for r in direct if r["solution_type"] == "chosen"}
    return scores, chosen


def _examples(task: str, data_dir: Path) -> list:
    return load_examples(load_task(task).spec, data_dir).examples


def _best_of_n_rows(data_dir: Path) -> list[dict]:
    scores, _ = _reference(data_dir)
    rows = []
    for ex in _examples("rewardmath", data_dir):
        s = scores[ex.prompt_text]
        rows.append({"id": ex.id, "correct": [s[w] for w in ex.meta["correct_sources"]],
                     "incorrect": [s[w] for w in ex.meta["incorrect_sources"]]})
    return rows


def _pairwise_rows(data_dir: Path) -> list[dict]:
    scores, chosen = _reference(data_dir)
    rows = []
    for ex in _examples("rewardmath-pairwise", data_dir):
        s = scores[ex.prompt_text]
        rows.append({"id": ex.id, "chosen": s[chosen[ex.meta["problem_id"]]], "rejected": s[ex.meta["solution_reference"]]})
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(task: str, data_dir: Path, out: Path, scores: Path, **kw: object) -> RunConfig:
    return RunConfig.from_flat(task=task, model=kw.pop("model", "ArmoRM-Llama3-8B-v0.1"), kind="precomputed",
                               data_dir=data_dir, out_dir=out, scores_file=scores, n_bootstrap=500, **kw)


def test_rewardmath_best_of_n_with_armorm_scores(data_dir: Path, tmp_path: Path) -> None:
    scores_file = _write_jsonl(tmp_path / "armorm.jsonl", _best_of_n_rows(data_dir))
    outcome = run(_cfg("rewardmath", data_dir, tmp_path / "run", scores_file))
    ref, chosen = _reference(data_dir)
    loaded = load_run_dir(outcome.run_dir)
    assert len(loaded.items) == 2
    for ex in _examples("rewardmath", data_dir):
        s = ref[ex.prompt_text]
        best = s[chosen[ex.meta["problem_id"]]]
        expected = float(all(best > v for w, v in s.items() if w != chosen[ex.meta["problem_id"]]))
        item = loaded.items[ex.id]
        assert item.metrics["accuracy"] == expected
        assert item.scores["correct"] == [best]
    model = loaded.run["model"]
    assert model["kind"] == "precomputed" and model["id"] == "ArmoRM-Llama3-8B-v0.1"
    assert model["scores_sha256"] == hashlib.sha256(scores_file.read_bytes()).hexdigest()
    assert (outcome.run_dir / "summary.json").exists() and (outcome.run_dir / "report.md").exists()


def test_rewardmath_pairwise_csv_by_order(data_dir: Path, tmp_path: Path) -> None:
    rows = _pairwise_rows(data_dir)
    path = tmp_path / "armorm.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["chosen", "rejected"])
        w.writeheader()
        w.writerows({"chosen": r["chosen"], "rejected": r["rejected"]} for r in rows)
    outcome = run(_cfg("rewardmath-pairwise", data_dir, tmp_path / "run", path, scores_by_order=True))
    expected = sum(r["chosen"] > r["rejected"] for r in rows) / len(rows)
    assert 0 < expected < 1  # ArmoRM gets some pairs right and some wrong here
    acc = outcome.summary["results"]["overall"]["metrics"]["accuracy"]
    assert acc["value"] == pytest.approx(expected)
    assert acc["clustered"]  # nine pairs per problem share a cluster

    # The same scores keyed by id give the same run; compare and gate treat it like any other run.
    keyed = run(_cfg("rewardmath-pairwise", data_dir, tmp_path / "keyed", _write_jsonl(tmp_path / "k.jsonl", rows)))
    comp = compare_runs(load_run_dir(outcome.run_dir), load_run_dir(keyed.run_dir), n_resamples=500)
    assert comp.rows["overall"]["diff"]["value"] == 0.0
    assert comp.rows["overall"]["mcnemar"]["b"] == comp.rows["overall"]["mcnemar"]["c"] == 0
    assert run_gate(outcome.run_dir, keyed.run_dir, max_drop=0.0, n_resamples=500).passed


def test_precomputed_reproduces_a_model_run(data_dir: Path, tmp_path: Path) -> None:
    model_run = run(RunConfig.from_flat(task="llmbar", model="baseline:length", kind="baseline", limit=6, data_dir=data_dir,
                              out_dir=tmp_path / "length", n_bootstrap=500))
    items = load_run_dir(model_run.run_dir).items
    rows = [{"id": i, "chosen": it.scores["chosen"], "rejected": it.scores["rejected"]} for i, it in items.items()]
    scores = _write_jsonl(tmp_path / "length.jsonl", rows)
    mine = run(_cfg("llmbar", data_dir, tmp_path / "byo", scores, model="length-offline", limit=6))
    again = load_run_dir(mine.run_dir).items
    assert {i: it.metrics for i, it in again.items()} == {i: it.metrics for i, it in items.items()}
    # A changed scores file is a different evaluator: resuming into the same directory is refused.
    rows[0]["chosen"] = rows[0]["chosen"] + 1000.0
    _write_jsonl(scores, rows)
    with pytest.raises(UserError, match="different configuration"):
        run(_cfg("llmbar", data_dir, tmp_path / "byo", scores, model="length-offline", limit=6))


def test_limited_run_ignores_rows_beyond_the_selection(data_dir: Path, tmp_path: Path) -> None:
    rows = _pairwise_rows(data_dir)
    outcome = run(_cfg("rewardmath-pairwise", data_dir, tmp_path / "run", _write_jsonl(tmp_path / "s.jsonl", rows),
                       limit=12))  # 9 pairs of one problem + 3 of the other
    assert outcome.summary["results"]["overall"]["n_items"] == 12


# ------------------------------------------------------------------------------------- errors


def _bind(path: Path, task: str, data_dir: Path, by_order: bool = False) -> None:
    PrecomputedAdapter(path, by_order=by_order).bind(_examples(task, data_dir))


def test_count_mismatch_by_order(data_dir: Path, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "short.jsonl", [{"chosen": 1, "rejected": 0}] * 17)
    with pytest.raises(UserError, match=r"short\.jsonl: 17 score rows but the run has 18 examples"):
        _bind(path, "rewardmath-pairwise", data_dir, by_order=True)


def test_unknown_missing_and_duplicate_ids(data_dir: Path, tmp_path: Path) -> None:
    rows = _pairwise_rows(data_dir)
    path = _write_jsonl(tmp_path / "s.jsonl", [*rows, {"id": "pair-99999", "chosen": 1, "rejected": 0}])
    with pytest.raises(RecordError, match=r"s\.jsonl:19: field 'id': unknown item id 'pair-99999'"):
        _bind(path, "rewardmath-pairwise", data_dir)
    path = _write_jsonl(tmp_path / "m.jsonl", rows[1:])
    with pytest.raises(UserError, match=r"m\.jsonl: no scores for 1 of 18 items \(e\.g\. 'pair-0'\)"):
        _bind(path, "rewardmath-pairwise", data_dir)
    path = _write_jsonl(tmp_path / "d.jsonl", [*rows, rows[3]])
    with pytest.raises(RecordError, match=r"d\.jsonl:19: field 'id': duplicate id 'pair-3' \(first at line 4\)"):
        _bind(path, "rewardmath-pairwise", data_dir)


def test_bad_scores_name_file_line_field(data_dir: Path, tmp_path: Path) -> None:
    rows = _pairwise_rows(data_dir)
    rows[2]["rejected"] = "high"
    with pytest.raises(RecordError, match=r"s\.jsonl:3: field 'rejected': not a number: 'high'"):
        _bind(_write_jsonl(tmp_path / "s.jsonl", rows), "rewardmath-pairwise", data_dir)
    path = tmp_path / "s.csv"
    path.write_text("id,chosen,rejected\npair-0,0.5,0.1\npair-1,,0.2\n")
    with pytest.raises(RecordError, match=r"s\.csv:3: field 'chosen': missing score"):
        _bind(path, "rewardmath-pairwise", data_dir)
    bon = _best_of_n_rows(data_dir)
    bon[1]["incorrect"] = bon[1]["incorrect"][:-1]
    with pytest.raises(RecordError, match=r"b\.jsonl:2: field 'incorrect': 8 scores, but the item has 9"):
        _bind(_write_jsonl(tmp_path / "b.jsonl", bon), "rewardmath", data_dir)
    bon = _best_of_n_rows(data_dir)
    bon[0]["correct"] = [None]
    with pytest.raises(RecordError, match=r"n\.jsonl:1: field 'correct\[0\]': not a number"):
        _bind(_write_jsonl(tmp_path / "n.jsonl", bon), "rewardmath", data_dir)


def test_cli_scores_option_and_exit_2(data_dir: Path, tmp_path: Path) -> None:
    good = _write_jsonl(tmp_path / "armorm.jsonl", _best_of_n_rows(data_dir))
    base = [sys.executable, "-m", "rmbench.cli", "run", "--task", "rewardmath", "--data-dir", str(data_dir), "--quiet",
            "--n-bootstrap", "200"]
    proc = subprocess.run([*base, "--scores", str(good), "--out", str(tmp_path / "ok")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run_json = json.loads((tmp_path / "ok" / "run.json").read_text())
    assert run_json["model"]["id"] == "precomputed:armorm" and run_json["config"]["kind"] == "precomputed"
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"id": "problem-0", "correct": ["x"], "incorrect": [0] * 9}])
    proc = subprocess.run([*base, "--scores", str(bad), "--out", str(tmp_path / "bad")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert "bad.jsonl:1: field 'correct[0]': not a number" in " ".join(proc.stderr.split())
