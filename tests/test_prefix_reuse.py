"""Judge generation that computes shared prompt prefixes once (issue 17 item 7).

The shared path (:mod:`rmbench.backends.transformers.prefix_reuse`) must give the same greedy tokens
as the batched ``model.generate`` path, in float32, on prompts shaped like FELM's (one request per
segment of an answer: the same instructions and question, a growing context, then the segment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rmbench.backends import GenerationRequest
from rmbench.backends.transformers.generate import GenerateSettings, GenerateStats, generate
from rmbench.backends.transformers.prefix_reuse import blocks, sharing_pays

QUESTION = "Which planet is largest, and how many moons does it have? Explain briefly."
SEGMENTS = ["Jupiter is the largest planet.", "It has 95 known moons.", "Saturn has more rings.",
            "Its diameter is about 140,000 km."]


def felm_like(segments: list[str], stop: tuple[str, ...] = ()) -> list[GenerationRequest]:
    out = []
    for i, seg in enumerate(segments):
        previous = " ".join(segments[:i])
        text = (f"Check one passage of an answer for factual mistakes.\n\n### User question\n{QUESTION}\n\n"
                + (f"### Earlier part of the answer\n{previous}\n\n" if previous else "")
                + f"### Passage to check\n{seg}\n\n### Your verdict\nReply YES or NO.")
        out.append(GenerationRequest(messages=({"role": "user", "content": text},), max_new_tokens=12,
                                     choices=("YES", "NO"), stop=stop))
    return out


def _lm(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(folder)


def _both(model: Any, tokenizer: Any, reqs: list[GenerationRequest], **settings: Any) -> tuple[list[Any], list[Any], GenerateStats]:
    import torch

    stats = GenerateStats()
    with torch.inference_mode():
        plain = generate(model, tokenizer, reqs, model.device, GenerateSettings(prefix_reuse=False, **settings))
        shared = generate(model, tokenizer, reqs, model.device, GenerateSettings(prefix_reuse=True, **settings), stats)
    return plain, shared, stats


def _assert_same(plain: list[Any], shared: list[Any]) -> None:
    for a, b in zip(plain, shared, strict=True):
        assert (a.text, a.finish_reason, a.prompt_tokens) == (b.text, b.finish_reason, b.prompt_tokens)
        assert a.choice_logprobs.keys() == b.choice_logprobs.keys()
        for key in a.choice_logprobs:
            assert b.choice_logprobs[key] == pytest.approx(a.choice_logprobs[key], abs=1e-4)


def test_shared_prefix_generation_equals_batched_generate(tiny_lm_dir: Path) -> None:
    model, tokenizer = _lm(tiny_lm_dir)
    reqs = felm_like(SEGMENTS) + felm_like(["Mars is red.", "It has two moons."])
    plain, shared, stats = _both(model, tokenizer, reqs)
    _assert_same(plain, shared)
    assert stats.reused_requests == len(reqs)  # the shared path ran
    assert stats.prompt_tokens_run < 0.6 * stats.prompt_tokens  # and skipped the shared prefixes


def test_small_batches_and_stop_strings_give_the_same_text(tiny_lm_dir: Path) -> None:
    """Rows leave a decode batch at different steps; several blocks; a stop string cuts the text."""
    model, tokenizer = _lm(tiny_lm_dir)
    reqs = felm_like(SEGMENTS, stop=("e",))
    plain, shared, stats = _both(model, tokenizer, reqs, max_batch_size=3)
    _assert_same(plain, shared)
    assert stats.reused_requests == len(reqs)


def test_prompts_sharing_only_the_chat_template_also_match(tiny_lm_dir: Path) -> None:
    """SmolLM2's template writes the same system prompt first: short unrelated prompts share it."""
    model, tokenizer = _lm(tiny_lm_dir)
    reqs = [GenerationRequest(messages=({"role": "user", "content": t},), max_new_tokens=6, choices=("A", "B"))
            for t in ("Say hello.", "What is 2 + 2?", "Name a colour.")]
    plain, shared, stats = _both(model, tokenizer, reqs)
    _assert_same(plain, shared)
    assert stats.reused_requests == 3


def test_sharing_pays_and_blocks() -> None:
    assert sharing_pays([[1, 2, 3, 4, 5], [1, 2, 3, 4, 6]])
    assert not sharing_pays([[1, 2], [3, 4]])
    assert not sharing_pays([[1, 2, 3]])
    assert blocks([3, 4, 10, 2], token_budget=12, max_rows=8) == [[0, 1], [2], [3]]
    assert blocks([1, 1, 1], token_budget=100, max_rows=2) == [[0, 1], [2]]


@pytest.mark.slow
def test_felm_items_with_smollm2_give_the_same_verdicts(smollm2_dir: Path, data_dir: Path) -> None:
    """Real FELM prompts (the task's own template) and SmolLM2-135M-Instruct in float32: the judge's
    text of every segment is the same with and without prefix reuse."""
    from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    examples = load_examples(load_task("felm").spec, data_dir, limit=1).examples[:3]
    asks = {}
    for reuse in (False, True):
        backend = TransformersBackend(ModelConfig(model=str(smollm2_dir), dtype="float32", prefix_sharing=reuse))
        preds = JudgeAdapter(backend, JudgeSettings(max_new_tokens=16)).score(examples)
        asks[reuse] = [a for p in preds for a in p.scores["judge"]["asks"]]
        if reuse:
            assert backend.generate_stats.reused_requests == len(asks[reuse])
    assert [a["text"] for a in asks[True]] == [a["text"] for a in asks[False]]
    assert [a["verdict"] for a in asks[True]] == [a["verdict"] for a in asks[False]]
    for a, b in zip(asks[False], asks[True], strict=True):
        assert b["probs"]["YES"] == pytest.approx(a["probs"]["YES"], abs=1e-4)
