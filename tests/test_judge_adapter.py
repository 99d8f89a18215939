"""Judge adapter and transformers generation with real (tiny and small) models; no mocks.

The tiny random Llama answers with newlines, so its verdicts are unparseable: it tests the plumbing
(padding, first-position probabilities, seeding, retries, batching invariance). Verdict-level
behaviour (position consistency, first-slot preference) runs on SmolLM2 in the slow tests, and the
grading rules are pinned on hand-made predictions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings, parse_unparseable
from rmbench.adapters.judge.modes import CHOSEN_FIRST, CHOSEN_SECOND, build_asks, resolve_mode
from rmbench.backends import GenerationRequest
from rmbench.datatypes import MultiResponseExample, PairwiseExample, Prediction
from rmbench.errors import UserError
from rmbench.grading.core import Policies, grade

PAIRS = [
    PairwiseExample(id=f"p{i}", subset="s", prompt=f"Question {i}: name a colour.", chosen="Blue." * (i + 1),
                    rejected=f"I refuse to answer {i}.")
    for i in range(6)
]  # fmt: skip


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def tiny(tiny_lm_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_lm_dir).eval(), AutoTokenizer.from_pretrained(tiny_lm_dir)


@pytest.fixture(scope="module")
def tiny_backend(tiny_lm_dir: Path) -> Any:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    return TransformersBackend(ModelConfig(model=str(tiny_lm_dir), max_batch_size=4))


def _requests(n: int, **kw: Any) -> list[GenerationRequest]:
    return [
        GenerationRequest(messages=({"role": "user", "content": "Pick one. " * (1 + 4 * k)},), **kw) for k in range(n)
    ]


# -------------------------------------------------------------------------- transformers generate


def test_left_padded_batch_matches_unbatched_first_position(tiny: tuple[Any, Any]) -> None:
    import torch

    from rmbench.backends.transformers.generate import encode_chat, generate

    model, tok = tiny
    reqs = _requests(3, max_new_tokens=4, choices=("A", "B", "YES"))
    batched = generate(model, tok, reqs, "cpu")
    single = [generate(model, tok, [r], "cpu")[0] for r in reqs]
    for b, s, r in zip(batched, single, reqs, strict=True):
        assert b.text == s.text and b.completion_tokens == s.completion_tokens
        assert b.choice_logprobs is not None and s.choice_logprobs is not None
        for c in r.choices:
            assert b.choice_logprobs[c] == pytest.approx(s.choice_logprobs[c], abs=1e-4)
        # the reference: an unpadded forward pass, log-softmax at the last prompt position
        ids = encode_chat(tok, r.messages)
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, -1].float()
        ref = torch.log_softmax(logits, -1)
        first = tok.encode("YES", add_special_tokens=False)[0]
        assert b.choice_logprobs["YES"] == pytest.approx(float(ref[first]), abs=1e-4)
        assert b.prompt_tokens == len(ids)


def test_chat_encoding_has_one_bos(tiny: tuple[Any, Any]) -> None:
    from rmbench.backends.transformers.generate import encode_chat

    _, tok = tiny
    ids = encode_chat(tok, [{"role": "user", "content": "hi"}])
    text = tok.decode(ids)
    assert text.endswith("<|im_start|>assistant\n") and text.count("<|im_start|>system") <= 1
    if tok.bos_token_id is not None:
        assert ids.count(tok.bos_token_id) == text.count(tok.bos_token)


def test_greedy_generation_is_deterministic(tiny: tuple[Any, Any]) -> None:
    from rmbench.backends.transformers.generate import generate

    model, tok = tiny
    reqs = _requests(4, max_new_tokens=6)
    assert generate(model, tok, reqs, "cpu") == generate(model, tok, reqs, "cpu")


def test_stop_string_cuts_the_text(tiny: tuple[Any, Any]) -> None:
    from rmbench.backends.transformers.generate import cut_at_stop, generate

    model, tok = tiny
    free = generate(model, tok, _requests(1, max_new_tokens=6), "cpu")[0]
    assert free.finish_reason == "length" and free.completion_tokens == 6
    stop = free.text[:1]  # whatever the model says first
    cut = generate(model, tok, _requests(1, max_new_tokens=6, stop=(stop,)), "cpu")[0]
    assert cut.text == "" and cut.finish_reason == "stop" and cut.completion_tokens < 6
    assert cut_at_stop("Verdict: A\n\nBecause", ("\n\n", "Because")) == ("Verdict: A", True)


def test_seeded_sampling_is_reproducible_and_batch_independent(tiny: tuple[Any, Any]) -> None:
    from rmbench.backends.transformers.generate import generate

    model, tok = tiny
    sampled = [GenerationRequest(messages=({"role": "user", "content": "x"},), max_new_tokens=8,
                                 temperature=1.0, seed=s) for s in (1, 2)]  # fmt: skip
    alone = generate(model, tok, [sampled[0]], "cpu")[0]
    with_others = generate(model, tok, [*_requests(2, max_new_tokens=3), *sampled], "cpu")
    assert with_others[2].text == alone.text
    assert with_others[3].text != alone.text  # another seed, another sample (random weights: near-uniform)


# ------------------------------------------------------------------------------- asks and swaps


def test_swap_both_asks_each_pair_in_both_orders() -> None:
    ex = PAIRS[0]
    asks = build_asks("pairwise", ex, "both", seed=0)
    assert [a.info["order"] for a in asks] == [CHOSEN_FIRST, CHOSEN_SECOND]
    assert asks[0].values["response_a"] == ex.chosen == asks[1].values["response_b"]
    assert asks[0].values["response_b"] == ex.rejected == asks[1].values["response_a"]
    assert [a.info["order"] for a in build_asks("pairwise", ex, "none", seed=0)] == [CHOSEN_FIRST]


def test_random_swap_is_seeded_per_item() -> None:
    orders = {s: [build_asks("pairwise", e, "random", seed=s)[0].info["order"] for e in PAIRS] for s in (0, 1)}
    again = [build_asks("pairwise", e, "random", seed=0)[0].info["order"] for e in reversed(PAIRS)]
    assert orders[0] == list(reversed(again))  # does not depend on which items come first
    assert set(orders[0]) == {CHOSEN_FIRST, CHOSEN_SECOND} or set(orders[1]) == {CHOSEN_FIRST, CHOSEN_SECOND}


def test_listwise_rotations_put_every_candidate_in_every_slot() -> None:
    ex = MultiResponseExample(id="m", subset="s", prompt="q", correct=("good",), incorrect=("b1", "b2", "b3"))
    asks = build_asks("listwise", ex, "both", seed=3)
    assert len(asks) == 4
    slots = [[a.info["order"][k] for a in asks] for k in range(4)]
    assert all(sorted(s) == [0, 1, 2, 3] for s in slots)
    assert build_asks("listwise", ex, "none", seed=3)[0].info["order"] == asks[0].info["order"]


def test_auto_mode_and_refusals() -> None:
    assert resolve_mode("auto", "multi_response", scoring="style_matrix") == "pairwise"
    assert resolve_mode("auto", "pointwise", has_reference=True) == "verify"
    with pytest.raises(UserError, match="does not apply"):
        resolve_mode("segments", "pairwise")
    assert parse_unparseable("retry:3") == (None, 3)
    with pytest.raises(UserError):
        parse_unparseable("retry:0")


# ------------------------------------------------------------------------------------- grading


def _pair_prediction(first: str | None, second: str | None, swap: str = "both") -> Prediction:
    from rmbench.adapters.judge.modes import _picked

    asks = []
    for order, verdict in ((CHOSEN_FIRST, first), (CHOSEN_SECOND, second)):
        if verdict == "-":
            continue
        asks.append({"key": f"pair:{order}", "pair": "pair", "order": order, "verdict": verdict,
                     "picked": _picked(verdict, order), "text": str(verdict)})  # fmt: skip
    return Prediction(scores={"judge": {"mode": "pairwise", "swap": swap, "asks": asks}},
                      invalid=any(a["verdict"] is None for a in asks))  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second", "policy", "accuracy", "consistent", "first_slot"),
    [
        ("A", "B", "half", 1.0, 1.0, 0.5),  # right in both orders
        ("B", "A", "half", 0.0, 1.0, 0.5),  # wrong in both orders
        ("A", "A", "half", 0.5, 0.0, 1.0),  # always the first slot: inconsistent
        ("A", "A", "wrong", 0.0, 0.0, 1.0),
        ("B", "B", "half", 0.5, 0.0, 0.0),  # always the second slot
    ],
)
def test_both_orders_grading(first: str, second: str, policy: str, accuracy: float, consistent: float,
                             first_slot: float) -> None:  # fmt: skip
    g = grade(PAIRS[0], _pair_prediction(first, second), Policies(inconsistent_policy=policy))  # type: ignore[arg-type]
    assert g.metrics["accuracy"] == accuracy and g.metrics["consistent"] == consistent
    assert g.metrics["first_slot"] == first_slot and g.metrics["unparseable"] == 0.0
    assert g.metrics["acc_consistent"] == (accuracy if consistent else None)


def test_unparseable_and_tie_follow_their_policies() -> None:
    g = grade(PAIRS[0], _pair_prediction("A", None), Policies(invalid_policy="exclude"))
    assert g.invalid == 1 and g.metrics["accuracy"] is None and g.metrics["unparseable"] == 0.5
    g = grade(PAIRS[0], _pair_prediction("TIE", "TIE"), Policies(tie_policy="half"))
    assert g.ties == 2 and g.metrics["accuracy"] == 0.5 and g.metrics["first_slot"] is None
    single = grade(PAIRS[0], _pair_prediction("B", "-", swap="none"), Policies())
    assert single.metrics["accuracy"] == 0.0 and "consistent" not in single.metrics


def test_prob_accuracy_averages_the_two_orders() -> None:
    pred = _pair_prediction("A", "A")  # always the first slot: inconsistent verdicts
    first, second = pred.scores["judge"]["asks"]
    first["p_chosen"], second["p_chosen"] = 0.9, 0.3  # P(chosen) averages to 0.6
    g = grade(PAIRS[0], pred, Policies())
    assert g.metrics["accuracy"] == 0.5 and g.metrics["prob_accuracy"] == 1.0


def test_style_matrix_items_are_judged_pair_by_pair() -> None:
    from rmbench.adapters.judge.modes import Answer, assemble

    ex = MultiResponseExample(id="r", subset="chat", prompt="q", correct=("c0", "c1"), incorrect=("i0", "i1"),
                              scoring="style_matrix")  # fmt: skip
    asks = build_asks("pairwise", ex, "none", seed=0)
    assert [a.info["pair"] for a in asks] == ["c0-i0", "c0-i1", "c1-i0", "c1-i1"]
    # the judge wins every pair except c1 (more styled) vs i0 (plain): an "easy" comparison lost
    verdicts = ["A", "A", "B", "A"]
    pred = assemble("pairwise", ex, asks, [Answer(v, v, "strict-first-line") for v in verdicts], {"swap": "none"})
    g = grade(ex, pred, Policies())
    assert g.metrics["hard"] == 1.0 and g.metrics["normal"] == 1.0 and g.metrics["easy"] == 0.0
    assert g.metrics["accuracy"] == 0.75 and g.metrics["first_slot"] == 0.75


def test_judge_pairs_task_reads_the_judgebench_layout(tmp_path: Path) -> None:
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    rows = [
        {"pair_id": "a1", "question": "2+2?", "response_A": "4", "response_B": "5", "label": "A>B"},
        {"pair_id": "a2", "question": "Capital of Peru?", "response_A": "Quito", "response_B": "Lima", "label": "B>A"},
        {"pair_id": "a3", "question": "Tie?", "response_A": "x", "response_B": "x", "label": "A=B"},
    ]
    f = tmp_path / "judgebench.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    overrides = {"source": {"local": {"files": [str(f)]}}, "fields": {"id": "pair_id"}}
    exset = load_examples(load_task("judge-pairs", overrides=overrides).spec, None)
    assert [e.id for e in exset.examples] == ["a1", "a2"] and exset.records_skipped == 1
    first, second = exset.examples
    assert isinstance(first, PairwiseExample) and isinstance(second, PairwiseExample)
    assert (first.chosen, first.rejected) == ("4", "5") and (second.chosen, second.rejected) == ("Lima", "Quito")


# ------------------------------------------------------------------------- the adapter, tiny model


def test_adapter_records_both_orders_and_raw_text(tiny_backend: Any) -> None:
    adapter = JudgeAdapter(tiny_backend, JudgeSettings(max_new_tokens=3, modes=("pairwise",)), "tiny")
    preds = adapter.score(PAIRS[:2])
    block = preds[0].scores["judge"]
    assert [a["order"] for a in block["asks"]] == [CHOSEN_FIRST, CHOSEN_SECOND]
    assert all("text" in a and set(a["probs"]) == {"A", "B"} for a in block["asks"])
    assert all(a["p_chosen"] == pytest.approx(a["probs"]["A" if a["order"] == CHOSEN_FIRST else "B"])
               for a in block["asks"])  # fmt: skip
    assert preds[0].invalid and preds[0].extra["judge_unparseable"] == 2  # a random model writes no verdict
    info = adapter.describe()
    assert info["prompt"]["name"] == "pairwise" and len(info["prompt_sha256"]) == 64


def test_random_swap_adapter_is_stable_across_chunks_and_batch_sizes(tiny_lm_dir: Path) -> None:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    settings = JudgeSettings(swap="random", seed=5, max_new_tokens=2)
    big = JudgeAdapter(TransformersBackend(ModelConfig(model=str(tiny_lm_dir), max_batch_size=4)), settings)
    small = JudgeAdapter(TransformersBackend(ModelConfig(model=str(tiny_lm_dir), max_batch_size=1)), settings)
    together = big.score(PAIRS[:4])
    chunked = small.score(PAIRS[2:4]) + small.score(PAIRS[:2])
    chunked = chunked[2:] + chunked[:2]
    for a, b in zip(together, chunked, strict=True):
        ja, jb = a.scores["judge"]["asks"], b.scores["judge"]["asks"]
        assert [x["order"] for x in ja] == [x["order"] for x in jb]
        assert [x["text"] for x in ja] == [x["text"] for x in jb]
        for x, y in zip(ja, jb, strict=True):
            assert x["probs"]["A"] == pytest.approx(y["probs"]["A"], abs=1e-5)


def test_retries_are_seeded_and_recorded(tiny_backend: Any) -> None:
    settings = JudgeSettings(swap="none", retries=2, max_new_tokens=3, seed=1)
    first = JudgeAdapter(tiny_backend, settings).score(PAIRS[:1])
    again = JudgeAdapter(tiny_backend, settings).score(PAIRS[:1])
    for a, b in zip(first, again, strict=True):
        ask_a, ask_b = a.scores["judge"]["asks"][0], b.scores["judge"]["asks"][0]
        assert ask_a == ask_b
        if ask_a["verdict"] is None:
            assert ask_a["attempts"] == 3 and len(ask_a["earlier_texts"]) == 2


# ------------------------------------------------------------------------ the embedded judge (slow)


@pytest.mark.slow
def test_smollm2_batched_generation_matches_single_and_stops(smollm2_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rmbench.backends.transformers.generate import generate

    model, tok = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval(), AutoTokenizer.from_pretrained(smollm2_dir)
    prompts = ["What is the capital of France? Answer in one sentence.", "Say hello.", "Name a colour."]
    reqs = [GenerationRequest(messages=({"role": "user", "content": p},), max_new_tokens=8) for p in prompts]
    batched = generate(model, tok, reqs, "cpu")
    assert [g.text for g in batched] == [generate(model, tok, [r], "cpu")[0].text for r in reqs]
    assert "Paris" in batched[0].text
    stop = GenerationRequest(messages=reqs[0].messages, max_new_tokens=8, stop=("Paris",))
    cut = generate(model, tok, [stop], "cpu")[0]
    assert "Paris" not in cut.text and cut.finish_reason == "stop" and batched[0].text.startswith(cut.text)


@pytest.mark.slow
def test_cli_llmbar_swap_both_reports_position_bias_and_is_reproducible(tmp_path: Path, data_dir: Path) -> None:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    def run(out: Path) -> dict[str, Any]:
        args = [
            "run", "--model", "embedded:smollm2-135m-instruct", "--kind", "judge", "--task", "llmbar",
            "--data-dir", str(data_dir), "--limit", "2", "--swap", "both", "--parser", "lenient",
            "--max-new-tokens", "6", "--n-bootstrap", "200", "--out", str(out), "--quiet",
        ]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads((out / "summary.json").read_text())

    summary = run(tmp_path / "a")
    metrics = summary["results"]["overall"]["metrics"]
    for name in ("accuracy", "consistent", "first_slot", "unparseable"):
        assert metrics[name]["value"] is not None or name == "consistent"
    assert summary["config"]["swap"] == "both" and summary["config"]["inconsistent_policy"] == "half"
    report = (tmp_path / "a" / "report.md").read_text()
    assert "position consistency" in report or "first-slot preference" in report
    assert "random choice scores 50%" in report
    items = [json.loads(x) for x in (tmp_path / "a" / "items.jsonl").read_text().splitlines()]
    _assert_pairwise_judge_values(metrics, items)
    # The verdict that follows the chance sentence matches the accuracy interval (item 7 slipped through here).
    acc = metrics["accuracy"]
    verdict = "below chance" if acc["high"] < 0.5 else "above chance" if acc["low"] > 0.5 else "not distinguishable"
    chance_line = next(line for line in report.splitlines() if "random choice scores 50%" in line)
    assert verdict in chance_line, chance_line
    first = metrics["first_slot"]
    assert ("position-biased" in report) == (first["low"] > 0.5 or first["high"] < 0.5)
    run(tmp_path / "b")
    items_a = [json.loads(x) for x in (tmp_path / "a" / "items.jsonl").read_text().splitlines()]
    items_b = [json.loads(x) for x in (tmp_path / "b" / "items.jsonl").read_text().splitlines()]
    assert items_a == items_b


def _assert_pairwise_judge_values(metrics: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Per item and overall, from the two verdicts kept in items.jsonl: a pair counts 1 when both orders
    pick the chosen response, 0 when both pick the rejected one or a reply is unparseable (policy
    wrong; items with a tie verdict are skipped), 0.5 when the orders disagree (policy half); first_slot is the share of verdicts for the
    response shown first."""
    first_slot, accuracy = [], []
    for it in items:
        asks = it["scores"]["judge"]["asks"]
        assert [a["order"] for a in asks] == ["chosen_first", "chosen_second"]
        picks = [a["picked"] if a["verdict"] is not None else None for a in asks]
        if any(p not in ("chosen", "rejected", None) for p in picks):  # a "tie" verdict: its own rules
            continue
        value = 0.0 if None in picks else 1.0 if picks == ["chosen", "chosen"] else 0.0 if picks == ["rejected"] * 2 else 0.5
        assert it["metrics"]["accuracy"] == value, it["id"]
        assert it["metrics"]["unparseable"] == sum(p is None for p in picks) / 2
        shown_first = [(a["order"] == "chosen_first") == (p == "chosen") for a, p in zip(asks, picks, strict=True)
                       if p is not None]  # fmt: skip
        if shown_first:
            assert it["metrics"]["first_slot"] == pytest.approx(sum(shown_first) / len(shown_first))
            first_slot.append(it["metrics"]["first_slot"])
        accuracy.append(value)
    assert metrics["accuracy"]["value"] == pytest.approx(sum(accuracy) / len(accuracy))
    assert metrics["first_slot"]["value"] == pytest.approx(sum(first_slot) / len(first_slot))
