"""``rmbench agree`` on real runs (LLMBar, cheap baseline models) and the label rule."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rmbench.analysis.agree import agree, confusion, item_label, subset_ranks
from rmbench.analysis.pairing import load_run_dir
from rmbench.cli.commands import app
from rmbench.datatypes import ItemResult
from rmbench.stats import cohen_kappa, fleiss_kappa_from_ratings

LIMIT = 10


def _run(out: Path, data_dir: Path, model: str, seed: int = 0) -> Path:
    from rmbench.runner import RunConfig, run

    run(RunConfig.from_flat(task="llmbar", model=model, kind="baseline", seed=seed, limit=LIMIT, data_dir=data_dir,
                  out_dir=out, n_bootstrap=500))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("agree-runs")
    return [
        _run(root / "length", data_dir, "baseline:length"),
        _run(root / "random-0", data_dir, "baseline:random", seed=0),
        _run(root / "random-1", data_dir, "baseline:random", seed=1),
    ]


def _item(scores: dict, invalid: int = 0) -> ItemResult:
    return ItemResult("x", "s", "x", "h", {"accuracy": 1.0}, scores, invalid=invalid)


def test_item_label_rules() -> None:
    assert item_label(_item({"chosen": 2.0, "rejected": 1.0})) == "chosen"
    assert item_label(_item({"chosen": 1.0, "rejected": 2.0})) == "rejected"
    assert item_label(_item({"chosen": 1.0, "rejected": 1.0})) == "tie"
    assert item_label(_item({"chosen": float("nan"), "rejected": 1.0})) == "invalid"
    assert item_label(_item({"chosen": 2.0, "rejected": 1.0}, invalid=1)) == "invalid"
    assert item_label(_item({"verdict": "A", "chosen": 0.0, "rejected": 1.0})) == "A"
    assert item_label(_item({"label": "yes", "verdict": "A"})) == "yes"
    assert item_label(_item({"correct": [0.1], "incorrect": [0.5, 0.2]})) == "response[1]"
    assert item_label(_item({"correct": [0.9], "incorrect": [0.5, 0.2]})) == "response[0]"
    assert item_label(_item({"correct": [0.5], "incorrect": [0.5, 0.2]})) == "tie"
    assert item_label(_item({"tokens": 3})) == "invalid"


def _judge(mode: str, asks: list[dict]) -> ItemResult:
    return _item({"judge": {"mode": mode, "swap": "both", "asks": asks}})


def test_item_label_judge_blocks() -> None:
    both = [{"key": "pair:chosen_first", "pair": "pair", "verdict": "A", "picked": "chosen"},
            {"key": "pair:chosen_second", "pair": "pair", "verdict": "B", "picked": "chosen"}]
    assert item_label(_judge("pairwise", both)) == "chosen"
    flipped = [both[0], {**both[1], "verdict": "A", "picked": "rejected"}]
    assert item_label(_judge("pairwise", flipped)) == "inconsistent"
    assert item_label(_judge("pairwise", [both[0], {**both[1], "verdict": None, "picked": None}])) == "invalid"
    multi = [{"key": "c0-i0:chosen_first", "pair": "c0-i0", "picked": "chosen"},
             {"key": "c0-i1:chosen_first", "pair": "c0-i1", "picked": "rejected"}]
    assert item_label(_judge("pairwise", multi)) == "chosen|rejected"
    rot = [{"key": "rot0", "verdict": "2", "picked": 3}, {"key": "rot1", "verdict": "4", "picked": 3}]
    assert item_label(_judge("listwise", rot)) == "response[3]"
    rated = [{"key": "chosen", "verdict": 4.0}, {"key": "rejected", "verdict": 7.0}]
    assert item_label(_judge("rating", rated)) == "rejected"
    rated_multi = [{"key": "i0", "verdict": 3.0}, {"key": "c0", "verdict": 9.0}, {"key": "i1", "verdict": 2.0}]
    assert item_label(_judge("rating", rated_multi)) == "response[0]"
    assert item_label(_judge("verify", [{"key": "verify", "verdict": "YES"}])) == "YES"
    assert item_label(_judge("segments", [{"key": "seg0", "verdict": "YES"}, {"key": "seg1", "verdict": "NO"}])) == \
        "YES|NO"


def test_confusion_and_ranks() -> None:
    assert confusion(["a", "a", "b"], ["a", "b", "b"]) == {"a": {"a": 1, "b": 1}, "b": {"a": 0, "b": 1}}
    assert subset_ranks({"x": 0.9, "y": 0.5, "z": 0.5, "w": None}) == {"x": 1.0, "y": 2.5, "z": 2.5}


def test_agree_matches_direct_computation(runs: list[Path]) -> None:
    loaded = [load_run_dir(r) for r in runs]
    ag = agree(loaded, n_resamples=500)
    ids = sorted(loaded[0].items)
    labels = [[item_label(r.items[i]) for i in ids] for r in loaded]
    assert ag.n_items == len(ids) == 5 * LIMIT
    names = [r["name"] for r in ag.raters]
    assert names == ["baseline:length", "baseline:random [random-0]", "baseline:random [random-1]"]
    for pair in ag.pairs:
        x, y = names.index(pair["a"]), names.index(pair["b"])
        keep = [k for k in range(len(ids)) if "invalid" not in (labels[x][k], labels[y][k])]
        expected = cohen_kappa([labels[x][k] for k in keep], [labels[y][k] for k in keep])
        assert pair["kappa"]["kappa"] == pytest.approx(expected)
        assert pair["kappa"]["low"] <= pair["kappa"]["kappa"] <= pair["kappa"]["high"]
        counts = Counter(zip(labels[x], labels[y], strict=True))
        for la, row in pair["confusion"].items():
            for lb, n in row.items():
                assert n == counts.get((la, lb), 0)
        assert sum(sum(row.values()) for row in pair["confusion"].values()) == len(ids)
    assert ag.fleiss["kappa"] == pytest.approx(fleiss_kappa_from_ratings(list(zip(*labels, strict=True))))
    accs = [sum(float(it.metrics["accuracy"] or 0) for it in r.items.values()) / len(ids) for r in loaded]
    assert [r["rate"]["value"] for r in ag.raters] == pytest.approx(accs)
    assert ag.sensitivity["range"] == pytest.approx(max(accs) - min(accs))
    assert ag.subsets["names"][0] == "llmbar-natural"  # task order, not alphabetical
    assert len(ag.subsets["correlations"]) == 3


def test_agree_identical_raters(runs: list[Path]) -> None:
    one = load_run_dir(runs[1])
    ag = agree([one, one], n_resamples=200)
    pair = ag.pairs[0]
    assert pair["kappa"]["kappa"] == pytest.approx(1.0)
    assert pair["percent_agreement"] == 1.0
    assert all(n == 0 for la, row in pair["confusion"].items() for lb, n in row.items() if la != lb)
    assert ag.sensitivity["range"] == 0.0
    assert ag.subsets["correlations"][0]["spearman"] == pytest.approx(1.0)


def test_agree_cli_outputs(runs: list[Path], tmp_path: Path) -> None:
    md, js = tmp_path / "agree.md", tmp_path / "agree.json"
    res = CliRunner().invoke(app, ["agree", *map(str, runs), "--md", str(md), "--json", str(js),
                                   "--n-bootstrap", "300"])
    assert res.exit_code == 0, res.output
    doc = json.loads(js.read_text())
    assert doc["schema"] == "rmbench.agree/1" and len(doc["pairs"]) == 3
    text = md.read_text()
    assert "Cohen's kappa" in text and "Fleiss' kappa" in text and "Confusion tables" in text
    assert "Sensitivity range" in text and "Spearman" in text


def test_agree_needs_two_runs(runs: list[Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "rmbench.cli", "agree", str(runs[0])], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "at least two runs" in proc.stderr
