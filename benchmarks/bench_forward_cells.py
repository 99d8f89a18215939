"""Cost of one batch cell (row x position) of a plain forward pass, by batch rows, attention and grad mode.

    python benchmarks/bench_forward_cells.py --length 160 --configs 1,4,8,16,32,8/eager,8/no_grad

Run by hand. SmolLM2-135M-Instruct as a sequence classifier (built as ``bench_scalar_scoring.py`` does),
float32, one thread, base model only (rmbench applies the score head at the pooled position only),
random token ids of one length, no padding and no mask. Each config runs about ``--cells`` cells; the
configs alternate in order over ``--repeat`` rounds (the machine may be shared) and each round prints
milliseconds per cell. A config is ``ROWS`` optionally followed by ``/eager`` (else sdpa) and
``/no_grad`` (else ``torch.inference_mode``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch


def per_cell(model: torch.nn.Module, config: str, length: int, cells: int) -> float:
    rows = int(config.split("/")[0])
    model.config._attn_implementation = "eager" if "eager" in config else "sdpa"
    ids = torch.randint(100, 40000, (rows, length), generator=torch.Generator().manual_seed(0))
    calls = max(1, cells // (rows * length))
    t0 = time.perf_counter()
    with torch.no_grad() if "no_grad" in config else torch.inference_mode():
        for _ in range(calls):
            model(input_ids=ids, use_cache=False)
    return (time.perf_counter() - t0) / (calls * rows * length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=160)
    parser.add_argument("--cells", type=int, default=5120)
    parser.add_argument("--configs", default="1,4,8,16,32,8/eager,8/no_grad")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scalar_scoring import build_model
    from transformers import AutoModelForSequenceClassification

    configs = args.configs.split(",")
    with tempfile.TemporaryDirectory(prefix="rmbench-cells-") as tmp:
        folder = build_model("smollm2", Path(tmp))
        base = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval().model
    per_cell(base, "1", 8, 8)  # warm-up
    for r in range(args.repeat):
        for config in configs if r % 2 == 0 else configs[::-1]:
            ms = 1000 * per_cell(base, config, args.length, args.cells)
            print(f"round {r} length {args.length} {config:12s} {ms:.3f} ms/cell  load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
