"""Critic mode: strict parsing of the earliest wrong step, the unparseable policy, majority vote."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rmbench.adapters.steps.critic import (
    CriticAdapter,
    CriticSettings,
    build_critic_adapter,
    majority,
    parse_first_error,
)
from rmbench.backends import Generation, GenerationRequest
from rmbench.datatypes import StepwiseExample
from rmbench.errors import UserError
from rmbench.grading.core import Policies, grade

EX = StepwiseExample(id="e1", subset="gsm8k", prompt="What is 2 + 2 * 3?",
                     steps=("2 + 2 = 4.", "4 * 3 = 12.", "The answer is 12."), first_error=0)
OK = StepwiseExample(id="c1", subset="gsm8k", prompt="What is 1 + 1?", steps=("1 + 1 = 2.", "The answer is 2."))


class ScriptedBackend:
    """A generation backend that replays given texts and records the requests it saw."""

    name = "scripted"
    capabilities = frozenset({"generation"})

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests += list(requests)
        return [Generation(text=self.texts.pop(0), prompt_tokens=10, completion_tokens=5) for _ in requests]

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "model": "scripted"}


@pytest.mark.parametrize(("text", "expected"), [
    ("Paragraph 0 ignores precedence. \\boxed{0}", (0, None)),
    ("All steps hold. \\boxed{ -1 }", (-1, None)),
    ("First I thought \\boxed{2}, but actually \\boxed{1}", (1, None)),
    ("The earliest error is in paragraph 1.", (None, "no_boxed")),
    ("\\boxed{paragraph 1}", (None, "not_an_integer")),
    ("\\boxed{1.5}", (None, "not_an_integer")),
    ("\\boxed{3}", (None, "out_of_range")),
    ("\\boxed{-2}", (None, "out_of_range")),
])
def test_strict_parse(text: str, expected: tuple[int | None, str | None]) -> None:
    assert parse_first_error(text, 3) == expected


def test_majority_vote_and_ties() -> None:
    assert majority([1, 1, 2]) == 1
    assert majority([2, 1, 1, 2]) == 2  # tie: the answer seen first
    assert majority([None, -1, None]) == -1
    assert majority([None, None]) is None


def test_prompt_shows_numbered_paragraphs_and_greedy_single_sample() -> None:
    backend = ScriptedBackend(["\\boxed{0}"])
    adapter = CriticAdapter(backend, CriticSettings(max_new_tokens=64))
    pred = adapter.score([EX])[0]
    req = backend.requests[0]
    text = req.messages[0]["content"]
    assert "<paragraph_0>\n2 + 2 = 4.\n</paragraph_0>" in text and "<paragraph_2>" in text
    assert req.temperature == 0.0 and req.max_new_tokens == 64
    assert pred.scores["first_error"] == 0 and pred.scores["unparseable"] == 0.0 and not pred.invalid
    assert grade(EX, pred, Policies()).metrics == {"acc_erroneous": 1.0, "acc_correct": None, "unparseable": 0.0}
    info = adapter.describe()["critic"]
    assert info["template"]["name"] == "critic_first_error" and len(info["template"]["sha256"]) == 64


def test_minus_one_means_all_correct() -> None:
    pred = CriticAdapter(ScriptedBackend(["fine \\boxed{-1}"])).score([OK])[0]
    assert pred.scores["first_error"] is None
    assert grade(OK, pred, Policies()).metrics["acc_correct"] == 1.0


def test_majority_over_seeded_samples_with_unparseable_ones() -> None:
    backend = ScriptedBackend(["\\boxed{1}", "no idea", "\\boxed{0}", "\\boxed{0}", "\\boxed{9}"])
    adapter = CriticAdapter(backend, CriticSettings(samples=5, temperature=0.8, seed=11))
    pred = adapter.score([EX])[0]
    assert [r.seed for r in backend.requests] == [11, 12, 13, 14, 15]
    assert all(r.temperature == 0.8 for r in backend.requests)
    assert pred.scores["answers"] == [1, None, 0, 0, None]
    assert pred.scores["reasons"] == [None, "no_boxed", None, None, "out_of_range"]
    assert pred.scores["votes"] == {"1": 1, "0": 2}
    assert pred.scores["first_error"] == 0 and pred.scores["unparseable"] == pytest.approx(0.4)


def test_unparseable_item_follows_the_invalid_policy() -> None:
    pred = CriticAdapter(ScriptedBackend(["I cannot tell."])).score([EX])[0]
    assert pred.invalid and pred.scores["first_error"] is None
    wrong = grade(EX, pred, Policies(invalid_policy="wrong"))
    assert wrong.invalid == 1 and wrong.metrics["acc_erroneous"] == 0.0 and wrong.metrics["unparseable"] == 1.0
    assert grade(EX, pred, Policies(invalid_policy="exclude")).metrics["acc_erroneous"] is None


def test_settings_are_checked() -> None:
    with pytest.raises(UserError, match="temperature"):
        CriticSettings(samples=3, temperature=0.0)
    with pytest.raises(UserError, match="cannot generate"):
        build_critic_adapter(object())


class LocalGenerator:
    """Test-only generation backend: helper functions of rmbench.backends.transformers.generate."""

    name = "local"
    capabilities = frozenset({"generation"})

    def __init__(self, folder: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder).eval()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        from rmbench.backends.transformers.generate import generate

        return generate(self.model, self.tokenizer, requests, self.model.device)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local-test", "model": "smollm2"}


@pytest.mark.slow
def test_critic_with_smollm2_reports_the_unparseable_rate(smollm2_dir: Path, data_dir: Path) -> None:
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task
    from rmbench.grading.core import to_item

    examples = load_examples(load_task("processbench").spec, data_dir, limit=3, subsets=["gsm8k"]).examples
    adapter = CriticAdapter(LocalGenerator(smollm2_dir), CriticSettings(max_new_tokens=64))
    t0 = time.perf_counter()
    preds = adapter.score(examples)
    elapsed = time.perf_counter() - t0
    items = [to_item(ex, p, Policies(), {}) for ex, p in zip(examples, preds, strict=True)]
    rates = [it.metrics["unparseable"] for it in items]
    assert len(rates) == 3 and all(r in (0.0, 1.0) for r in rates)
    assert [it.invalid for it in items] == [int(r) for r in rates]  # one sample: unparseable <=> invalid
    assert all(isinstance(t, str) and t for p in preds for t in p.scores["raw"])
    rate = {"value": sum(rates) / len(rates)}
    print(f"SmolLM2 critic: unparseable rate {rate['value']:.2f} on 3 items in {elapsed:.1f} s")


@pytest.mark.slow
def test_cli_critic_run(smollm2_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    out = tmp_path / "critic"
    r = CliRunner().invoke(app, ["run", "--quiet", "--model", str(smollm2_dir), "--kind", "critic", "--task",
                                 "processbench", "--subset", "gsm8k", "--data-dir", str(data_dir), "--limit", "3",
                                 "--critic-max-new-tokens", "64", "--n-bootstrap", "200", "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = (out / "report.md").read_text()
    assert "unparseable" in report and "critic: prompt `critic_first_error`" in report
    # Every item's metrics, recomputed by hand from the reply kept in items.jsonl: the last \boxed{k}
    # (k = -1 for "all correct") names the first wrong step; no usable box is unparseable and counts wrong.
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert len(items) == 3
    for it in items:
        [reply] = it["scores"]["raw"]
        boxes = re.findall(r"\\boxed\s*\{([^{}]*)\}", reply)
        n_steps = len(it["extra"]["step_labels"])
        k = int(boxes[-1]) if boxes and re.fullmatch(r"-?\d+", boxes[-1].strip()) else None
        parsed = k is not None and -1 <= k < n_steps
        gold = it["extra"]["gold_first_error"]
        assert it["metrics"]["unparseable"] == (0.0 if parsed else 1.0) and it["invalid"] == int(not parsed)
        right = float(parsed and (k == gold if gold is not None else k == -1))
        assert it["metrics"]["acc_erroneous" if gold is not None else "acc_correct"] == right
    overall = json.loads((out / "summary.json").read_text())["results"]["overall"]["metrics"]
    assert overall["unparseable"]["value"] == pytest.approx(sum(it["metrics"]["unparseable"] for it in items) / 3)
    erroneous = [it["metrics"]["acc_erroneous"] for it in items if it["metrics"]["acc_erroneous"] is not None]
    assert overall["acc_erroneous"]["value"] == pytest.approx(sum(erroneous) / len(erroneous))
