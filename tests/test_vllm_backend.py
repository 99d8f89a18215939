"""The vLLM backend against transformers on the same tiny models (float32, CPU).

Runs only where vLLM imports, i.e. in the separate environment built by ``.ci/vllm-env.sh``:

    OMP_NUM_THREADS=1 $RMBENCH_VLLM_PYTHON -m pytest -m vllm tests/test_vllm_backend.py

In the main environment the whole module is skipped at collection (without importing anything
heavy). The models are tiny random Llamas with SmolLM2's real tokenizer and chat template: their
text means nothing, but every number must agree with transformers. One vLLM engine is alive at a
time (vLLM needs its distributed state torn down between engines in one process).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("vllm") is None:
    pytest.skip(
        "vllm is not installed here; run with the interpreter from .ci/vllm-env.sh", allow_module_level=True
    )

from rmbench.backends import Generation, GenerationRequest  # noqa: E402
from rmbench.backends.vllm_backend import VLLMBackend, VLLMConfig  # noqa: E402

pytestmark = pytest.mark.vllm

MAX_MODEL_LEN = 1024
PROMPTS = [
    "What is the capital of France?",
    "Answer A or B: which is larger, 3 or 7?",
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "Say hello.",
]


def chat(text: str, **kwargs: Any) -> GenerationRequest:
    return GenerationRequest(messages=({"role": "user", "content": text},), **kwargs)


@pytest.fixture(scope="module")
def vllm_for() -> Iterator[Callable[[Path], VLLMBackend]]:
    """``vllm_for(model_dir)``: a backend for that model, closing the previous one first."""
    current: dict[str, VLLMBackend] = {}

    def get(model_dir: Path) -> VLLMBackend:
        key = str(model_dir)
        if key not in current:
            for backend in current.values():
                backend.close()
            current.clear()
            current[key] = VLLMBackend(VLLMConfig(model=key, dtype="float32", max_model_len=MAX_MODEL_LEN))
        return current[key]

    yield get
    for backend in current.values():
        backend.close()


@pytest.fixture(scope="module")
def hf_lm(tiny_lm_dir: Path) -> tuple[Any, Any]:
    """The same tiny causal LM in plain transformers (float32): (model, tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_lm_dir)


def transformers_greedy(model: Any, tokenizer: Any, requests: list[GenerationRequest]) -> list[str]:
    """Greedy text from rmbench's transformers generation when it exists, else ``model.generate``."""
    if importlib.util.find_spec("rmbench.backends.transformers.generate") is not None:
        from rmbench.backends.transformers.generate import generate

        return [g.text for g in generate(model, tokenizer, requests, model.device)]
    import torch
    from transformers import GenerationConfig

    texts = []
    for req in requests:
        text = tokenizer.apply_chat_template(list(req.messages), add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
        config = GenerationConfig(max_new_tokens=req.max_new_tokens, do_sample=False)
        with torch.inference_mode():
            out = model.generate(**ids, generation_config=config, pad_token_id=tokenizer.eos_token_id)
        texts.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    return texts


def test_greedy_generation_equals_transformers(
    vllm_for: Callable[[Path], VLLMBackend], tiny_lm_dir: Path, hf_lm: tuple[Any, Any]
) -> None:
    requests = [chat(p, max_new_tokens=16) for p in PROMPTS]
    backend = vllm_for(tiny_lm_dir)
    gens = backend.generate(requests)
    assert [g.finish_reason for g in gens] == ["length"] * len(PROMPTS)
    assert all(g.completion_tokens == 16 and g.prompt_tokens > 0 for g in gens)
    assert [g.text for g in gens] == transformers_greedy(*hf_lm, requests)
    # The second run reads the shared prompt prefix from vLLM's prefix cache: same answers.
    assert [g.text for g in backend.generate(requests)] == [g.text for g in gens]


def test_choice_logprobs_equal_transformers(
    vllm_for: Callable[[Path], VLLMBackend], tiny_lm_dir: Path, hf_lm: tuple[Any, Any]
) -> None:
    import torch

    model, tokenizer = hf_lm
    request = chat(PROMPTS[1], max_new_tokens=1)
    text = tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        first = torch.log_softmax(model(**ids).logits[0, -1].float(), dim=-1)
    # A random model puts no weight on "A"/"B": use its own three most likely tokens as the choices
    # (those that survive a decode/encode round trip), plus one far outside the top 20.
    ranked = [int(t) for t in torch.argsort(first, descending=True)]
    choices = [
        tokenizer.decode([t])
        for t in ranked[:40]
        if tokenizer.encode(tokenizer.decode([t]), add_special_tokens=False) == [t]
    ][:3]
    unlikely = tokenizer.decode([ranked[-1]])
    [gen] = vllm_for(tiny_lm_dir).generate([chat(PROMPTS[1], max_new_tokens=1, choices=(*choices, unlikely))])
    assert gen.choice_logprobs is not None
    assert set(gen.choice_logprobs) == set(choices)  # the unlikely one is outside the top 20: left out
    for choice in choices:
        token = tokenizer.encode(choice, add_special_tokens=False)[0]
        assert gen.choice_logprobs[choice] == pytest.approx(float(first[token]), abs=1e-3)


def test_token_logprobs_equal_transformers(
    vllm_for: Callable[[Path], VLLMBackend], tiny_lm_dir: Path, hf_lm: tuple[Any, Any]
) -> None:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    _, tokenizer = hf_lm
    seqs = [tokenizer.encode(p + " Because it is so.", add_special_tokens=False) for p in PROMPTS]
    starts = [1, len(seqs[1]) // 2, len(seqs[2]) - 1, len(seqs[3])]  # the last gives an empty list
    got = vllm_for(tiny_lm_dir).token_logprobs(seqs, starts)
    expected = TransformersBackend(ModelConfig(model=str(tiny_lm_dir), dtype="float32")).token_logprobs(
        seqs, starts
    )
    assert [len(g) for g in got] == [len(s) - st for s, st in zip(seqs, starts, strict=True)]
    assert got[3] == []
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx(e, abs=1e-3)


def test_stop_strings_seed_and_too_long_prompts(
    vllm_for: Callable[[Path], VLLMBackend], tiny_lm_dir: Path
) -> None:
    backend = vllm_for(tiny_lm_dir)
    [full] = backend.generate([chat(PROMPTS[0], max_new_tokens=16)])
    stop = full.text[len(full.text) // 2 :][:3]
    assume = stop.strip() and full.text.index(stop) > 0
    sampled = [chat(PROMPTS[2], max_new_tokens=8, temperature=1.0, seed=s) for s in (5, 5, 6)]
    gens: list[Generation] = backend.generate(
        [
            chat(PROMPTS[0], max_new_tokens=16, stop=(stop,)),
            *sampled,
            chat(PROMPTS[3], max_new_tokens=MAX_MODEL_LEN),  # prompt + new tokens exceed the model length
        ]
    )
    if assume:
        assert gens[0].text == full.text[: full.text.index(stop)] and gens[0].finish_reason == "stop"
    assert gens[1].text == gens[2].text != gens[3].text
    assert gens[4].finish_reason == "error" and "exceeds the model length" in (gens[4].error or "")
    info = backend.describe()
    assert info["stats"]["prompts_too_long"] == 1
    assert info["env"]["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0" and info["env"]["VLLM_CPU_KVCACHE_SPACE"]
    assert (info["dtype"], info["enable_prefix_caching"], info["runner"]) == ("float32", True, "generate")


def test_sequence_scores_equal_transformers(
    vllm_for: Callable[[Path], VLLMBackend], tiny_rm_dir: Path
) -> None:
    from transformers import AutoTokenizer

    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    tokenizer = AutoTokenizer.from_pretrained(tiny_rm_dir)
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}, {"role": "assistant", "content": a}], tokenize=False
        )
        for p in PROMPTS
        for a in ("Paris.", "I do not know, sorry.")
    ]
    seqs = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    got = vllm_for(tiny_rm_dir).sequence_scores(seqs)
    expected = TransformersBackend(ModelConfig(model=str(tiny_rm_dir), dtype="float32")).sequence_scores(seqs)
    assert got == pytest.approx(expected, abs=1e-4)
    assert len(set(got)) == len(got)  # distinct inputs, distinct scores: the head really ran


# --- `rmbench run --backend vllm` against `--backend transformers`, per model kind ------------------
PAIR_ROWS = [
    {"prompt": "What is the capital of France?", "chosen": "Paris.", "rejected": "Lyon, I think."},
    {"prompt": "Say hello.", "chosen": "Hello!", "rejected": "Goodbye, and do not write again."},
    {"prompt": "Add 2 and 3.", "chosen": "2 + 3 = 5.", "rejected": "It is 6."},
]
STEP_ROWS = [
    {"problem": "What is 2 + 2 * 3?", "steps": ["2 * 3 = 6.", "2 + 6 = 8.", "The answer is 8."], "label": -1},
    {"problem": "What is 10 / 2 + 1?", "steps": ["10 / 2 = 4.", "4 + 1 = 5."], "label": 0},
]
RUN_TOLERANCE = 1e-4
"""Largest |vLLM - transformers| allowed for one score, float32 on CPU. Measured on these tiny models
(largest difference over all items and scores): scalar 3.0e-08, likelihood (sum of log-probs, nats)
9.5e-07, process step probabilities 2.5e-08 (causal-lm head) and 1.1e-08 (token-cls head)."""


def _rows_file(path: Path, rows: list[dict[str, Any]]) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run_scores(tmp: Path, backend: str, *args: str) -> dict[str, Any]:
    """``rmbench run ... --backend BACKEND`` in a fresh process; item id -> the item's scores."""
    import json
    import subprocess
    import sys

    out = tmp / f"run-{backend}"
    cmd = [sys.executable, "-m", "rmbench.cli.commands", "run", *args, "--backend", backend,
           "--dtype", "float32", "--max-length", str(MAX_MODEL_LEN), "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["backend"] == backend  # the asked backend ran, nothing fell back
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines() if line.strip()]
    return {item["id"]: item["scores"] for item in items}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def _largest_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    assert a.keys() == b.keys()
    diffs = []
    for key in a:
        x, y = _numbers(a[key]), _numbers(b[key])
        assert len(x) == len(y) and x, (a[key], b[key])
        diffs += [abs(p - q) for p, q in zip(x, y, strict=True)]
    return max(diffs)


def _compare(tmp: Path, *args: str) -> float:
    vllm = _run_scores(tmp, "vllm", *args)
    transformers = _run_scores(tmp, "transformers", *args)
    diff = _largest_difference(vllm, transformers)
    print(f"largest |vllm - transformers| for {args[3]}: {diff:.2e}")
    assert diff <= RUN_TOLERANCE
    return diff


def test_run_scalar_on_vllm_matches_transformers(tmp_path: Path, tiny_rm_dir: Path) -> None:
    data = _rows_file(tmp_path / "pairs.jsonl", PAIR_ROWS)
    _compare(tmp_path, "--model", str(tiny_rm_dir), "--kind", "scalar", "--task", "pairs", "--data-file", str(data))


def test_run_likelihood_on_vllm_matches_transformers(tmp_path: Path, tiny_lm_dir: Path) -> None:
    data = _rows_file(tmp_path / "pairs.jsonl", PAIR_ROWS)
    _compare(tmp_path, "--model", str(tiny_lm_dir), "--kind", "likelihood", "--task", "pairs", "--data-file", str(data))


STEP_FLAGS = ("--task", "steps", "--field", "question=problem", "--field", "steps=steps", "--field", "first_error=label")


def test_run_process_causal_lm_head_on_vllm_matches_transformers(tmp_path: Path, tiny_lm_dir: Path) -> None:
    data = _rows_file(tmp_path / "steps.jsonl", STEP_ROWS)
    _compare(tmp_path, "--model", str(tiny_lm_dir), "--kind", "process", *STEP_FLAGS, "--data-file", str(data))


def test_run_process_token_cls_head_on_vllm_matches_transformers(tmp_path: Path, tiny_tokcls_dir: Path) -> None:
    data = _rows_file(tmp_path / "steps.jsonl", STEP_ROWS)
    _compare(tmp_path, "--model", str(tiny_tokcls_dir), "--kind", "process", *STEP_FLAGS, "--data-file", str(data))


# --- vLLM parallelism options (issue 17 item 4) --------------------------------------------------
def test_parallel_options_reach_the_engine(tiny_lm_dir: Path) -> None:
    """The real engine is built with rmbench's keywords (on CPU only size 1 runs: sizes, memory share)."""
    from rmbench.backends.vllm_config import VLLMParallel

    parallel = VLLMParallel(tensor_parallel_size=1, pipeline_parallel_size=1, gpu_memory_utilization=0.5)
    with VLLMBackend(VLLMConfig(model=str(tiny_lm_dir), dtype="float32", max_model_len=512,
                                parallel=parallel)) as backend:
        backend.prepare("generation")
        config = backend._llm.llm_engine.vllm_config
        assert config.parallel_config.tensor_parallel_size == 1
        assert config.parallel_config.pipeline_parallel_size == 1
        assert config.parallel_config.distributed_executor_backend == "uni"
        assert config.cache_config.gpu_memory_utilization == 0.5
        assert config.cache_config.enable_prefix_caching is True
        assert config.model_config.max_model_len == 512


def test_run_records_parallel_options_in_run_json(tmp_path: Path, tiny_lm_dir: Path) -> None:
    """``rmbench run --backend vllm`` with sizes 1: the options are in run.json's model block (outside
    the run's identity, which the parallel layout does not change)."""
    import json
    import subprocess
    import sys

    data = _rows_file(tmp_path / "pairs.jsonl", PAIR_ROWS)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rmbench.cli.commands", "run", "--model", str(tiny_lm_dir), "--kind", "likelihood",
           "--task", "pairs", "--data-file", str(data), "--backend", "vllm", "--dtype", "float32",
           "--max-length", "512", "--tensor-parallel-size", "1", "--pipeline-parallel-size", "1",
           "--gpu-memory-utilization", "0.5", "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    model = json.loads((out / "run.json").read_text())["model"]
    assert model["parallel"] == {
        "tensor_parallel_size": 1, "pipeline_parallel_size": 1, "data_parallel_size": 1,
        "gpu_memory_utilization": 0.5, "distributed_executor_backend": "auto", "executor_used": "uni",
    }
    assert model["distributed_executor_backend"] == "uni"
    assert model["max_model_len"] == 512
