"""Benchmark: pairwise-judge throughput of the generation backends on the same model and items (not a test).

The same LLMBar items are judged in both orders (``--swap both``: two requests per item) by the
transformers backend and, when ``vllm`` can be imported in this interpreter, by the vLLM backend.
Prints items/s and requests/s after a warm-up, plus how often the two backends reach the same
verdict (greedy decoding in float32 should agree almost always).

Usage (the vLLM build lives in its own environment, see ``.ci/vllm-env.sh``; run with that
interpreter to measure both backends in one run)::

    OMP_NUM_THREADS=1 python benchmarks/bench_judge_throughput.py [--items 20] [--max-new-tokens 8]
        [--model embedded:smollm2-135m-instruct] [--data-dir DIR] [--backends transformers,vllm]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _examples(data_dir: Path | None, n: int) -> list[Any]:
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    spec = load_task("llmbar").spec
    if data_dir is not None and data_dir.is_dir():
        exset = load_examples(spec, data_dir, limit=n, subsets=["llmbar-natural"])
    else:  # the MIT-licensed sample shipped with rmbench
        exset = load_examples(spec, None, limit=n, use_bundled=True)
    return exset.examples[:n]


def _backend(name: str, model_dir: str, max_batch_size: int) -> Any:
    if name == "transformers":
        from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

        return TransformersBackend(ModelConfig(model=model_dir, max_batch_size=max_batch_size))
    from rmbench.backends.vllm_backend import VLLMBackend, VLLMConfig

    return VLLMBackend(VLLMConfig(model=model_dir))


def _measure(name: str, model_dir: str, examples: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings

    t0 = time.perf_counter()
    backend = _backend(name, model_dir, args.max_batch_size)
    settings = JudgeSettings(swap="both", parser="lenient", max_new_tokens=args.max_new_tokens)
    adapter = JudgeAdapter(backend, settings, model_id=args.model)
    adapter.score(examples[:2])  # warm-up: loads the weights / starts the engine
    ready = time.perf_counter() - t0
    t1 = time.perf_counter()
    preds = adapter.score(examples)
    wall = time.perf_counter() - t1
    requests = sum(len(p.scores["judge"]["asks"]) for p in preds)
    verdicts = [a["verdict"] for p in preds for a in p.scores["judge"]["asks"]]
    if hasattr(backend, "close"):
        backend.close()
    return {
        "backend": name, "items": len(examples), "requests": requests, "seconds": wall, "startup_s": ready,
        "items_per_s": len(examples) / wall, "requests_per_s": requests / wall, "verdicts": verdicts,
        "unparseable": sum(v is None for v in verdicts) / len(verdicts),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--backends", default="transformers,vllm")
    args = parser.parse_args()

    from rmbench.adapters.build import parse_model

    model_dir, _ = parse_model(args.model)
    examples = _examples(args.data_dir, args.items)
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "vllm" in wanted and importlib.util.find_spec("vllm") is None:
        print("vllm is not importable in this interpreter: skipping the vLLM backend (see .ci/vllm-env.sh)")
        wanted.remove("vllm")
    results = [_measure(name, model_dir, examples, args) for name in wanted]
    print(f"\n{len(examples)} LLMBar items, both orders, max_new_tokens={args.max_new_tokens}, model {args.model}")
    print(f"{'backend':<14}{'items/s':>10}{'requests/s':>12}{'seconds':>10}{'start-up s':>12}{'unparseable':>13}")
    for r in results:
        print(f"{r['backend']:<14}{r['items_per_s']:>10.2f}{r['requests_per_s']:>12.2f}{r['seconds']:>10.1f}"
              f"{r['startup_s']:>12.1f}{r['unparseable'] * 100:>12.1f}%")  # fmt: skip
    if len(results) == 2:
        a, b = results[0]["verdicts"], results[1]["verdicts"]
        same = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        print(f"same verdict on {same * 100:.1f}% of {len(a)} requests ({results[0]['backend']} vs {results[1]['backend']})")


if __name__ == "__main__":
    main()
