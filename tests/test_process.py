"""Process reward models: one-pass step scores, aggregation, thresholds, step AUROC, grading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rmbench.adapters.steps.metrics import (
    aggregate_steps,
    first_below,
    processbench_f1,
    step_auroc,
    tune_threshold,
)
from rmbench.adapters.steps.process import ProcessAdapter, ProcessSettings, build_process_adapter, tokens_at
from rmbench.adapters.steps.thresholds import fixed_threshold, tune_from_run
from rmbench.datatypes import ItemResult, MultiResponseExample, Prediction, StepwiseExample
from rmbench.errors import UserError
from rmbench.grading.core import Policies, grade

STEPS = (
    "Tom has 3 apples and buys 4 more.",
    "So he has 3 + 4 = 8 apples.",
    "He gives away 2, leaving 6.",
    "The answer is 6.",
)


def _example(i: int = 0, first_error: int | None = 1, steps: tuple[str, ...] = STEPS) -> StepwiseExample:
    return StepwiseExample(id=f"x{i}", subset="s", prompt=f"Problem {i}: how many apples?", steps=steps,
                           first_error=first_error)


@pytest.fixture(scope="module")
def lm_adapter(tiny_lm_dir: Path) -> ProcessAdapter:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    return build_process_adapter(TransformersBackend(ModelConfig(model=str(tiny_lm_dir))), ProcessSettings())


@pytest.fixture(scope="module")
def tokcls_adapter(tiny_tokcls_dir: Path) -> ProcessAdapter:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    backend = TransformersBackend(ModelConfig(model=str(tiny_tokcls_dir), token_budget=256))
    return build_process_adapter(backend, ProcessSettings(step_separator=" ки\n"))


# ------------------------------------------------------------------------- one forward pass


@pytest.mark.parametrize("which", ["lm_adapter", "tokcls_adapter"])
def test_one_pass_equals_per_prefix_scoring(which: str, request: pytest.FixtureRequest) -> None:
    adapter: ProcessAdapter = request.getfixturevalue(which)
    examples = [_example(i, steps=STEPS[: 2 + i]) for i in range(3)]
    one_pass, _ = adapter.score_solutions([e.prompt for e in examples], [list(e.steps) for e in examples])
    for ex, scores in zip(examples, one_pass, strict=True):
        enc = adapter.encode(ex.prompt, ex.steps)
        assert len(enc.positions) == len(ex.steps) == len(scores)
        prefixes = [enc.ids[: p + 1] for p in enc.positions]
        logits = adapter.backend.position_logits(prefixes, [[p] for p in enc.positions],
                                                 token_ids=adapter.token_ids, head=adapter.head)
        per_prefix = [float(adapter.step_probabilities(x)[0]) for x in logits]
        np.testing.assert_allclose(scores, per_prefix, atol=1e-5, rtol=0)
    calls = adapter.backend.backend.stats.forward_calls
    adapter.score_solutions([examples[0].prompt], [list(examples[0].steps)])
    assert adapter.backend.backend.stats.forward_calls == calls + 1  # all steps of a solution: one forward


def test_positions_point_at_the_separator(lm_adapter: ProcessAdapter, tokcls_adapter: ProcessAdapter) -> None:
    enc = lm_adapter.encode(({"role": "user", "content": "Q"},), STEPS)
    assert all("\n" in lm_adapter.tokenizer.decode([enc.ids[p]]) for p in enc.positions)
    enc = tokcls_adapter.encode(({"role": "user", "content": "Q"},), STEPS)
    tail = [tokcls_adapter.tokenizer.decode(enc.ids[: p + 1])[-3:] for p in enc.positions]
    assert all(t.endswith("ки") for t in tail), tail  # read at the tag, not at the newline after it
    assert tokens_at([(0, 0), (0, 2), (2, 4)], [3, 0]) == [2, 1]


def test_head_resolution_and_step_probabilities(lm_adapter: ProcessAdapter, tokcls_adapter: ProcessAdapter) -> None:
    assert lm_adapter.head == "causal-lm" and tokcls_adapter.head == "token-cls"
    assert lm_adapter.token_ids is not None and len(set(lm_adapter.token_ids)) == 2
    # causal LM: softmax over (good, bad) logits only
    p = lm_adapter.step_probabilities(np.array([[2.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(p, [1 / (1 + np.exp(-2.0)), 0.5])
    # token classifier: softmax probability of label 1
    p = tokcls_adapter.step_probabilities(np.array([[0.0, np.log(3.0)]], dtype=np.float32))
    np.testing.assert_allclose(p, [0.75])


def test_multi_token_step_token_is_refused(tiny_lm_dir: Path) -> None:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    backend = TransformersBackend(ModelConfig(model=str(tiny_lm_dir)))
    with pytest.raises(UserError, match="must be one token"):
        build_process_adapter(backend, ProcessSettings(step_tokens=("+", "definitely not one token")))


def test_truncated_step_makes_the_item_invalid(tiny_lm_dir: Path) -> None:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    backend = TransformersBackend(ModelConfig(model=str(tiny_lm_dir), max_length=30))
    adapter = build_process_adapter(backend, ProcessSettings())
    pred = adapter.score([_example()])[0]
    assert pred.invalid and any(np.isnan(s) for s in pred.scores["step_scores"])
    g = grade(_example(), pred, Policies(invalid_policy="wrong"))
    assert pred.extra["truncated"] == 1  # counted in the summary's 'truncated'
    # the invalid policy applies to every accuracy, the threshold-free one too (one fact, see step_grading)
    assert g.invalid == 1 and g.metrics["acc_erroneous"] == 0.0 and g.metrics["argmin_acc_erroneous"] == 0.0
    assert adapter.describe()["truncation_side"] == "right"


def test_predictions_record_threshold_and_first_error(lm_adapter: ProcessAdapter) -> None:
    pred = lm_adapter.score([_example()])[0]
    s = pred.scores["step_scores"]
    assert pred.scores["threshold"] == 0.5
    assert pred.scores["first_error"] == first_below(s, 0.5)
    assert pred.scores["solution_score"] == pytest.approx(min(s))
    assert lm_adapter.describe()["process"]["threshold"] == {"policy": "fixed", "value": 0.5,
                                                            "note": "given by the user, not tuned"}


def test_best_of_n_from_aggregated_step_scores(lm_adapter: ProcessAdapter) -> None:
    ex = MultiResponseExample(id="p", subset="s", prompt="Q", correct=("a.\n\nb.",), incorrect=("c.", "d.\n\ne.\n\nf."))
    pred = lm_adapter.score([ex])[0]
    assert [len(x) for x in pred.scores["step_scores"]["incorrect"]] == [1, 3]
    assert pred.scores["correct"] == [min(pred.scores["step_scores"]["correct"][0])]
    g = grade(ex, pred, Policies())
    assert g.metrics["accuracy"] == float(pred.scores["correct"][0] > max(pred.scores["incorrect"]))


# ------------------------------------------------------------------------------ pure functions


def test_aggregations() -> None:
    s = [0.9, 0.5, 0.8]
    assert aggregate_steps(s, "min") == 0.5
    assert aggregate_steps(s, "last") == 0.8
    assert aggregate_steps(s, "product") == pytest.approx(0.36)
    assert aggregate_steps(s, "mean") == pytest.approx(2.2 / 3)
    assert np.isnan(aggregate_steps([], "min"))
    with pytest.raises(ValueError):
        aggregate_steps(s, "median")
    with pytest.raises(UserError):
        ProcessSettings(aggregation="max")


def test_tuned_threshold_maximises_f1_by_brute_force() -> None:
    rng = np.random.default_rng(5)
    scores, gold = [], []
    for _ in range(80):
        n = int(rng.integers(1, 7))
        scores.append(list(np.round(rng.random(n), 2)))
        gold.append(None if rng.random() < 0.4 else int(rng.integers(0, n)))
    tuned = tune_threshold(scores, gold)
    grid = np.linspace(-0.01, 1.01, 3001)
    best = max(processbench_f1([first_below(s, t) for s in scores], gold)["f1"] for t in grid)
    assert tuned["f1"] == pytest.approx(best)
    again = processbench_f1([first_below(s, tuned["threshold"]) for s in scores], gold)
    assert again["f1"] == pytest.approx(tuned["f1"])
    with pytest.raises(ValueError, match="both erroneous and all-correct"):
        tune_threshold([[0.1], [0.2]], [0, 0])


def test_step_auroc_matches_sklearn_and_bootstraps_clusters() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    s = np.round(rng.random(300), 2)  # ties on purpose
    y = (rng.random(300) < s).astype(int)
    clusters = [f"c{i // 6}" for i in range(300)]
    out = step_auroc(s, y, clusters, np.random.default_rng(1), n_resamples=400)
    assert out["value"] == pytest.approx(roc_auc_score(y, s))
    assert out["low"] < out["value"] < out["high"]
    again = step_auroc(s, y, clusters, np.random.default_rng(1), n_resamples=400)
    assert (again["low"], again["high"]) == (out["low"], out["high"])
    assert step_auroc([0.3, 0.4], [1, 1], ["a", "b"], np.random.default_rng(0), n_resamples=10)["value"] is None


# ------------------------------------------------------------------------------------ grading


def test_grader_processbench_metrics_and_invalid_policy() -> None:
    err, ok = _example(first_error=1), _example(first_error=None)
    pred = Prediction(scores={"step_scores": [0.9, 0.2, 0.1, 0.8], "threshold": 0.5, "first_error": 1})
    g = grade(err, pred, Policies())
    assert g.metrics == {"acc_erroneous": 1.0, "acc_correct": None, "argmin_acc_erroneous": 0.0}
    assert g.extra["step_labels"] == [1, 0, None, None]
    g = grade(ok, pred, Policies())
    assert g.metrics["acc_correct"] == 0.0 and g.metrics["acc_erroneous"] is None
    bad = Prediction(scores={"first_error": None}, invalid=True)
    assert grade(ok, bad, Policies(invalid_policy="half")).metrics["acc_correct"] == 0.5
    assert grade(ok, bad, Policies(invalid_policy="exclude")).metrics["acc_correct"] is None


def test_grader_step_counts_with_explicit_labels() -> None:
    ex = StepwiseExample(id="p", subset="s", prompt="Q", steps=("a", "b", "c", "d"), first_error=1,
                         step_labels=(1, 0, 1, 0))
    pred = Prediction(scores={"step_scores": [0.7, 0.6, 0.3, 0.1], "threshold": 0.5, "first_error": 2})
    m = grade(ex, pred, Policies()).metrics
    assert (m["step_tp"], m["step_fp"], m["step_tn"], m["step_fn"]) == (1.0, 1.0, 1.0, 1.0)
    assert m["acc_erroneous"] == 0.0


# ---------------------------------------------------------------------------- threshold policy


def _dev_run(tmp_path: Path, examples: list[StepwiseExample], scores: list[list[float]], settings: dict) -> Path:
    run = tmp_path / "dev"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"task": {"name": "processbench"}, "config": settings}))
    with (run / "items.jsonl").open("w") as f:
        for ex, s in zip(examples, scores, strict=True):
            item = ItemResult(id=ex.id, subset=ex.subset, cluster=ex.cluster, example_hash=ex.content_hash(),
                              metrics={}, scores={"step_scores": s}, extra={"gold_first_error": ex.first_error})
            f.write(json.dumps(item.to_dict()) + "\n")
    (run / "summary.json").write_text("{}")
    return run


def test_threshold_tuned_on_a_dev_run_is_recorded_and_refused_on_the_evaluated_split(tmp_path: Path) -> None:
    dev = [StepwiseExample(id=f"d{i}", subset="gsm8k", prompt="Q", steps=("a", "b"), first_error=[None, 1][i % 2])
           for i in range(6)]
    scores = [[0.9, 0.8], [0.9, 0.3], [0.7, 0.6], [0.8, 0.4], [0.95, 0.9], [0.6, 0.2]]
    settings = {"model": "m", "kind": "process", "step_separator": "\n\n"}
    run = _dev_run(tmp_path, dev, scores, settings)
    evaluated = [StepwiseExample(id="m1", subset="math", prompt="Q2", steps=("x",), first_error=None)]
    policy = tune_from_run(run, split="gsm8k", evaluated=evaluated, task_name="processbench", settings=settings)
    expected = tune_threshold(scores, [e.first_error for e in dev])
    assert policy.policy == "tuned" and policy.value == expected["threshold"]
    record = policy.describe()
    assert record["dev_splits"] == ["gsm8k"] and record["dev_items"] == 6 and record["dev_f1"] == expected["f1"]
    assert record["dev_items_sha256"] and record["dev_run"] == str(run)
    with pytest.raises(UserError, match="evaluated split"):
        tune_from_run(run, split="gsm8k", evaluated=[dev[0]], task_name="processbench", settings=settings)
    renamed = [StepwiseExample(id="g9", subset="gsm8k", prompt="other", steps=("y",), first_error=None)]
    with pytest.raises(UserError, match="evaluated split"):
        tune_from_run(run, split=None, evaluated=renamed, task_name="processbench", settings=settings)
    with pytest.raises(UserError, match="other settings"):
        tune_from_run(run, split="gsm8k", evaluated=evaluated, task_name="processbench",
                      settings={**settings, "step_separator": " ки"})
    with pytest.raises(UserError, match="no items of split"):
        tune_from_run(run, split="math", evaluated=evaluated, task_name="processbench", settings=settings)
    assert fixed_threshold(0.3).describe()["policy"] == "fixed"
