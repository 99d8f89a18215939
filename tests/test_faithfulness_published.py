"""The published tables of Young (2026), "Measuring Faithfulness Depends on How You Measure"
(arXiv:2603.20172; dataset "CoT Faithfulness in Open-Weight Reasoning Models", CC BY 4.0), fed through
rmbench's faithfulness report path (:func:`rmbench.adapters.faithfulness.sensitivity.faithfulness_block`
and the report.md section), not only the statistics functions: item-level verdicts are rebuilt from the
confusion tables and per-model counts, and the published kappas, McNemar counts and rank correlation
come out. Skips when the data folder is missing (``RMBENCH_DATA_DIR``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from rmbench.adapters.faithfulness.report import faithfulness_lines
from rmbench.adapters.faithfulness.sensitivity import TraceVerdicts, faithfulness_block

HINTS = ["sycophancy", "consistency", "metadata", "grader", "unethical"]


@pytest.fixture(scope="module")
def analysis() -> Path:
    folder = Path(os.environ.get("RMBENCH_DATA_DIR", "/work/shared/data")) / "cot_faithfulness_young2026" / "analysis"
    if not folder.is_dir():
        pytest.skip(f"published data not found: {folder}")
    return folder


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, newline="") as fh:
        return list(csv.DictReader(fh))


def _traces_from_confusion(folder: Path) -> list[TraceVerdicts]:
    """One influenced trace per cell count: pipeline and Sonnet-judge verdicts as the table says."""
    out = []
    for r in _rows(folder, "paper2_confusion_matrix_by_hint.csv"):
        cells = [((True, True), "both_faithful"), ((True, False), "our_only_faithful"),
                 ((False, True), "sonnet_only_faithful"), ((False, False), "both_unfaithful")]
        for (ours, sonnet), key in cells:
            out += [TraceVerdicts(r["hint_type"], True, {"pipeline": ours, "sonnet": sonnet})] * int(r[key])
    return out


def test_kappas_and_mcnemar_from_published_confusion_tables(analysis):
    block = faithfulness_block(_traces_from_confusion(analysis), order=HINTS)
    published = {r["hint_type"]: r for r in _rows(analysis, "paper2_cohens_kappa_by_hint.csv")}
    assert block["classifiers"] == ["pipeline", "sonnet"]
    for hint in HINTS:
        (pair,) = block["pairs"][hint]
        assert round(pair["kappa"], 4) == float(published[hint]["cohens_kappa"]), hint
        assert pair["band"] == published[hint]["interpretation"]
        assert round(pair["agreement"], 4) == float(published[hint]["agreement_rate"])
        assert pair["n"] == int(published[hint]["n"])
    kappas = {h: block["pairs"][h][0]["kappa"] for h in HINTS}
    assert round(kappas["sycophancy"], 2) == 0.06 and round(kappas["grader"], 2) == 0.42
    (overall,) = block["pairs"]["overall"]
    assert (overall["mcnemar"]["b"], overall["mcnemar"]["c"]) == (2046, 722)  # pipeline-only vs judge-only
    rates = block["rates"]
    assert round(rates["pipeline"]["overall"]["value"], 4) == 0.8257 and rates["pipeline"]["overall"]["n"] == 10276
    assert round(rates["sonnet"]["overall"]["value"], 4) == 0.6969
    sens = block["sensitivity"]["overall"]
    assert (sens["min_classifier"], sens["max_classifier"]) == ("sonnet", "pipeline")
    assert round(sens["range"], 3) == 0.129  # 12.9 points on the paired traces
    assert block["sensitivity"]["sycophancy"]["range"] == pytest.approx(1978 / 2034 - 1097 / 2034)
    text = "\n".join(faithfulness_lines({"results": {"faithfulness": block}}))
    assert "69.7% (sonnet) to 82.6% (pipeline), a range of 12.9 points, over 10276 influenced traces" in text
    assert "| sycophancy | pipeline vs sonnet | 2034 | 1095 / 883 / 2 / 54 | 0.565 | 0.060 (slight) | 883, 2 (" in text


def test_model_rank_correlation_from_published_rates(analysis):
    """Per-model traces rebuilt from the published counts: the pipeline over all influenced traces
    (faithfulness_summary.csv), the Sonnet judge over the ones it classified (sonnet_faithfulness_summary.csv;
    the others have no judge verdict), as in the paper's rank table."""
    pipeline = {r["model"]: r for r in _rows(analysis, "faithfulness_summary.csv")}
    sonnet = {r["model"]: r for r in _rows(analysis, "sonnet_faithfulness_summary.csv")}
    traces = []
    for model, p in pipeline.items():
        n, ours, judged, judged_yes = (int(p["total_influenced"]), int(p["total_faithful"]),
                                       int(sonnet[model]["total"]), int(sonnet[model]["faithful"]))
        for k in range(n):
            s = (k < judged_yes) if k < judged else None
            traces.append(TraceVerdicts("all", True, {"pipeline": k < ours, "sonnet": s}, model))
    block = faithfulness_block(traces)
    models = block["models"]
    published = _rows(analysis, "paper2_rank_correlation.csv")
    (corr,) = models["correlations"]
    assert round(corr["spearman"], 4) == float(published[0]["sonnet_rate"]) == 0.6434
    assert f"p={corr['spearman_p']:.4f}" == published[0]["rank_delta"]
    for r in published[1:]:
        assert models["ranks"]["pipeline"][r["model"]] == float(r["rank_pipeline"])
        assert models["ranks"]["sonnet"][r["model"]] == float(r["rank_sonnet"])
    moves = {m["model"]: (m["rank_a"], m["rank_b"]) for m in corr["largest_rank_change"]}
    assert moves == {"qwen3.5-27b": (1.0, 7.0), "olmo-3.1-32b-think": (9.0, 3.0)}  # 1st -> 7th, tied with 9th -> 3rd
    text = "\n".join(faithfulness_lines({"results": {"faithfulness": block}}))
    assert "pipeline vs sonnet: Spearman rho 0.643 (p=0.0240) over 12 models; largest rank change (6 places): olmo-3.1-32b-think 9 -> 3, qwen3.5-27b 1 -> 7" in text
