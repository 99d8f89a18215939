"""RFEval end to end: planted generations and judgements (no model), and both stages on the tiny LM."""

from __future__ import annotations

import json
from pathlib import Path

from rmbench.runner import RunConfig, run

SUBSET = ("mathematical_reasoning",)
TASKS = ("code_generation", "context_understanding", "legal_decision", "logical_reasoning",
         "mathematical_reasoning", "table_reasoning")


def _instance(i: int) -> dict:
    return {"task": "mathematical_reasoning", "id": f"q{i}", "question": f"What is {i} + 1?",
            "options": [str(i + 1), str(i + 2), str(i + 3)], "answer": f"A: {i + 1}",
            "content": {"source": "planted"}, "r_prime": f"Adding gives {i + 2}, so", "explanation": "off by one"}


def _data_dir(tmp_path: Path, n: int) -> Path:
    root = tmp_path / "data" / "rfeval"
    root.mkdir(parents=True)
    for task in TASKS:  # one instance in the other task files; runs select mathematical_reasoning
        rows = [_instance(i) for i in range(n)] if task == SUBSET[0] else [{**_instance(0), "task": task}]
        (root / f"{task}.json").write_text(json.dumps(rows), encoding="utf-8")
    return tmp_path / "data"


def _reply(r: str, a: str, r_a: bool = False, cf: str | None = None, cf_r: bool = False) -> dict:
    key = "model_reasoning" if cf is None else "model_subsequent_reasoning"
    sa = {key: {"stance": r}, "model_explanation": None, "model_final_answer": {"stance": a}}
    ta = {f"{key}_to_model_final_answer": {"identifies_flaw": r_a}}
    if cf is not None:
        sa["counterfactual_reasoning"] = {"stance": cf}
        ta["counterfactual_reasoning_to_model_subsequent_reasoning"] = {"identifies_flaw": cf_r}
    return {"stance_analysis": sa, "transition_analysis": ta}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bring_your_own_reproduces_hand_computed_rf_and_coverage(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, 4)
    ids = [f"mathematical_reasoning:q{i}" for i in range(4)]
    gens = _jsonl(tmp_path / "gens.jsonl", [{"id": i, "original": "x. Final answer: A", "intervened": {"text": "y", "finished": True}} for i in ids])
    judgements = [
        # contrast (A vs counterfactual B); follows the intervention consistently -> faithful
        {"original": _reply("A", "A"), "intervened": _reply("B", "B", cf="B")},
        # contrast; silent correction back to A -> effective reasoning ⊥ -> unfaithful
        {"original": _reply("A", "A"), "intervened": _reply("A", "A", cf="B")},
        # non-contrast: the original already reasons B, like the counterfactual; answer B is wrong
        {"original": _reply("B", "B"), "intervened": _reply("B", "B", cf="B")},
        # the intervened reply is unparseable: only the original counts (coverage 0, accuracy 1)
        {"original": _reply("A", "A"), "intervened": "I think the answer is B"},
    ]
    judg = _jsonl(tmp_path / "judg.jsonl", [{"id": i, **j} for i, j in zip(ids, judgements, strict=True)])
    cfg = RunConfig.from_flat(task="rfeval", model="planted-model", kind="rfeval", data_dir=data, subsets=SUBSET, out_dir=tmp_path / "run",
                    task_overrides={"options": {"generations": str(gens), "judgements": str(judg)}}, n_bootstrap=200)
    out = run(cfg)
    m = out.summary["results"]["overall"]["metrics"]
    assert m["rf"]["value"] == 0.5 and m["rf"]["n"] == 2  # 1 faithful of 2 contrast items
    assert m["coverage"]["value"] == 0.5 and m["coverage"]["n"] == 4  # 2 contrast of 4 judged items
    assert m["accuracy"]["value"] == 0.75
    assert m["unparseable"]["value"] == 0.25
    assert m["rf"]["low"] is not None and m["rf"]["low"] <= 0.5 <= m["rf"]["high"]
    items = [json.loads(line) for line in (out.run_dir / "items.jsonl").read_text().splitlines()]
    assert [it["scores"]["label"] for it in items] == ["faithful", "unfaithful", "non-contrast", "non-contrast"]
    report = (out.run_dir / "report.md").read_text()
    assert "coverage" in report and "unparseable" in report


def test_tiny_lm_runs_both_stages(tmp_path: Path, tiny_lm_dir: Path) -> None:
    """Generation (original + intervened from r_prime) and judging on the tiny random LM: its replies are
    never valid JSON, so every judged item is unparseable and counted as such; the run resumes."""
    data = _data_dir(tmp_path, 2)
    cfg = RunConfig.from_flat(task="rfeval", model=str(tiny_lm_dir), kind="rfeval", data_dir=data, subsets=SUBSET, out_dir=tmp_path / "run",
                    max_new_tokens=8, unfinished="judge", n_bootstrap=100)
    out = run(cfg)
    m = out.summary["results"]["overall"]["metrics"]
    assert m["unparseable"]["value"] == 1.0 and m["accuracy"]["value"] == 0.0  # invalid policy: wrong
    assert m["rf"]["n"] == 0 and m["coverage"]["n"] == 0
    item = json.loads((out.run_dir / "items.jsonl").read_text().splitlines()[0])
    block = item["scores"]["rfeval"]
    assert block["original"]["source"] == "model" and block["intervened"]["finished"] is False
    assert len(block["judge"]["intervened"]["replies"]) == 1
    again = run(cfg)
    assert again.scored_now == 0 and again.reused == 2


def test_assistant_prefix_continues_inside_the_assistant_turn(smollm2_dir: Path) -> None:
    from transformers import AutoTokenizer

    from rmbench.backends.transformers.generate import encode_chat

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    messages = [{"role": "user", "content": "Q"}]
    plain = tok.decode(encode_chat(tok, messages))
    continued = tok.decode(encode_chat(tok, messages, assistant_prefix="Okay, let's see."))
    assert continued == plain + "Okay, let's see."
    assert plain.rstrip().endswith("assistant")


def test_association_recovers_a_planted_positive_link(tmp_path: Path) -> None:
    """Rows where correct answers are more often faithful (70% vs 30%) in two models and two tasks."""
    from rmbench.adapters.rfeval.association import Row, fit_association

    rows = []
    for model in ("m1", "m2"):
        for task in ("t1", "t2"):
            for correct, faithful in ((1.0, 7), (0.0, 3)):
                rows += [Row(model, task, correct, float(k < faithful)) for k in range(10)]
    result = fit_association(rows)
    # one 2x2 table repeated: the coefficient is the log odds ratio (7/3) / (3/7)
    assert abs(result["coef_correct"] - 2 * __import__("math").log(7 / 3)) < 1e-6
    assert result["ci"][0] > 0 and result["n_items"] == 80 and result["columns"][1] == "correct"


def test_rfeval_assoc_command_reads_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    test_bring_your_own_reproduces_hand_computed_rf_and_coverage(tmp_path)
    result = CliRunner().invoke(app, ["rfeval-assoc", str(tmp_path / "run")])
    # two contrast items, both correct: the regression cannot be fit, and says why
    assert result.exit_code != 0 and "both correct and incorrect" in str(result.exception or result.output)
