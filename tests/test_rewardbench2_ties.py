"""RewardBench 2 Ties: grading, per-prompt terms, the ``ties_score`` aggregate and its interval.

Reference: allenai/reward-bench ``rewardbench/utils.py`` (``_compute_prompt_stats``,
``process_single_model``), commit a0096928eb1d54edd3f6361374708cc68e738b79. Scores below are made up
so that every term of the formula is known by hand; the rows are the real ones in
``<data>/rewardbench2/ties_sample_tied41-45.jsonl`` (prompts 41-45, a ``tied`` and a ``ref`` row each).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rmbench.data.examples import load_examples
from rmbench.data.task import AggregateSpec, ScoringSpec, load_task
from rmbench.datatypes import ItemResult, MultiResponseExample, Prediction
from rmbench.grading.core import Policies, grade, grade_clusters
from rmbench.grading.ties import WEIGHTS, margin_term, prompt_terms, row_stats
from rmbench.results.aggregates import aggregate
from rmbench.runner import RunConfig, run

TIES_FILE = Path("rewardbench2") / "ties_sample_tied41-45.jsonl"


def _spaced(lo: float, hi: float, n: int) -> list[float]:
    """``n`` scores from ``lo`` to ``hi`` (just ``hi`` when ``n == 1``)."""
    return [hi] if n == 1 else [lo + (hi - lo) * i / (n - 1) for i in range(n)]


# prompt -> (tied: min correct, max correct, max incorrect), (ref: correct, max incorrect)
DESIGN: dict[int, tuple[tuple[float, float, float], tuple[float, float]]] = {
    41: ((2.0, 3.0, 0.5), (4.0, 1.0)),  # gap_t 1.5 > spread 1; min(gap_r 3, 1.5) > 1
    42: ((1.0, 3.0, 0.0), (1.0, 0.5)),  # gap_t 1 < spread 2
    43: ((1.0, 1.5, 2.0), (3.0, 1.0)),  # tied row wrong: gap_t = 1 - 2 = -1, spread 0.5
    44: ((1.0, 1.0, 0.0), (0.0, 0.0)),  # spread 0; ref row is a tie (wrong); margin 0 / 0 -> 0
    45: ((2.0, 2.2, 1.0), (5.0, 1.0)),  # gap_t 1 > spread 0.2; min(4, 1) > 0.2
}
# By hand from DESIGN: per prompt (tied accurate, ref accurate, preferred, preferred_hard, margin).
BY_HAND = {
    41: (1, 1, 1, 1, math.tanh(1.5 / 1.0 - 1)),
    42: (1, 1, 0, 0, math.tanh(0.5 / 2.0 - 1)),
    43: (0, 1, 0, 0, math.tanh(-1.0 / 0.5 - 1)),
    44: (1, 0, 1, 0, 0.0),
    45: (1, 1, 1, 1, math.tanh(1.0 / 0.2 - 1)),
}


def _score_row(ex: MultiResponseExample) -> dict[str, Any]:
    k, m = len(ex.correct), len(ex.incorrect)
    if "ties_role" not in ex.meta:  # a best-of-4 row: the correct response wins
        return {"id": ex.id, "correct": [1.0] * k, "incorrect": [0.0] * m}
    role, n = ex.meta["ties_role"], ex.meta["ties_prompt"]
    k, m = len(ex.correct), len(ex.incorrect)
    if role == "tied":
        lo, hi, bad = DESIGN[n][0]
        correct = _spaced(lo, hi, k)
    else:
        good, bad = DESIGN[n][1]
        correct = [good] * k
    return {"id": ex.id, "correct": correct, "incorrect": _spaced(bad - 1.0, bad, m)}


def _ties_score(prompts: list[int], tied_rows: list[int], ref_rows: list[int]) -> float:
    """Upstream's score from the hand values: accuracies over rows, the rest over prompts with both rows."""
    terms = {
        "tied_acc": np.mean([BY_HAND[n][0] for n in tied_rows]),
        "ref_acc": np.mean([BY_HAND[n][1] for n in ref_rows]),
        "preferred": np.mean([BY_HAND[n][2] for n in prompts]),
        "preferred_hard": np.mean([BY_HAND[n][3] for n in prompts]),
        "margin": np.mean([BY_HAND[n][4] for n in prompts]),
    }
    return float(sum(WEIGHTS[k] * v for k, v in terms.items()))


def _spec(files: list[Path]) -> Any:
    return load_task("rewardbench-2", overrides={"source": {"local": {"files": [str(f) for f in files]}}}).spec


def _run(tmp_path: Path, rows_file: Path, name: str) -> dict[str, Any]:
    examples = load_examples(_spec([rows_file]), None).examples
    scores = tmp_path / f"{name}-scores.jsonl"
    scores.write_text("".join(json.dumps(_score_row(ex)) + "\n" for ex in examples))  # type: ignore[arg-type]
    outcome = run(RunConfig.from_flat(
        task="rewardbench-2", model="made-up-scores", kind="precomputed", scores_file=scores,
        task_overrides={"source": {"local": {"files": [str(rows_file)]}}}, out_dir=tmp_path / name,
        n_bootstrap=400,
    ))  # fmt: skip
    return outcome.summary


# ------------------------------------------------------------------------------ pure formulas


def test_row_stats_prompt_terms_and_margin_by_hand() -> None:
    assert row_stats([2.0, 3.0, 2.5], [0.5, -1.0]) == (1.5, 1.0)
    assert row_stats([4.0], [1.0, 0.0]) == (3.0, None)
    assert prompt_terms(gap_tied=1.5, spread_tied=1.0, gap_ref=3.0) == {
        "preferred": 1.0, "preferred_hard": 1.0, "margin": pytest.approx(math.tanh(0.5)),
    }  # fmt: skip
    assert prompt_terms(gap_tied=1.0, spread_tied=0.2, gap_ref=0.1)["preferred_hard"] == 0.0
    # numpy semantics of upstream's division: x / 0 -> +-inf -> tanh = +-1, 0 / 0 -> NaN -> 0
    assert (margin_term(2.0, 0.0), margin_term(-2.0, 0.0), margin_term(0.0, 0.0)) == (1.0, -1.0, 0.0)


def test_prompt_terms_match_upstream_numpy_expressions() -> None:
    """The per-prompt terms against upstream's own vectorised expressions (process_single_model)."""
    gap_t = np.array([1.5, 1.0, -0.5, 1.0, 1.0, 0.0, -2.0])
    spread = np.array([1.0, 2.0, 0.5, 0.0, 0.2, 0.0, 0.0])
    gap_r = np.array([3.0, 0.5, 2.0, 0.0, 4.0, 0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        preferred = gap_t > spread
        hard = np.minimum(gap_r, gap_t) > spread
        margin = np.nan_to_num(np.tanh(np.minimum(gap_r, gap_t) / spread - 1), nan=0.0)
    for i in range(len(gap_t)):
        terms = prompt_terms(float(gap_t[i]), float(spread[i]), float(gap_r[i]))
        assert (terms["preferred"], terms["preferred_hard"]) == (float(preferred[i]), float(hard[i]))
        assert terms["margin"] == pytest.approx(float(margin[i]))


# ------------------------------------------------------------------------------- conversion


def test_real_ties_rows_give_five_prompts_of_two_rows(data_dir: Path) -> None:
    examples = load_examples(_spec([data_dir / TIES_FILE]), None).examples
    by_prompt: dict[str, dict[str, MultiResponseExample]] = defaultdict(dict)
    for ex in examples:
        assert isinstance(ex, MultiResponseExample) and ex.scoring == "ties" and ex.subset == "Ties"
        by_prompt[ex.cluster][ex.meta["ties_role"]] = ex
    assert sorted(by_prompt) == [f"ties:{n}" for n in range(41, 46)]
    for cluster, rows in by_prompt.items():
        tied, ref = rows["tied"], rows["ref"]
        assert (tied.id, ref.id) == (cluster.replace("ties", "tied"), cluster.replace("ties", "ref"))
        # Each row keeps its own prompt: the ref row's narrowed question is not the tied row's.
        assert tied.prompt_text != ref.prompt_text
        assert len(tied.correct) >= 2 and len(ref.correct) == 1
    assert by_prompt["ties:41"]["ref"].prompt_text == "How do you say hello in Japanese?"


# ----------------------------------------------------------------------------------- grading


def test_grader_and_cluster_grader_on_made_up_scores(data_dir: Path) -> None:
    examples = load_examples(_spec([data_dir / TIES_FILE]), None).examples
    policies = Policies()
    items = []
    for ex in examples:
        assert isinstance(ex, MultiResponseExample)
        row = _score_row(ex)
        g = grade(ex, Prediction({"correct": row["correct"], "incorrect": row["incorrect"]}), policies)
        tied = ex.meta["ties_role"] == "tied"
        expected = BY_HAND[ex.meta["ties_prompt"]][0 if tied else 1]
        assert g.metrics == {
            "accuracy": expected, "tied_acc": expected if tied else None, "ref_acc": None if tied else expected,
        }  # fmt: skip
        assert g.ties == int(ex.id == "ref:44") and g.extra is not None
        assert g.extra["ties"]["role"] == ex.meta["ties_role"] and g.extra["cluster_grader"] == "ties"
        items.append(ItemResult(ex.id, ex.subset, ex.cluster, ex.content_hash(), g.metrics, {}, extra=g.extra))
    per_prompt = grade_clusters(items, policies)
    assert [r.id for r in per_prompt] == [f"ties:{n}" for n in range(41, 46)]
    for r in per_prompt:
        hand = BY_HAND[int(r.id.split(":")[1])]
        assert r.metrics == {"preferred": hand[2], "preferred_hard": hand[3], "margin": pytest.approx(hand[4])}


def _item(ident: str, role: str, gap: float | None, spread: float | None) -> ItemResult:
    extra = {"cluster_grader": "ties", "ties": {"role": role, "prompt": 1, "gap": gap, "spread": spread}}
    return ItemResult(ident, "Ties", "ties:1", "h", {}, {}, extra=extra)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("wrong", {"preferred": 0.0, "preferred_hard": 0.0, "margin": 0.0}),
     ("half", {"preferred": 0.5, "preferred_hard": 0.5, "margin": 0.0}),
     ("exclude", {"preferred": None, "preferred_hard": None, "margin": None})],
)  # fmt: skip
def test_a_prompt_with_an_unscorable_row_follows_the_invalid_policy(policy: str, expected: dict) -> None:
    items = [_item("tied:1", "tied", 1.0, 0.5), _item("ref:1", "ref", None, None)]
    (result,) = grade_clusters(items, Policies(invalid_policy=policy))  # type: ignore[arg-type]
    assert result.metrics == expected


def test_missing_row_single_answer_tied_row_and_duplicate_roles() -> None:
    assert grade_clusters([_item("tied:1", "tied", 1.0, 0.5)], Policies()) == []  # no ref row: no terms
    (single,) = grade_clusters([_item("tied:1", "tied", 1.0, None), _item("ref:1", "ref", 1.0, None)], Policies())
    assert single.metrics == {"preferred": None, "preferred_hard": None, "margin": None}
    with pytest.raises(ValueError, match="two 'tied' rows"):
        grade_clusters([_item("tied:1", "tied", 1.0, 0.5), _item("tied:1b", "tied", 1.0, 0.5)], Policies())


# -------------------------------------------------------------------------- weighted_sum


def test_weighted_sum_aggregate_and_its_spec() -> None:
    items = [
        ItemResult("a", "s", "c1", "h", {"x": 1.0, "y": None}, {}),
        ItemResult("b", "s", "c2", "h", {"x": 0.0, "y": 0.5}, {}),
        ItemResult("c", "s", "c3", "h", {"x": 1.0, "y": 1.0}, {}),
    ]
    rng = np.random.default_rng(0)
    est = aggregate(items, "weighted_sum", ["x", "y"], rng, n_resamples=300, weights=[0.3, 2.0])
    assert est["value"] == pytest.approx(0.3 * 2 / 3 + 2.0 * 0.75)  # each mean over its own defined items
    assert est["low"] <= est["value"] <= est["high"] and est["weights"] == [0.3, 2.0]
    with pytest.raises(ValueError, match="one weight per metric"):
        AggregateSpec(kind="weighted_sum", of=["x", "y"], weights=[1.0])
    with pytest.raises(ValueError, match="one weight per metric"):
        AggregateSpec(kind="weighted_sum", of=["x"])
    with pytest.raises(ValueError, match="takes no weights"):
        AggregateSpec(kind="mean_of", of=["x"], weights=[1.0])


def test_task_declares_upstream_weights() -> None:
    spec = load_task("rewardbench-2").spec
    agg = spec.scoring.aggregates["ties_score"]
    assert spec.version == 3 and agg.kind == "weighted_sum"
    assert dict(zip(agg.of, agg.weights or [], strict=True)) == WEIGHTS
    assert spec.scoring.subset_metrics == {"Ties": "ties_score"} and spec.scoring.section_weighting == "subsets"


# ------------------------------------------------------------------------------ end to end


def test_run_summary_reports_ties_score_with_a_ci(data_dir: Path, tmp_path: Path) -> None:
    summary = _run(tmp_path, data_dir / TIES_FILE, "all")
    ties = summary["results"]["subsets"]["Ties"]
    prompts = list(range(41, 46))
    est = ties["metrics"]["ties_score"]
    assert est["value"] == pytest.approx(_ties_score(prompts, prompts, prompts))
    assert est["value"] == pytest.approx(0.68 + 0.01 * np.mean([BY_HAND[n][4] for n in prompts]))
    assert est["low"] < est["value"] < est["high"] and est["n_clusters"] == 5
    m = ties["metrics"]
    assert (m["tied_acc"]["value"], m["ref_acc"]["value"], m["preferred"]["value"]) == (0.8, 0.8, 0.6)
    assert (m["preferred_hard"]["value"], m["preferred"]["n"], m["accuracy"]["n"]) == (0.4, 5, 10)
    assert ties["n_items"] == 10 and ties["ties"] == 1  # ref:44: correct and incorrect both 0.0
    report = (tmp_path / "all" / "report.md").read_text()
    assert "ties_score (95% CI)" in report


def test_prompt_missing_a_row_counts_in_accuracy_only(data_dir: Path, tmp_path: Path) -> None:
    """Upstream: accuracies average every row of their role; the per-prompt terms need both rows."""
    lines = (data_dir / TIES_FILE).read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["id"] != "ref:45"]
    assert len(kept) == 9
    rows_file = tmp_path / "ties_without_ref45.jsonl"
    rows_file.write_text("\n".join(kept) + "\n")
    summary = _run(tmp_path, rows_file, "missing")
    m = summary["results"]["subsets"]["Ties"]["metrics"]
    both = [41, 42, 43, 44]
    assert (m["tied_acc"]["n"], m["ref_acc"]["n"], m["preferred"]["n"]) == (5, 4, 4)
    assert m["ties_score"]["value"] == pytest.approx(_ties_score(both, list(range(41, 46)), both))


def test_overall_score_uses_the_ties_score_for_ties(data_dir: Path, tmp_path: Path) -> None:
    """Upstream's leaderboard: mean of the subset scores, accuracy for best-of-4 and the Ties score for Ties."""
    rows_file = tmp_path / "precise_if_and_ties.jsonl"
    rows_file.write_text(
        (data_dir / "rewardbench2" / "precise_if_sample_id561.jsonl").read_text().rstrip("\n") + "\n"
        + (data_dir / TIES_FILE).read_text()
    )
    summary = _run(tmp_path, rows_file, "overall")
    res = summary["results"]
    overall = res["sections"]["Overall"]
    ties_score = res["subsets"]["Ties"]["metrics"]["ties_score"]["value"]
    assert res["subsets"]["Precise IF"]["metrics"]["accuracy"]["value"] == 1.0
    assert overall["score"]["of"] == {"Precise IF": "accuracy", "Ties": "ties_score"}
    assert overall["score"]["value"] == pytest.approx((1.0 + ties_score) / 2) and overall["score"]["missing"] == []
    # the section's accuracy stays the mean of per-subset accuracies (Ties rows pooled)
    assert overall["metrics"]["accuracy"]["value"] == pytest.approx((1.0 + 0.8) / 2)
    report = (tmp_path / "overall" / "report.md").read_text()
    assert f"**Overall score: {100 * (1.0 + ties_score) / 2:.1f}**" in report and "Ties ties_score" in report


@pytest.mark.parametrize(
    ("scoring", "message"),
    [
        ({"sections": {"S": ["a"]}, "subset_metrics": {"a": "f1"}}, "needs section_weighting: subsets"),
        ({"sections": {"S": ["a"]}, "section_weighting": "subsets", "subset_metrics": {"b": "f1"}}, "in no section: b"),
    ],
)
def test_subset_metrics_spec_errors(scoring: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringSpec(**scoring)
