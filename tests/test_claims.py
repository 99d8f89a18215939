"""Claim verification (issue 13): metrics against scikit-learn, bring-your-own verdicts reproducing
hand-computed numbers, the NLI and judge verifiers on tiny real models, and ``rmbench agree``.

The data here is a small synthetic FactBench file written by the test (same schema as upstream), put
where the ``factbench`` task reads it, so the real converter, task YAML and runner are used.
"""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rmbench.adapters.claims.grading import cell_names, claim_metrics, response_metrics
from rmbench.adapters.claims.nli import label_classes
from rmbench.cli.commands import app
from rmbench.datatypes import ItemResult
from rmbench.errors import RecordError, UserError
from rmbench.results.aggregates import aggregate
from rmbench.runner import RunConfig, run
from rmbench.stats import confusion

CLASSES = ("supported", "unsupported", "undecidable")
# Three responses: A and B (factool-qa), C (factcheckgpt); gold per claim as upstream writes it.
RESPONSES = [
    ("factool-qa", [True, False, True]),
    ("factool-qa", [True, "unknown"]),
    ("factcheckgpt", [False, True]),
]
PLANTED = [["supported", "supported", "unsupported"], ["supported", ""], ["unsupported", "unsupported"]]


def _data_dir(root: Path) -> Path:
    folder = root / "factbench"
    folder.mkdir(parents=True)
    rows = [
        {"prompt": f"question {i}", "response": f"response {i}", "response_label": all(x is True for x in labels),
         "claims": [f"claim {i}.{j}" for j in range(len(labels))], "claim_labels": labels, "source": source}
        for i, (source, labels) in enumerate(RESPONSES)
    ]
    rows.append({"prompt": "q", "response": "r", "response_label": True, "claims": [], "claim_labels": [],
                 "source": "halueval-dolly15k"})  # no claims: skipped
    (folder / "openfactcheck_factbench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _scores(path: Path, verdicts: list[list[str]]) -> Path:
    lines = [
        json.dumps({"id": f"{source}:{i + 1}:{j}", "verdict": v})
        for i, ((source, _), vs) in enumerate(zip(RESPONSES, verdicts, strict=True))
        for j, v in enumerate(vs)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _byo_run(tmp: Path, data: Path, verdicts: list[list[str]], name: str) -> Path:
    cfg = RunConfig.from_flat(task="factbench", model=name, kind="precomputed", data_dir=data, out_dir=tmp / name,
                    scores_file=_scores(tmp / f"{name}.jsonl", verdicts), n_bootstrap=300)  # type: ignore[arg-type]
    return run(cfg).run_dir


# ----------------------------------------------------------------------------------------- metrics


def test_confusion_statistics_match_sklearn() -> None:
    from sklearn.metrics import (
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
        precision_score,
        recall_score,
    )

    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        gold = [CLASSES[i] for i in rng.integers(0, 3, n)]
        pred = [(*CLASSES, "unparseable")[i] for i in rng.integers(0, 4, n)]
        m = confusion.confusion_matrix(gold, [None if p == "unparseable" else p for p in pred], CLASSES)
        labels = [*CLASSES, "unparseable"]
        assert confusion.cohen_kappa(m) == pytest.approx(cohen_kappa_score(gold, pred, labels=labels))
        present = [c for c in CLASSES if c in gold or c in pred]
        assert confusion.macro_f1(m) == pytest.approx(f1_score(gold, pred, labels=present, average="macro"))
        with warnings.catch_warnings():  # sklearn warns that 'unparseable' is predicted but never gold
            warnings.simplefilter("ignore")
            expected_bacc = balanced_accuracy_score(gold, pred)
        assert confusion.balanced_accuracy(m) == pytest.approx(expected_bacc)
        for k, c in enumerate(CLASSES):
            if c in pred:
                assert confusion.class_precision(m)[k] == pytest.approx(
                    precision_score(gold, pred, labels=[c], average="macro"))
            if c in gold:
                assert confusion.class_recall(m)[k] == pytest.approx(recall_score(gold, pred, labels=[c], average="macro"))


def test_confusion_aggregate_is_the_statistic_of_summed_cells() -> None:
    gold = ["supported", "supported", "unsupported", "undecidable", "unsupported", "supported"]
    pred = ["supported", "unsupported", "unsupported", None, "supported", "supported"]
    items = [
        ItemResult(id=str(i), subset="s", cluster=f"r{i // 2}", example_hash="", scores={},
                   metrics=claim_metrics(g, p, CLASSES, "wrong"))
        for i, (g, p) in enumerate(zip(gold, pred, strict=True))
    ]
    m = confusion.confusion_matrix(gold, pred, CLASSES)
    for kind, fn in (("confusion_kappa", confusion.cohen_kappa), ("confusion_macro_f1", confusion.macro_f1),
                     ("confusion_balanced_accuracy", confusion.balanced_accuracy)):
        est = aggregate(items, kind, cell_names(CLASSES), np.random.default_rng(0), n_resamples=200)
        assert est["value"] == pytest.approx(float(fn(m)))
        assert est["low"] is not None and est["n_clusters"] == 3


def test_invalid_policy_on_claims() -> None:
    wrong = claim_metrics("supported", None, CLASSES, "wrong")
    assert wrong["cm_supported_unparseable"] == 1.0 and wrong["supported_fn"] == 1.0 and wrong["unparseable"] == 1.0
    half = claim_metrics("supported", None, CLASSES, "half")
    assert half["cm_supported_supported"] == 0.5 and half["accuracy"] == 0.5
    excluded = claim_metrics("supported", None, CLASSES, "exclude")
    assert excluded["accuracy"] is None and excluded["cm_supported_supported"] is None
    assert response_metrics(["supported"], [None], "exclude")["factscore_human"] is None


# ---------------------------------------------------------------------------------- bring your own


def test_planted_verdicts_reproduce_hand_computed_metrics(tmp_path: Path) -> None:
    """Gold x verdict (S = supported, U = unsupported, D = undecidable, X = no verdict):
    A: S/S U/S S/U; B: S/S D/X; C: U/U S/U. Rows S [2 2 0 0], U [1 1 0 0], D [0 0 0 1]."""
    data = _data_dir(tmp_path / "data")
    summary = json.loads((_byo_run(tmp_path, data, PLANTED, "planted") / "summary.json").read_text())
    res = summary["results"]
    got = {k: v["value"] for k, v in res["overall"]["metrics"].items()}
    expected = {
        "accuracy": Fraction(3, 7), "unparseable": Fraction(1, 7),
        "supported_f1": Fraction(4, 7), "unsupported_f1": Fraction(2, 5), "undecidable_f1": Fraction(0),
        "unsupported_precision": Fraction(1, 3), "unsupported_recall": Fraction(1, 2),
        "macro_f1": Fraction(34, 105), "balanced_accuracy": Fraction(1, 3), "kappa": Fraction(3, 31),
        "resp_f1": Fraction(1), "resp_balanced_accuracy": Fraction(1),
        "factscore_human": Fraction(13, 18), "factscore_verifier": Fraction(5, 9),
        "factscore_error": Fraction(-1, 6), "factscore_abs_error": Fraction(1, 6),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(float(value), abs=1e-12), name
    assert res["overall"]["invalid"] == 1 and res["overall"]["n_clusters"] == 3
    assert set(res["subsets"]) == {"factool-qa", "factcheckgpt"}
    assert res["subsets"]["factcheckgpt"]["metrics"]["factscore_error"]["value"] == pytest.approx(-0.5)
    assert summary["data"]["records_skipped"] == 1  # the response without claims
    assert summary["task"]["label_mapping"]["label_map"]["unknown"] == "undecidable"
    report = (tmp_path / "planted" / "report.md").read_text()
    assert "upstream labels: true -> supported, false -> unsupported, unknown -> undecidable" in report
    assert "cm_supported_supported" not in report  # cells feed the aggregates; they are not shown


def test_bad_planted_verdict_names_file_line_and_field(tmp_path: Path) -> None:
    data = _data_dir(tmp_path / "data")
    with pytest.raises(RecordError) as err:
        _byo_run(tmp_path, data, [["supported", "maybe", "supported"], *PLANTED[1:]], "bad")
    assert "bad.jsonl" in str(err.value) and ":2" in str(err.value) and "verdict" in str(err.value)


def test_agree_across_two_verifiers(tmp_path: Path) -> None:
    data = _data_dir(tmp_path / "data")
    first = _byo_run(tmp_path, data, PLANTED, "first")
    second = _byo_run(tmp_path, data, [["supported"] * 3, ["supported", "undecidable"], ["supported"] * 2], "second")
    js = tmp_path / "agree.json"
    res = CliRunner().invoke(app, ["agree", str(first), str(second), "--json", str(js), "--n-bootstrap", "200"])
    assert res.exit_code == 0, res.output
    pair = json.loads(js.read_text())["pairs"][0]
    assert pair["confusion"]["unsupported"]["supported"] == 3  # A2, C0, C1
    assert pair["confusion"]["invalid"]["undecidable"] == 1  # B1: no verdict vs undecidable
    assert sum(sum(row.values()) for row in pair["confusion"].values()) == 7


# ------------------------------------------------------------------------------------- verifiers


@pytest.fixture(scope="module")
def tiny_nli_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    """A tiny random ``LlamaForSequenceClassification`` with three labels (an untrained NLI head)."""
    from rmbench.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-nli"), kind="seq-cls", tokenizer_dir=smollm2_dir,
                            num_labels=3)


def test_nli_kind_on_a_tiny_three_label_classifier(tmp_path: Path, tiny_nli_dir: Path) -> None:
    data = _data_dir(tmp_path / "data")
    cfg = RunConfig.from_flat(task="factbench", model=str(tiny_nli_dir), kind="nli", data_dir=data, out_dir=tmp_path / "nli",
                    n_bootstrap=200,
                    task_overrides={"options": {"nli_label_map": {0: "supported", 1: "undecidable", 2: "unsupported"}}})
    outcome = run(cfg)
    items = [json.loads(line) for line in (outcome.run_dir / "items.jsonl").read_text().splitlines()]
    assert len(items) == 7
    for it in items:
        assert it["scores"]["verdict"] in CLASSES
        assert sum(it["scores"]["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["model"]["kind"] == "nli" and summary["model"]["nli"]["labels"] == {
        "0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    assert summary["results"]["overall"]["metrics"]["kappa"]["value"] is not None


def test_nli_label_mapping_must_cover_every_label() -> None:
    with pytest.raises(UserError, match="no entry for the model's label 2"):
        label_classes({0: "entailment", 1: "neutral", 2: "LABEL_2"}, {"entailment": "supported", "neutral": "undecidable"})


def test_claim_judge_on_a_tiny_lm_reports_the_unparseable_rate(tmp_path: Path, tiny_lm_dir: Path) -> None:
    data = _data_dir(tmp_path / "data")
    outcome = run(RunConfig.from_flat(task="factbench", model=str(tiny_lm_dir), kind="auto", data_dir=data,
                            out_dir=tmp_path / "judge", n_bootstrap=200, max_new_tokens=4))
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["config"]["kind"] == "claim-judge"
    assert set(summary["model"]["prompts"]) == {"claim_evidence", "claim_closed_book"}
    metrics = summary["results"]["overall"]["metrics"]
    items = [json.loads(line) for line in (outcome.run_dir / "items.jsonl").read_text().splitlines()]
    unparsed = sum(it["scores"]["verdict"] is None for it in items)
    assert metrics["unparseable"]["value"] == pytest.approx(unparsed / 7)
    assert all(it["scores"]["judge"]["template"] == "claim_closed_book" for it in items)  # no evidence here
    assert "Reply with one word and nothing else: SUPPORTED or UNSUPPORTED or UNDECIDABLE" in _prompt_text(items[0])


def _prompt_text(item: dict) -> str:
    from rmbench.adapters.judge.prompts import load_prompt

    return load_prompt("claim_closed_book").render(question="q", context="c", claim="x",
                                                   choices=["SUPPORTED", "UNSUPPORTED", "UNDECIDABLE"])


def test_real_tasks_load(data_dir: Path) -> None:
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    counts = {}
    for name in ("factbench", "factcheck-gpt", "factcheck-gpt-stance", "factscore"):
        exs = load_examples(load_task(name).spec, data_dir).examples
        counts[name] = (len(exs), len({e.cluster for e in exs}))
    assert counts == {"factbench": (1443, 326), "factcheck-gpt": (678, 92), "factcheck-gpt-stance": (3305, 92),
                      "factscore": (16040, 496)}
