"""Steps per second: process-reward scoring from one forward pass per solution vs one per step prefix.

Same model, same solutions, same batching (token budget); the per-step way runs every step's
prefix separately (what a naive PRM evaluation does), the one-pass way reads all steps of a solution
from a single forward pass. Also checks that both give the same step scores.

    python benchmarks/bench_process_steps.py --data-dir ../shared/data            # tiny random Llama
    python benchmarks/bench_process_steps.py --data-dir ../shared/data --model embedded:smollm2-135m-instruct

Prints the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _model_folder(model: str | None, workdir: Path) -> str:
    if model is None:
        from rmbench.backends.embedded import resolve_embedded
        from rmbench.testing.tiny import build_tiny_model

        return str(build_tiny_model(workdir / "tiny-lm", kind="causal-lm", tokenizer_dir=resolve_embedded("smollm2-135m-instruct")))
    from rmbench.adapters.build import parse_model

    return parse_model(model)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model", default=None, help="model folder or embedded:ALIAS (default: a tiny random Llama)")
    parser.add_argument("--split", default="gsm8k")
    parser.add_argument("--n", type=int, default=20, help="solutions to score")
    parser.add_argument("--token-budget", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from rmbench.adapters.steps.process import ProcessSettings, build_process_adapter
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    with tempfile.TemporaryDirectory() as tmp:
        folder = _model_folder(args.model, Path(tmp))
        backend = TransformersBackend(ModelConfig(model=folder, dtype="float32", token_budget=args.token_budget))
        adapter = build_process_adapter(backend, ProcessSettings())
        examples = load_examples(load_task("processbench").spec, args.data_dir, limit=args.n, subsets=[args.split]).examples
        encoded = [adapter.encode(e.prompt, e.steps) for e in examples]
        n_steps = sum(len(e.positions) for e in encoded)
        n_tokens = sum(len(e.ids) for e in encoded)
        scorer = adapter.backend

        def one_pass() -> list[np.ndarray]:
            return scorer.position_logits([e.ids for e in encoded], [e.positions for e in encoded],
                                          token_ids=adapter.token_ids, head=adapter.head)

        def per_step() -> list[np.ndarray]:
            seqs = [e.ids[: p + 1] for e in encoded for p in e.positions]
            pos = [[p] for e in encoded for p in e.positions]
            return scorer.position_logits(seqs, pos, token_ids=adapter.token_ids, head=adapter.head)

        one_pass()  # load the model and warm up
        timings: dict[str, list[float]] = {"one pass per solution": [], "one pass per step prefix": []}
        results = {}
        for _ in range(args.repeats):
            for name, fn in (("one pass per solution", one_pass), ("one pass per step prefix", per_step)):
                t0 = time.perf_counter()
                results[name] = fn()
                timings[name].append(time.perf_counter() - t0)
        a = np.concatenate(results["one pass per solution"])
        b = np.concatenate(results["one pass per step prefix"])
        print(f"model {folder} ({backend.dtype}), {torch.get_num_threads()} threads; ProcessBench {args.split}: "
              f"{len(examples)} solutions, {n_steps} steps, {n_tokens} tokens")
        for name, ts in timings.items():
            best = min(ts)
            print(f"  {name:26s} {best:8.2f} s  {n_steps / best:9.1f} steps/s")
        ratio = min(timings["one pass per step prefix"]) / min(timings["one pass per solution"])
        print(f"  speed-up of one pass: {ratio:.1f}x; max |logit difference| {np.abs(a - b).max():.2e}")


if __name__ == "__main__":
    main()
