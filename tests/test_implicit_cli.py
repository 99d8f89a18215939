"""``--kind implicit`` (DPO implicit reward) runs on the built-in preference tasks, as the README shows.

The README command ``rmbench run --model ./dpo-policy --ref-model ./sft --kind implicit --task llmbar
--data-dir DATA`` is run on two tiny causal LMs built with different seeds (policy and reference), and
one item's reward is recomputed here without rmbench's adapters or backend: plain transformers
forward passes, the chat template applied directly, log-softmax gathered by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmbench.data.task import discover_tasks, parse_task_file


@pytest.fixture(scope="module")
def policy_and_ref(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> tuple[Path, Path]:
    from rmbench.testing.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("dpo")
    policy = build_tiny_model(root / "dpo-policy", kind="causal-lm", tokenizer_dir=smollm2_dir, seed=1)
    ref = build_tiny_model(root / "sft", kind="causal-lm", tokenizer_dir=smollm2_dir, seed=2)
    return policy, ref


def _response_logprob(folder: Path, prompt: list[dict[str, str]], response: str) -> float:
    """sum log p(response tokens | chat-rendered prompt) with plain transformers calls."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    head = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    head_ids = tok(head, add_special_tokens=False)["input_ids"]
    body_ids = tok(response, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([head_ids + body_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    n = len(head_ids)
    return float(sum(logp[n + i - 1, t] for i, t in enumerate(body_ids)))


def test_readme_implicit_command_runs_and_equals_policy_minus_reference(
    policy_and_ref: tuple[Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    policy, ref = policy_and_ref
    out = tmp_path / "run"
    args = ["run", "--model", str(policy), "--ref-model", str(ref), "--kind", "implicit", "--task", "llmbar",
            "--data-dir", str(data_dir), "--limit", "1", "--subset", "llmbar-natural", "--out", str(out),
            "--quiet", "--n-bootstrap", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    item = json.loads((out / "items.jsonl").read_text().splitlines()[0])
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["kind"] == "implicit" and run["config"]["ref_model"] == str(ref)

    [example] = load_examples(load_task("llmbar").spec, data_dir, limit=1, subsets=["llmbar-natural"]).examples
    prompt = [{"role": m["role"], "content": m["content"]} for m in example.prompt]
    for side, text in (("chosen", example.chosen), ("rejected", example.rejected)):
        expected = _response_logprob(policy, prompt, text) - _response_logprob(ref, prompt, text)
        assert abs(expected) > 1e-3  # two different models: a non-trivial reward
        assert item["scores"][side] == pytest.approx(expected, abs=2e-3)


def test_every_preference_task_accepts_implicit() -> None:
    """Every pairwise and multi-response task scored by whole responses lists ``implicit``
    (rewardmath-prm is a process-reward task on the same data as rewardmath, which lists it)."""
    checked = 0
    for name, (path, origin) in discover_tasks(()).items():
        spec = parse_task_file(path, origin).spec
        if spec.example_kind in ("pairwise", "multi_response") and "likelihood" in spec.model_kinds:
            assert "implicit" in spec.model_kinds, name
            checked += 1
    assert checked >= 8
