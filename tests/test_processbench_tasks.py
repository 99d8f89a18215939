"""Step-level tasks: converters with exact counts and label conventions, F1 with its interval, and
end-to-end runs of a tiny process reward model (threshold policy recorded, tuning refused on the
evaluated split)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.datatypes import ItemResult, StepwiseExample
from rmbench.errors import UserError
from rmbench.results.summary import compute_results

MATH_V0 = {"source": {"local": {"files": {"math": "processbench/math_v0_github_2f2fd8ae.json"}}}}


def _examples(task: str, data_dir: Path, overrides: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    return load_examples(load_task(task, overrides=overrides).spec, data_dir, **kw)


# ----------------------------------------------------------------------------------- converters


def test_processbench_counts_and_label_convention(data_dir: Path) -> None:
    exset = _examples("processbench", data_dir)
    assert Counter(e.subset for e in exset.examples) == {"gsm8k": 400, "math": 1000, "olympiadbench": 1000,
                                                           "omnimath": 1000}
    correct = Counter(e.subset for e in exset.examples if e.first_error is None)
    assert correct == {"gsm8k": 193, "math": 406, "olympiadbench": 339, "omnimath": 241}  # upstream label -1
    by_id = {e.id: e for e in exset.examples}
    raw = json.loads((data_dir / "processbench" / "gsm8k.json").read_text())
    assert by_id["gsm8k-0"].first_error == raw[0]["label"] == 1  # 0-based upstream, kept as is
    assert all(isinstance(e, StepwiseExample) for e in exset.examples)


def test_processbench_math_688_corrected_vs_original(data_dir: Path) -> None:
    fixed = {e.id: e for e in _examples("processbench", data_dir, subsets=["math"]).examples}
    v0 = _examples("processbench", data_dir, MATH_V0, subsets=["math"])
    original = {e.id: e for e in v0.examples}
    assert fixed["math-688"].first_error == 0 and original["math-688"].first_error == 2
    assert [i for i in fixed if fixed[i].content_hash() != original[i].content_hash()] == ["math-688"]
    assert "processbench/math_v0_github_2f2fd8ae.json" in v0.source.files  # the file used is recorded


def test_processbench_limit_alternates_erroneous_and_correct(data_dir: Path) -> None:
    exset = _examples("processbench", data_dir, limit=4)
    for subset in ("gsm8k", "math", "olympiadbench", "omnimath"):
        kinds = [e.first_error is None for e in exset.examples if e.subset == subset]
        assert kinds == [False, True, False, True]


def test_prmbench_counts_labels_and_typo(data_dir: Path) -> None:
    exset = _examples("prmbench", data_dir)
    counts = Counter(e.subset for e in exset.examples)
    assert counts == {"redundancy": 758, "circular_logic": 758, "step_contradiction": 758, "domain_inconsistency": 757,
                      "counterfactual": 756, "confidence": 752, "deception": 749, "missing_condition": 747}
    assert exset.records_read == 6051 and exset.records_skipped == 16  # no wrong step inside the solution
    ex = next(e for e in exset.examples if e.id == "circular_logic:prm_test_p1_0")
    assert ex.first_error == 2 and ex.step_labels == (1, 1, 0, 0, 0, 1, 1)  # upstream error_steps [3, 4, 5]
    assert ex.cluster == "prm_test_p1_0"
    assert all(e.step_labels is not None and e.step_labels[e.first_error] == 0 for e in exset.examples)


def test_mr_gsm8k_counts_and_one_based_steps(data_dir: Path) -> None:
    exset = _examples("mr-gsm8k", data_dir)
    assert len(exset.examples) == 590
    assert Counter(e.subset for e in exset.examples) == {"original": 340, "reversed": 187, "POT": 63}
    assert all(e.first_error is not None for e in exset.examples)
    first = json.loads((data_dir / "mr-gsm8k" / "mr_gsm8k_wrong_subset_union.jsonl").read_text().splitlines()[0])
    ex = next(e for e in exset.examples if e.id == first["uuid"])
    assert ex.first_error == first["model_output_solution_first_error_step"] - 1


# --------------------------------------------------------------------------- F1 and its interval


def _item(i: int, subset: str, acc_e: float | None, acc_c: float | None) -> ItemResult:
    return ItemResult(id=f"{subset}-{i:03d}", subset=subset, cluster=f"{subset}-{i:03d}", example_hash="",
                      metrics={"acc_erroneous": acc_e, "acc_correct": acc_c}, scores={})


def test_f1_is_the_harmonic_mean_with_a_bootstrapped_interval() -> None:
    rng = np.random.default_rng(0)
    items = []
    for subset, (p_e, p_c) in {"a": (0.3, 0.9), "b": (0.6, 0.5)}.items():
        items += [_item(i, subset, float(rng.random() < p_e), None) for i in range(60)]
        items += [_item(60 + i, subset, None, float(rng.random() < p_c)) for i in range(40)]
    spec = load_task("processbench").spec
    run = {"config": {"seed": 0, "n_bootstrap": 2000, "confidence": 0.95},
           "task": {"scoring": spec.scoring.model_dump()}, "data": {"subsets": ["a", "b"]}}
    spec_sections = {"average": ["a", "b"]}
    run["task"]["scoring"]["sections"] = spec_sections
    res = compute_results(run, items)

    def hand(its: list[ItemResult]) -> float:
        e = np.mean([it.metrics["acc_erroneous"] for it in its if it.metrics["acc_erroneous"] is not None])
        c = np.mean([it.metrics["acc_correct"] for it in its if it.metrics["acc_correct"] is not None])
        return float(2 * e * c / (e + c))

    for name, block in [("a", res["subsets"]["a"]), ("b", res["subsets"]["b"]), ("all", res["overall"])]:
        its = items if name == "all" else [it for it in items if it.subset == name]
        f1 = block["metrics"]["f1"]
        assert f1["value"] == pytest.approx(hand(its))
        assert f1["low"] < f1["value"] < f1["high"]
        # reference: a plain item bootstrap of the harmonic mean (independent draws) gives a similar interval
        boot = np.random.default_rng(7)
        ref = [hand([its[j] for j in boot.integers(0, len(its), len(its))]) for _ in range(1000)]
        lo, hi = np.quantile(ref, [0.025, 0.975])
        assert abs(f1["low"] - lo) < 0.04 and abs(f1["high"] - hi) < 0.04
    average = res["sections"]["average"]["metrics"]["f1"]["value"]
    assert average == pytest.approx((hand(items[:100]) + hand(items[100:])) / 2)


# ---------------------------------------------------------------------------------- end to end


def _run(args: list[str]):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    return CliRunner().invoke(app, ["run", "--quiet", "--n-bootstrap", "300", *args])


def test_end_to_end_processbench_reports_three_numbers_with_intervals(
    tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    r = _run(["--model", str(tiny_lm_dir), "--kind", "process", "--task", "processbench",
              "--data-dir", str(data_dir), "--limit", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    res = summary["results"]
    for split in ("gsm8k", "math", "olympiadbench", "omnimath"):
        block = res["subsets"][split]
        assert block["n_items"] == 10
        for metric in ("acc_erroneous", "acc_correct", "f1"):
            est = block["metrics"][metric]
            assert est["value"] is not None and est["low"] <= est["value"] <= est["high"], (split, metric, est)
        assert block["metrics"]["acc_erroneous"]["n"] == 5 and block["metrics"]["acc_correct"]["n"] == 5
        assert block["metrics"]["step_auroc"]["value"] is not None
    average = res["sections"]["average"]["metrics"]["f1"]["value"]
    assert average == pytest.approx(np.mean([res["subsets"][s]["metrics"]["f1"]["value"] for s in res["subsets"]]))
    assert summary["model"]["process"]["threshold"]["policy"] == "fixed"
    assert summary["model"]["process"]["threshold"]["value"] == 0.5
    assert summary["data"]["source"]["files"]["processbench/math.json"]
    report = (out / "report.md").read_text()
    assert "threshold policy: **fixed** at 0.5" in report
    assert "section: average (mean of subsets)" in report and "## Task notes" in report


def test_threshold_tuned_on_gsm8k_is_recorded_and_applied_unchanged(
    tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    from rmbench.adapters.steps.metrics import first_below, tune_threshold
    from rmbench.results.files import read_items

    dev = tmp_path / "dev"
    common = ["--model", str(tiny_lm_dir), "--kind", "process", "--task", "processbench", "--data-dir", str(data_dir)]
    r = _run([*common, "--subset", "gsm8k", "--limit", "12", "--out", str(dev)])
    assert r.exit_code == 0, r.output
    dev_items = list(read_items(dev / "items.jsonl").items.values())
    expected = tune_threshold([it.scores["step_scores"] for it in dev_items],
                              [it.extra["gold_first_error"] for it in dev_items])

    out = tmp_path / "eval"
    r = _run([*common, "--subset", "math", "--subset", "omnimath", "--limit", "4", "--out", str(out),
              "--threshold-from", str(dev), "--threshold-split", "gsm8k"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    policy = summary["model"]["process"]["threshold"]
    assert policy["policy"] == "tuned" and policy["value"] == expected["threshold"]
    assert policy["dev_splits"] == ["gsm8k"] and policy["dev_items"] == 12 and policy["dev_summary_sha256"]
    for it in read_items(out / "items.jsonl").items.values():
        assert it.scores["threshold"] == expected["threshold"]
        assert it.scores["first_error"] == first_below(it.scores["step_scores"], expected["threshold"])
    assert "threshold policy: **tuned**" in (out / "report.md").read_text()

    r = _run([*common, "--subset", "gsm8k", "--subset", "math", "--limit", "4", "--out", str(tmp_path / "bad"),
              "--threshold-from", str(dev)])
    assert isinstance(r.exception, UserError) and "evaluated split" in str(r.exception)


def test_mr_gsm8k_report_says_only_erroneous_items(tiny_lm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mr"
    r = _run(["--model", str(tiny_lm_dir), "--kind", "process", "--task", "mr-gsm8k", "--data-dir", str(data_dir),
              "--limit", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = (out / "report.md").read_text()
    assert "Only erroneous solutions are present" in report
    assert "acc_correct" not in report.split("## Task notes")[0]  # undefined on every item: not a column
    assert json.loads((out / "summary.json").read_text())["results"]["primary_metric"] == "acc_erroneous"
