"""FELM: converter counts on the real file, segment/response F1 against scikit-learn, and a real run.

The FELM data is CC BY-NC-SA: tests read it from the data directory and never copy rows into the repo.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.datatypes import ItemResult, Prediction, SegmentExample
from rmbench.grading.core import Policies, to_item
from rmbench.results.summary import compute_results

# Counted from felm/all.jsonl (hkust-nlp/felm eval/all.jsonl @ a3a50977): responses, segments,
# non-factual segments, non-factual responses per domain.
EXPECTED = {
    "math": (194, 599, 125, 64),
    "reasoning": (208, 1025, 146, 47),
    "science": (125, 684, 102, 39),
    "wk": (184, 532, 147, 85),
    "writing_rec": (136, 1586, 267, 47),
}


@pytest.fixture(scope="module")
def felm(data_dir: Path) -> list[SegmentExample]:
    if not (data_dir / "felm" / "all.jsonl").is_file():
        pytest.skip("felm/all.jsonl not in the data directory")
    examples = load_examples(load_task("felm").spec, data_dir).examples
    return [e for e in examples if isinstance(e, SegmentExample)]


def test_converter_counts(felm: list[SegmentExample]) -> None:
    assert len(felm) == 847
    assert sum(len(e.segments) for e in felm) == 4426
    by_domain = Counter(e.subset for e in felm)
    for domain, (responses, segments, bad_segments, bad_responses) in EXPECTED.items():
        items = [e for e in felm if e.subset == domain]
        assert by_domain[domain] == responses
        assert sum(len(e.segments) for e in items) == segments
        assert sum(not lab for e in items for lab in e.labels) == bad_segments
        assert sum(not all(e.labels) for e in items) == bad_responses
    assert len({e.id for e in felm}) == 847 and all(e.cluster == e.id for e in felm)


def test_reference_is_joined_and_capped(felm: list[SegmentExample]) -> None:
    with_ref = [e for e in felm if e.reference]
    assert with_ref and all(len(e.reference) <= 2000 for e in with_ref)
    assert not any(e.reference for e in felm if e.subset in ("math", "reasoning"))


def _judge_prediction(ex: SegmentExample, rng: random.Random, p_unparseable: float) -> Prediction:
    asks = []
    for i, factual in enumerate(ex.labels):
        r = rng.random()
        if r < p_unparseable:
            verdict = None
        else:  # a noisy judge: right 70% of the time
            right = rng.random() < 0.7
            verdict = ("YES" if factual else "NO") if right else ("NO" if factual else "YES")
        asks.append({"key": f"seg{i}", "verdict": verdict})
    return Prediction(scores={"judge": {"mode": "segments", "asks": asks}}, invalid=any(a["verdict"] is None for a in asks))


def _items(examples: list[SegmentExample], policy: str, p_unparseable: float) -> tuple[list[ItemResult], list[Prediction]]:
    rng = random.Random(7)
    preds = [_judge_prediction(e, rng, p_unparseable) for e in examples]
    items = [to_item(e, p, Policies(invalid_policy=policy), {}) for e, p in zip(examples, preds, strict=True)]  # type: ignore[arg-type]
    return items, preds


def _sklearn_segment_and_response(
    examples: list[SegmentExample], preds: list[Prediction]
) -> tuple[dict[str, float], dict[str, float]]:
    """Reference values with the 'wrong' policy: an unparseable verdict is the wrong prediction."""
    from sklearn.metrics import balanced_accuracy_score, precision_recall_fscore_support

    seg_true, seg_pred, resp_true, resp_pred = [], [], [], []
    for ex, p in zip(examples, preds, strict=True):
        said = []
        for factual, ask in zip(ex.labels, p.scores["judge"]["asks"], strict=True):
            gold_error = not factual
            said_error = (not gold_error) if ask["verdict"] is None else ask["verdict"] == "NO"
            seg_true.append(int(gold_error))
            seg_pred.append(int(said_error))
            said.append(ask["verdict"])
        gold = not all(ex.labels)
        resp_true.append(int(gold))
        if "NO" in said:
            resp_pred.append(1)
        elif None in said:
            resp_pred.append(int(not gold))
        else:
            resp_pred.append(0)

    def scores(y: list[int], yhat: list[int]) -> dict[str, float]:
        p, r, f, _ = precision_recall_fscore_support(y, yhat, pos_label=1, average="binary", zero_division=0)
        return {"precision": p, "recall": r, "f1": f, "balanced_accuracy": balanced_accuracy_score(y, yhat)}

    return scores(seg_true, seg_pred), scores(resp_true, resp_pred)


def _results(items: list[ItemResult], subsets: list[str]) -> dict:
    spec = load_task("felm").spec
    run = {
        "config": {"seed": 0, "n_bootstrap": 200, "confidence": 0.95},
        "task": {"scoring": spec.scoring.model_dump()},
        "data": {"subsets": subsets},
    }
    return compute_results(run, items)


def test_f1_and_balanced_accuracy_match_sklearn_per_domain(felm: list[SegmentExample]) -> None:
    subsets = list(EXPECTED)
    sample = [e for d in subsets for e in [x for x in felm if x.subset == d][:40]]
    items, preds = _items(sample, "wrong", p_unparseable=0.05)
    results = _results(items, subsets)
    for domain in subsets + [None]:
        picked = [i for i, e in enumerate(sample) if domain is None or e.subset == domain]
        seg, resp = _sklearn_segment_and_response([sample[i] for i in picked], [preds[i] for i in picked])
        block = results["overall"] if domain is None else results["subsets"][domain]
        for name, ref in seg.items():
            assert block["metrics"][f"seg_{name}"]["value"] == pytest.approx(ref, abs=1e-12), (domain, name)
        for name, ref in resp.items():
            assert block["metrics"][f"resp_{name}"]["value"] == pytest.approx(ref, abs=1e-12), (domain, name)
        f1 = block["metrics"]["seg_f1"]
        assert f1["low"] <= f1["value"] <= f1["high"] and f1["n_clusters"] == len(picked)


def test_exclude_policy_drops_unparseable_segments(felm: list[SegmentExample]) -> None:
    from sklearn.metrics import f1_score

    sample = [e for e in felm if e.subset == "wk"][:60]
    items, preds = _items(sample, "exclude", p_unparseable=0.2)
    y, yhat = [], []
    for ex, p in zip(sample, preds, strict=True):
        for factual, ask in zip(ex.labels, p.scores["judge"]["asks"], strict=True):
            if ask["verdict"] is not None:
                y.append(int(not factual))
                yhat.append(int(ask["verdict"] == "NO"))
    results = _results(items, ["wk"])
    assert results["overall"]["metrics"]["seg_f1"]["value"] == pytest.approx(f1_score(y, yhat), abs=1e-12)
    assert results["overall"]["invalid"] == sum(p.invalid for p in preds)
    assert results["overall"]["metrics"]["unparseable"]["value"] > 0


def test_half_policy_splits_counts() -> None:
    ex = SegmentExample(id="x", subset="s", prompt="q", segments=("a", "b"), labels=(False, True))
    pred = Prediction(scores={"judge": {"mode": "segments", "asks": [{"verdict": None}, {"verdict": "YES"}]}}, invalid=True)
    item = to_item(ex, pred, Policies(invalid_policy="half"), {})
    assert item.metrics["seg_tp"] == 0.5 and item.metrics["seg_fn"] == 0.5 and item.metrics["seg_tn"] == 1.0
    assert item.metrics["resp_tp"] == 0.5 and item.metrics["resp_fn"] == 0.5
    assert item.metrics["unparseable"] == 0.5 and item.invalid == 1


@pytest.mark.slow
def test_cli_felm_with_embedded_judge(tmp_path: Path, data_dir: Path) -> None:
    """The embedded SmolLM2 as a FELM judge: per-domain F1 / balanced accuracy with CIs, unparseable rate."""
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    out = tmp_path / "felm-run"
    args = [
        "run", "--model", "embedded:smollm2-135m-instruct", "--kind", "judge", "--task", "felm",
        "--data-dir", str(data_dir), "--limit", "3", "--out", str(out), "--n-bootstrap", "200",
        "--max-new-tokens", "4", "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["prompt"]["name"] == "felm_vanilla"
    for domain in EXPECTED:
        block = summary["results"]["subsets"][domain]
        assert block["n_items"] == 3
        for metric in ("seg_f1", "seg_balanced_accuracy", "resp_f1", "unparseable"):
            assert metric in block["metrics"]
        assert block["metrics"]["seg_balanced_accuracy"]["value"] is None or block["metrics"]["seg_balanced_accuracy"]["low"] is not None
    report = (out / "report.md").read_text()
    assert "seg_f1" in report and "unparseable replies" in report and "balanced accuracy 50" in report
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    for label, block in [("overall", summary["results"]["overall"]),
                         *((d, summary["results"]["subsets"][d]) for d in EXPECTED)]:  # fmt: skip
        _assert_felm_values(block["metrics"], [it for it in items if label == "overall" or it["subset"] == label])
    # The verdict that follows the chance sentence matches the interval of segment balanced accuracy.
    bal = summary["results"]["overall"]["metrics"]["seg_balanced_accuracy"]
    verdict = "below chance" if bal["high"] < 0.5 else "above chance" if bal["low"] > 0.5 else "not distinguishable"
    assert f"This judge's segment balanced accuracy {100 * bal['value']:.1f} [" in report
    assert verdict in report.split("balanced accuracy 50.", 1)[1].splitlines()[0]
    lines = (out / "items.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["scores"]["judge"]["asks"][0]["text"] is not None  # raw judge text kept
    _terminal_tables_fit(summary, width=80)


def _assert_felm_values(metrics: dict, items: list[dict]) -> None:
    """Segment F1, balanced accuracy and the unparseable rate, recomputed from the per-item counts."""
    tp, fp, fn, tn = (sum(it["metrics"][f"seg_{k}"] for it in items) for k in ("tp", "fp", "fn", "tn"))
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None
    bal = (tp / (tp + fn) + tn / (tn + fp)) / 2 if tp + fn and tn + fp else None
    unparseable = sum(it["metrics"]["unparseable"] for it in items) / len(items)
    for name, expected in (("seg_f1", f1), ("seg_balanced_accuracy", bal), ("unparseable", unparseable)):
        est = metrics[name]
        if expected is None:
            assert est["value"] is None, name
            continue
        assert est["value"] == pytest.approx(expected, abs=1e-9), name
        assert est["low"] - 1e-9 <= est["value"] <= est["high"] + 1e-9, name


def _terminal_tables_fit(summary: dict, width: int) -> None:
    """Ten metrics do not fit 80 columns: the terminal view splits them over tables, none cut off."""
    from rich.console import Console

    from rmbench.reports.run_report import render_terminal

    console = Console(width=width, record=True, force_terminal=False)
    console.print(render_terminal(summary, width=width))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text  # no cell truncated
    for metric in ("seg_f1", "seg_balanced_accuracy", "resp_f1", "unparseable", "invalid"):
        assert metric in text
    assert "[" in text and "(1/" in text
