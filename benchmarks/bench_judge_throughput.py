"""Benchmark: pairwise-judge throughput of the generation backends on the same model and items (not a test).

The same LLMBar items are judged in both orders (``--swap both``: two requests per item) by the
transformers backend and, when ``vllm`` can be imported in this interpreter, by the vLLM backend.
Prints items/s and requests/s after a warm-up, plus how often the two backends reach the same
verdict (greedy decoding in float32 should agree almost always).

Usage (the vLLM build lives in its own environment, see ``.ci/vllm-env.sh``; run with that
interpreter to measure both backends in one run)::

    OMP_NUM_THREADS=1 python benchmarks/bench_judge_throughput.py [--items 20] [--max-new-tokens 8]
        [--model embedded:smollm2-135m-instruct] [--data-dir DIR] [--backends transformers,vllm]

``--felm``: FELM segment checks (one request per segment, the task's own prompt and token limit) on
the transformers backend without and with prompt-prefix reuse
(:mod:`rmbench.backends.transformers.prefix_reuse`), alternated ``--rounds`` times in this one process
(the machine may be shared: the ratio is what counts, not the absolute speed); prints items/s of each
and the ratio, and whether the verdicts are the same::

    OMP_NUM_THREADS=1 python benchmarks/bench_judge_throughput.py --felm [--items 6] [--rounds 2]
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


def _felm_examples(data_dir: Path, n: int) -> list[Any]:
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    exset = load_examples(load_task("felm").spec, data_dir, limit=max(1, -(-n // 5)))  # spread over the 5 domains
    return exset.examples[:n]


def _felm_run(model_dir: str, examples: list[Any], reuse: bool, chunk: int) -> tuple[float, list[Any], Any]:
    """Seconds to judge ``examples`` in chunks of ``chunk`` items (as ``rmbench run`` does), the verdict
    texts, and the backend's generation counts; the model is loaded and warmed up before timing."""
    from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    backend = TransformersBackend(ModelConfig(model=model_dir, dtype="float32", threads=1, prefix_sharing=reuse))
    adapter = JudgeAdapter(backend, JudgeSettings(), model_id="felm-bench")
    adapter.score(examples[:1])
    t = time.perf_counter()
    preds = [p for i in range(0, len(examples), chunk) for p in adapter.score(examples[i : i + chunk])]
    wall = time.perf_counter() - t
    texts = [a["text"] for p in preds for a in p.scores["judge"]["asks"]]
    return wall, texts, backend.generate_stats


def felm_main(args: argparse.Namespace, model_dir: str) -> None:
    examples = _felm_examples(args.data_dir, args.items)
    segments = sum(len(e.segments) for e in examples)
    print(f"FELM: {len(examples)} items, {segments} segments, model {args.model}, float32, 1 thread, "
          f"chunks of {args.chunk} items; alternating without / with prefix reuse, {args.rounds} round(s)")
    times: dict[bool, list[float]] = {False: [], True: []}
    texts: dict[bool, list[Any]] = {}
    for r in range(args.rounds):
        for reuse in (False, True) if r % 2 == 0 else (True, False):
            wall, texts[reuse], stats = _felm_run(model_dir, examples, reuse, args.chunk)
            times[reuse].append(wall)
            extra = (f", prompt tokens run {stats.prompt_tokens_run} of {stats.prompt_tokens}" if reuse else "")
            print(f"  round {r + 1} {'with' if reuse else 'without'} reuse: {wall:.1f} s, "
                  f"{len(examples) / wall:.3f} items/s{extra}", flush=True)
    before, after = sum(times[False]), sum(times[True])
    same = sum(a == b for a, b in zip(texts[False], texts[True], strict=True))
    print(f"items/s without reuse {len(examples) * args.rounds / before:.3f}, with reuse "
          f"{len(examples) * args.rounds / after:.3f}: ratio {before / after:.2f}x (summed over rounds)")
    print(f"same judge text on {same} of {len(texts[True])} segments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--backends", default="transformers,vllm")
    parser.add_argument("--felm", action="store_true", help="FELM segments: without vs with prefix reuse")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=8, help="--felm: items per adapter call (rmbench run: 8)")
    args = parser.parse_args()

    from rmbench.backends.model_source import parse_model

    model_dir, _ = parse_model(args.model)
    if args.felm:
        felm_main(args, model_dir)
        return
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
