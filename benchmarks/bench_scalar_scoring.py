"""Scalar reward-model scoring speed on LLMBar, five ways, one model and one data set per run.

    python benchmarks/bench_scalar_scoring.py --model smollm2 --dtype bfloat16 --limit 100 --threads 1

Approaches (all score the same token ids: each pair's prompt + response under the chat template):

  (a) rewardbench  RewardBench's pipeline style: batches of 8 chosen then 8 rejected, dataset order,
                   padded to the longest, the model's own forward and pooling
  (b) fixed-8      a plain loop: 8 consecutive sequences (pairs interleaved), padded to the longest
  (c) packed       rmbench's backend: length-sorted, packed to a token budget (sequence_scores)
  (d) shared       rmbench's backend with prefix sharing: each pair's prompt computed once
  (e) no-padding   the forward-only limit: equal-length sequences batched with no padding at all;
                   only forward time is counted (it still computes every prompt twice)

Models: ``tiny`` (random 2-layer Llama built by rmbench.testing.tiny, SmolLM2's tokenizer) and ``smollm2``
(SmolLM2-135M-Instruct as a sequence classifier with a random, seeded head). In bfloat16 it also
reports how many LLMBar decisions flip between batch size 1 and the packed / shared paths.
Data: the five ``$RMBENCH_DATA_DIR/llmbar/LLMBar_*.json`` files (fields input, output_1, output_2, label).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rmbench.adapters.chat import ChatRenderer
from rmbench.backends.embedded import resolve_embedded
from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend
from rmbench.testing.tiny import build_tiny_model

Pair = tuple[list[int], list[int]]


def load_llmbar(data_dir: Path) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) from the five LLMBar files, in file order."""
    files = sorted((data_dir / "llmbar").glob("LLMBar_*.json"))
    if len(files) != 5:
        raise SystemExit(f"expected 5 LLMBar_*.json files in {data_dir / 'llmbar'}, found {len(files)}")
    rows = []
    for path in files:
        for r in json.loads(path.read_text()):
            good, bad = (r["output_1"], r["output_2"]) if r["label"] == 1 else (r["output_2"], r["output_1"])
            rows.append((r["input"], good, bad))
    return rows


def build_model(name: str, workdir: Path) -> Path:
    smollm2 = resolve_embedded("smollm2-135m-instruct")
    if name == "tiny":
        return build_tiny_model(workdir / "tiny-rm", kind="seq-cls", tokenizer_dir=smollm2)
    torch.manual_seed(0)  # the random score head, the same for every dtype
    model = AutoModelForSequenceClassification.from_pretrained(smollm2, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = model.config.eos_token_id
    out = workdir / "smollm2-rm"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(smollm2).save_pretrained(out)
    return out


def pad_batch(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
    return ids, mask


def fixed_batches(model: torch.nn.Module, batches: list[list[list[int]]], pad_id: int) -> tuple[list[float], float]:
    t0, scores = time.perf_counter(), []
    with torch.inference_mode():
        for seqs in batches:
            ids, mask = pad_batch(seqs, pad_id)
            scores += model(input_ids=ids, attention_mask=mask).logits[:, 0].float().tolist()
    return scores, time.perf_counter() - t0


def rewardbench_style(model: torch.nn.Module, pairs: list[Pair], pad_id: int) -> tuple[list[float], float]:
    """Per 8 pairs: a batch of the chosen, then a batch of the rejected. Returns flat [c0, r0, c1, r1, ...]."""
    batches = []
    for k in range(0, len(pairs), 8):
        chunk = pairs[k : k + 8]
        batches += [[c for c, _ in chunk], [r for _, r in chunk]]
    flat, seconds = fixed_batches(model, batches, pad_id)
    out = []
    for k in range(0, len(pairs), 8):
        n = len(pairs[k : k + 8])
        chosen, rejected, flat = flat[:n], flat[n : 2 * n], flat[2 * n :]
        for c, r in zip(chosen, rejected, strict=True):
            out += [c, r]
    return out, seconds


def no_padding_limit(model: torch.nn.Module, seqs: list[list[int]], budget: int) -> tuple[list[float], float]:
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(seqs):
        by_length[len(s)].append(i)
    scores, forward = [0.0] * len(seqs), 0.0
    with torch.inference_mode():
        for length, idx in by_length.items():
            step = max(1, budget // length)
            for k in range(0, len(idx), step):
                part = idx[k : k + step]
                ids = torch.tensor([seqs[i] for i in part])
                t0 = time.perf_counter()
                logits = model(input_ids=ids).logits[:, 0]
                forward += time.perf_counter() - t0
                for i, v in zip(part, logits.float().tolist(), strict=True):
                    scores[i] = v
    return scores, forward


def flips(a: list[float], b: list[float]) -> tuple[int, float]:
    """(decisions that differ, max |score difference|) between two flat [c, r, c, r, ...] score lists."""
    n = sum((a[i] > a[i + 1]) != (b[i] > b[i + 1]) for i in range(0, len(a), 2))
    return n, max(abs(x - y) for x, y in zip(a, b, strict=True))


def run(name: str, folder: Path, dtype: str, pairs_text: list[tuple[str, str, str]], args: argparse.Namespace) -> None:
    cfg = dict(dtype=dtype, device="cpu", token_budget=args.token_budget, max_length=args.max_length,
               batch_cost=args.batch_cost)
    backend = TransformersBackend(ModelConfig(str(folder), prefix_sharing=False, **cfg))  # type: ignore[arg-type]
    shared = TransformersBackend(ModelConfig(str(folder), prefix_sharing=True, **cfg))  # type: ignore[arg-type]
    chat = ChatRenderer(backend.tokenizer)
    pairs = [(chat.scoring_ids([{"role": "user", "content": p}], c), chat.scoring_ids([{"role": "user", "content": p}], r))
             for p, c, r in pairs_text]
    flat = [s for pair in pairs for s in pair]
    tokens = sum(len(s) for s in flat)
    backend.prepare("sequence_scores")
    shared.prepare("sequence_scores")
    model = backend._runner("seq-cls").model  # the same weights for (a), (b), (e)
    pad = backend.tokenizer.pad_token_id
    backend.sequence_scores(flat[:4])  # warm-up
    print(f"\n## {name} {dtype}: {len(pairs)} pairs, {len(flat)} sequences, {tokens} tokens, "
          f"{torch.get_num_threads()} thread(s), token budget {args.token_budget}, batch cost {args.batch_cost}, "
          f"CPU {torch.backends.cpu.get_cpu_capability()}")

    results: dict[str, tuple[list[float], float]] = {}
    for _ in range(args.repeat):  # keep each approach's best time (the machine may be shared)
        runs = {
            "(a) rewardbench": lambda: rewardbench_style(model, pairs, pad),
            "(b) fixed-8": lambda: fixed_batches(model, [flat[k : k + 8] for k in range(0, len(flat), 8)], pad),
            "(c) packed": lambda: _timed(lambda: backend.sequence_scores(flat)),
            "(d) shared": lambda: _timed(lambda: [x for g in shared.sequence_scores_grouped([list(p) for p in pairs]) for x in g]),
            "(e) no-padding": lambda: no_padding_limit(model, flat, args.token_budget),
        }
        for label, fn in runs.items():
            scores, seconds = fn()
            if label not in results or seconds < results[label][1]:
                results[label] = (scores, seconds)
    base, limit = results["(a) rewardbench"][1], results["(e) no-padding"][1]
    print("| approach | seconds | tokens/s | pairs/s | vs (a) | vs (e) | max |diff| vs (c) |")
    print("|---|---|---|---|---|---|---|")
    ref = results["(c) packed"][0]
    for label, (scores, seconds) in results.items():
        diff = max(abs(x - y) for x, y in zip(scores, ref, strict=True))
        print(f"| {label} | {seconds:.2f} | {tokens / seconds:.0f} | {len(pairs) / seconds:.2f} | "
              f"{base / seconds:.2f}x | {limit / seconds:.2f} | {diff:.2g} |")
    for label, b in (("(c)", backend), ("(d)", shared)):
        st = b.stats
        print(f"{label} forward calls {st.forward_calls}, real tokens {st.tokens}, padded cells {st.padded_tokens} "
              f"(all repeats and the warm-up)")
    if dtype == "bfloat16" or args.flips:
        single = TransformersBackend(ModelConfig(str(folder), prefix_sharing=False, max_batch_size=1, **cfg))  # type: ignore[arg-type]
        one = single.sequence_scores(flat)
        for label in ("(c) packed", "(d) shared", "(a) rewardbench"):
            n, diff = flips(one, results[label][0])
            print(f"{dtype} decisions flipped, batch size 1 vs {label}: {n} of {len(pairs)} (max score diff {diff:.3g})")


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "smollm2", "both"], default="both")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "both"], default="both")
    parser.add_argument("--limit", type=int, default=None, help="pairs to use (a seeded sample across the 5 files)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the notes measure one)")
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--batch-cost", type=int, default=32, help="rmbench's per-forward cost in tokens (packing)")
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=1, help="runs per approach; the best time is kept")
    parser.add_argument("--flips", action="store_true", help="also count batch-size-1 flips in float32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = Path(os.environ.get("RMBENCH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    rows = load_llmbar(data_dir)
    if args.limit is not None and args.limit < len(rows):
        rows = [rows[i] for i in sorted(random.Random(0).sample(range(len(rows)), args.limit))]
    models = ["tiny", "smollm2"] if args.model == "both" else [args.model]
    dtypes = ["float32", "bfloat16"] if args.dtype == "both" else [args.dtype]
    with tempfile.TemporaryDirectory(prefix="rmbench-bench-") as tmp:
        for name in models:
            folder = build_model(name, Path(tmp))
            for dtype in dtypes:
                run(name, folder, dtype, rows, args)


if __name__ == "__main__":
    main()
