"""Sections as weighted means of subset means (``scoring.subset_weights``), as upstream RewardBench.

Reference: allenai/reward-bench ``rewardbench/utils.py`` ``calculate_scores_per_section`` (commit
a0096928eb1d54edd3f6361374708cc68e738b79) with ``rewardbench/constants.py`` ``EXAMPLE_COUNTS`` and
``SUBSET_MAPPING`` (commit a32e272b3e018467f742a1b4d18c4cc3d0317d31):
``section = sum_s acc_s * count_s / sum_s count_s``, with math-prm counted as 984 (its size is 447).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from rmbench.data.task import ScoringSpec, load_task
from rmbench.datatypes import ItemResult
from rmbench.results.aggregates import subset_weighted_mean
from rmbench.runner import RunConfig, run

FIXTURE = Path(__file__).parent / "fixtures" / "rewardbench_sample.jsonl"
# Made-up verdicts per item id: 1.0 = chosen scored above rejected.
RIGHT = {"1": 1, "2": 1, "3": 0, "101": 1, "102": 0, "201": 1, "202": 0, "203": 0}

UPSTREAM_EXAMPLE_COUNTS = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95, "mt-bench-easy": 28,
    "mt-bench-med": 40, "mt-bench-hard": 37, "math-prm": 984, "refusals-dangerous": 100,
    "refusals-offensive": 100, "llmbar-natural": 100, "llmbar-adver-neighbor": 134, "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46, "xstest-should-refuse": 250,
    "xstest-should-respond": 154, "donotanswer": 136, "hep-cpp": 164, "hep-go": 164, "hep-java": 164,
    "hep-js": 164, "hep-python": 164, "hep-rust": 164,
}  # fmt: skip


def test_rewardbench_yaml_reproduces_upstream_example_counts() -> None:
    spec = load_task("rewardbench").spec
    assert spec.scoring.subset_weights == UPSTREAM_EXAMPLE_COUNTS
    assert spec.version == 2
    assert sum(UPSTREAM_EXAMPLE_COUNTS.values()) - 984 + 447 == 2985  # the filtered split's size


def _run_fixture(tmp_path: Path) -> dict[str, Any]:
    """The fixture with the llmbar-natural rows relabelled math-prm, so Reasoning mixes math and code."""
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    for r in rows:
        if r["subset"] == "llmbar-natural":
            r["subset"] = "math-prm"
    data = tmp_path / "filtered.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps({"id": i, "chosen": float(v), "rejected": 0.5}) + "\n" for i, v in RIGHT.items()))
    outcome = run(RunConfig.from_flat(
        task="rewardbench", model="made-up", kind="precomputed", scores_file=scores, out_dir=tmp_path / "run",
        task_overrides={"source": {"local": {"files": [str(data)]}}}, n_bootstrap=400,
    ))  # fmt: skip
    return outcome.summary


def test_sections_are_weighted_means_of_subset_accuracies(tmp_path: Path) -> None:
    res = _run_fixture(tmp_path)["results"]
    acc = {s: res["subsets"][s]["metrics"]["accuracy"]["value"] for s in res["subsets"]}
    assert acc == {"alpacaeval-easy": pytest.approx(2 / 3), "math-prm": 0.5, "hep-python": pytest.approx(1 / 3)}
    sections = res["sections"]
    assert sorted(sections) == ["Chat", "Reasoning"]  # Chat Hard and Safety have no items here
    reasoning = sections["Reasoning"]
    by_hand = (984 * 0.5 + 164 * (1 / 3)) / (984 + 164)  # 0.4762; pooling the 5 items would give 0.4
    est = reasoning["metrics"]["accuracy"]
    assert est["value"] == pytest.approx(by_hand)
    assert est["low"] < est["value"] < est["high"] and est["n"] == 5
    assert reasoning["weighting"] == "subset_weights" and reasoning["weights"] == {"math-prm": 984, "hep-python": 164}
    assert (reasoning["n_items"], reasoning["subsets"]) == (5, ["math-prm", "hep-python"])
    assert sections["Chat"]["metrics"]["accuracy"]["value"] == pytest.approx(2 / 3)
    # The length baseline gets the same weighting: math-prm 0/2 (a tie and a loss), hep-python 2/3.
    length = reasoning["baselines"]["length"]["accuracy"]["value"]
    assert length == pytest.approx((984 * 0.0 + 164 * (2 / 3)) / 1148)
    assert "section: Reasoning" in (tmp_path / "run" / "report.md").read_text()


def test_subset_weighted_mean_counts_only_items_where_the_metric_is_defined() -> None:
    items = [
        ItemResult("a1", "a", "a1", "h", {"m": 1.0}, {}),
        ItemResult("a2", "a", "a2", "h", {"m": None}, {}),  # excluded: subset a's mean is 1.0
        ItemResult("b1", "b", "b1", "h", {"m": 0.0}, {}),
        ItemResult("b2", "b", "b2", "h", {"m": 1.0}, {}),
        ItemResult("c1", "c", "c1", "h", {"m": None}, {}),  # subset c has no value and drops out
    ]
    est = subset_weighted_mean(items, "m", {"a": 1.0, "b": 3.0, "c": 5.0}, np.random.default_rng(0), n_resamples=200)
    assert est["value"] == pytest.approx((1.0 * 1.0 + 3.0 * 0.5) / 4.0)
    assert est["n"] == 3 and est["subset_weights"] == {"a": 1.0, "b": 3.0}
    with pytest.raises(ValueError, match="no subset weight for c"):
        subset_weighted_mean(items, "m", {"a": 1.0, "b": 3.0}, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("scoring", "message"),
    [({"sections": {"S": ["a", "b"]}, "subset_weights": {"a": 1}}, "section 'S' has subset_weights for some"),
     ({"sections": {"S": ["a"]}, "subset_weights": {"a": 0}}, "positive finite"),
     ({"sections": {"S": ["a"]}, "subset_weights": {"a": 1, "typo": 2}}, "in no section: typo")],
)  # fmt: skip
def test_subset_weights_are_validated(scoring: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScoringSpec.model_validate(scoring)
