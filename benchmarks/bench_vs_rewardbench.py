"""rmbench against the released ``rewardbench`` CLI (0.1.4), whole process, on the same model and LLMBar pairs.

    python benchmarks/bench_vs_rewardbench.py --pairs 100 --dtype both --threads 1 --rounds 1

Run by hand (never from the tests): it takes minutes. What it measures, each in its own process:

  peer      the released package's own console script, ``rewardbench --model DIR --dataset pairs.jsonl
            --load_json --not_quantized --torch_dtype DTYPE --batch_size 8 --max_length 4096``
  rmbench   ``python -m rmbench.cli run --task llmbar --kind scalar --limit K ...`` (K pairs per subset)

Both score the same pairs (the first K of each of the five LLMBar files, ``$RMBENCH_DATA_DIR/llmbar``)
with the same weights (SmolLM2-135M-Instruct as a sequence classifier with a seeded random head, built
from the embedded GGUF model as ``bench_scalar_scoring.py`` does), dtype and thread count
(``OMP_NUM_THREADS`` and ``--threads``). Wall time and peak RSS are per process: model
load and start-up count; peak RSS comes from GNU ``/usr/bin/time``. Each round runs both orders (rmbench first, then the peer first) and the
ratios are printed per run and as the median. Then, with rmbench only:

  limit     scoring inside one process (rmbench's adapter on the run's chunks: chat template,
            tokenising, packing, forward) against the forward-only no-padding limit on the same
            token ids (``bench_scalar_scoring.py`` approach (e)): ``limit seconds / rmbench seconds``
  resume    the same ``rmbench run`` again in the finished run directory (nothing to score: the model
            must not load) as a fraction of the first run's wall time (target < 5%)
  memory    peak RSS for 50 vs ~400 items, and for 50 items plus one record with a 5 MB response
            (tiny random model, so growth with the data is not hidden by the weights)

The peer's venv (``--peer-venv``, default /work/rb-venv) is created when missing:

  1. ``python -m venv DIR``; ``DIR/bin/pip install torch==2.13.0``, then ``rewardbench==0.1.4`` (it pins
     transformers 4.51.0), then ``"setuptools<70"`` (its CLI imports ``pkg_resources``).
  2. In the venv's ``rewardbench/models/pipeline.py``, ``.to("cuda")`` becomes ``.to(self.model.device)``:
     a measurement patch so it runs on CPU; the computation is unchanged.
  3. The model folder saved by transformers 5 is copied for the peer with the edits 4.51 needs to read it
     the same way: ``tokenizer_config.json`` ``tokenizer_class`` -> ``GPT2Tokenizer`` and
     ``model_input_names`` -> ``["input_ids", "attention_mask"]``; ``config.json`` gets ``rope_theta``
     from ``rope_parameters`` (without it 4.51 silently uses 10000 and the scores differ).

The machine may be shared: compare the ratios within one invocation, not absolute times across days.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME = "/usr/bin/time"
"""GNU time (Debian package ``time``) reports the peak RSS of the process it starts. Not ``os.wait4`` from
here: a child's ``ru_maxrss`` starts at this process's RSS when forked (and exec keeps it), and this
process holds a model."""
SUBSETS = ["Natural", "Adversarial_Neighbor", "Adversarial_GPTInst", "Adversarial_GPTOut", "Adversarial_Manual"]


@dataclass
class Measured:
    wall: float
    peak_mib: float
    accuracy: float | None
    log: str
    cpu: float = 0.0
    """user + system CPU seconds (GNU time): ``cpu / wall`` near 1 confirms one thread on each side."""


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, combined output) of one child process; fails loudly on a non-zero exit.
    The child's user + system CPU seconds go to :data:`LAST_CPU` (read right after the call)."""
    with tempfile.TemporaryFile(mode="w+") as log, tempfile.NamedTemporaryFile(mode="r") as peak:
        t0 = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%U %S %M", "-o", peak.name, *cmd], env=env, cwd=cwd, stdout=log,
                              stderr=subprocess.STDOUT, check=False)
        wall = time.perf_counter() - t0
        log.seek(0)
        text = log.read()
        user, system, peak_kib = peak.read().split()[-3:]
        LAST_CPU[0] = float(user) + float(system)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-3000:]}")
    return wall, int(peak_kib) / 1024, text


LAST_CPU = [0.0]


# --------------------------------------------------------------------------------- peer set-up
def ensure_peer_venv(venv: Path) -> Path:
    """The peer's ``rewardbench`` console script, installing the venv (recipe in the module docstring) if missing."""
    exe = venv / "bin" / "rewardbench"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        for spec in ("torch==2.13.0", "rewardbench==0.1.4", "setuptools<70"):
            subprocess.run([*pip, spec], check=True)
    found = list((venv / "lib").glob("python*/site-packages/rewardbench/models/pipeline.py"))
    if not found:
        raise SystemExit(f"no rewardbench/models/pipeline.py under {venv}: is rewardbench==0.1.4 installed there?")
    text = found[0].read_text()
    if '.to("cuda")' in text:
        found[0].write_text(text.replace('.to("cuda")', ".to(self.model.device)"))
    return exe


def peer_model_copy(folder: Path, out: Path) -> Path:
    """A copy of a transformers-5 model folder that transformers 4.51 reads the same way."""
    shutil.copytree(folder, out)
    tok_path, cfg_path = out / "tokenizer_config.json", out / "config.json"
    tok = json.loads(tok_path.read_text())
    tok.update(tokenizer_class="GPT2Tokenizer", model_input_names=["input_ids", "attention_mask"])
    tok_path.write_text(json.dumps(tok, indent=2))
    cfg = json.loads(cfg_path.read_text())
    rope = cfg.get("rope_parameters") or {}
    if "rope_theta" not in cfg and "rope_theta" in rope:
        cfg["rope_theta"] = rope["rope_theta"]
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return out


def write_peer_pairs(data_dir: Path, per_subset: int, out: Path) -> int:
    """The first ``per_subset`` pairs of each LLMBar file (rmbench's ``--limit``) in the peer's JSON-lines format."""
    n = 0
    with out.open("w") as f:
        for name in SUBSETS:
            rows = json.loads((data_dir / "llmbar" / f"LLMBar_{name}.json").read_text())[:per_subset]
            for r in rows:
                good, bad = (r["output_1"], r["output_2"]) if r["label"] == 1 else (r["output_2"], r["output_1"])
                user = {"role": "user", "content": r["input"]}
                f.write(json.dumps({"prompt": r["input"],
                                    "chosen": [user, {"role": "assistant", "content": good}],
                                    "rejected": [user, {"role": "assistant", "content": bad}]}) + "\n")
                n += 1
    return n


# ------------------------------------------------------------------------------------ the runs
def base_env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def run_peer(exe: Path, model: Path, pairs: Path, dtype: str, threads: int, work: Path) -> Measured:
    out = Path(tempfile.mkdtemp(dir=work, prefix="peer-out-"))
    env = {**base_env(threads), "HF_DATASETS_CACHE": str(work / "peer-datasets-cache")}
    cmd = [str(exe), "--model", str(model), "--dataset", str(pairs), "--load_json", "--not_quantized",
           "--torch_dtype", dtype, "--batch_size", "8", "--max_length", "4096", "--output_dir", str(out) + "/"]
    wall, peak, log = run_measured(cmd, env, cwd=work)
    found = re.findall(r"Results: ([0-9.]+), on (\d+) prompts", log)
    return Measured(wall, peak, float(found[-1][0]) if found else None, log, LAST_CPU[0])


def rmbench_cmd(model: Path, per_subset: int, dtype: str, threads: int, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "rmbench.cli", "run", "--task", "llmbar", "--model", str(model), "--kind", "scalar",
            "--limit", str(per_subset), "--dtype", dtype, "--threads", str(threads),
            "--out", str(out), "--quiet", *(extra or ["--no-cache"])]  # the comparison scores every pair


def run_rmbench(model: Path, per_subset: int, dtype: str, threads: int, out: Path, extra: list[str] | None = None) -> Measured:
    env = {**base_env(threads), "PYTHONPATH": str(ROOT)}
    wall, peak, log = run_measured(rmbench_cmd(model, per_subset, dtype, threads, out, extra or []), env)
    summary = json.loads((out / "summary.json").read_text())
    return Measured(wall, peak, summary["results"]["overall"]["metrics"]["accuracy"]["value"], log, LAST_CPU[0])


def versus_peer(args: argparse.Namespace, rm_model: Path, peer_model: Path, exe: Path, pairs: Path,
                work: Path) -> dict[str, list[tuple[Measured, Measured]]]:
    per_subset = args.pairs // len(SUBSETS)
    results: dict[str, list[tuple[Measured, Measured]]] = {}
    for dtype in args.dtypes:
        rows = results.setdefault(dtype, [])
        for r in range(args.rounds):
            for first in ("rmbench", "peer"):
                order = [first, "peer" if first == "rmbench" else "rmbench"]
                got: dict[str, Measured] = {}
                for who in order:
                    if who == "rmbench":
                        got[who] = run_rmbench(rm_model, per_subset, dtype, args.threads, work / f"rm-{dtype}-{r}-{first}")
                    else:
                        got[who] = run_peer(exe, peer_model, pairs, dtype, args.threads, work)
                    m = got[who]
                    print(f"  {dtype} round {r} ({first} first) {who:8s} {m.wall:7.1f} s  {m.peak_mib:6.0f} MiB  "
                          f"accuracy {m.accuracy}  cpu {m.cpu:.1f} s ({m.cpu / m.wall:.2f} of wall)", flush=True)
                rows.append((got["rmbench"], got["peer"]))
    return results


def print_ratios(results: dict[str, list[tuple[Measured, Measured]]]) -> None:
    print("\n| dtype | runs | rmbench s | peer s | speed-up (peer / rmbench) | rmbench MiB | peer MiB | accuracy rmbench / peer |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype, rows in results.items():
        ratios = [p.wall / m.wall for m, p in rows]
        print(f"| {dtype} | {len(rows)} | {statistics.median(m.wall for m, _ in rows):.1f} | "
              f"{statistics.median(p.wall for _, p in rows):.1f} | {statistics.median(ratios):.2f}x "
              f"(each: {', '.join(f'{x:.2f}' for x in ratios)}) | {max(m.peak_mib for m, _ in rows):.0f} | "
              f"{max(p.peak_mib for _, p in rows):.0f} | {rows[0][0].accuracy} / {rows[0][1].accuracy} |")


def resume_check(args: argparse.Namespace, rm_model: Path, work: Path) -> None:
    """A finished run's directory, the same command again: nothing to score, so no model load."""
    per_subset, dtype = args.pairs // len(SUBSETS), args.dtypes[0]
    out = work / "resume-run"
    cache = ["--cache"]  # a fresh score cache: the first run fills it, the new-directory run reads it
    os.environ["RMBENCH_CACHE"] = str(work / "rmbench-cache")
    first = run_rmbench(rm_model, per_subset, dtype, args.threads, out, cache)
    again = run_rmbench(rm_model, per_subset, dtype, args.threads, out, cache)
    cached = run_rmbench(rm_model, per_subset, dtype, args.threads, work / "cached-run", cache)
    for name, m in (("same directory (resume)", again), ("new directory, every score cached", cached)):
        print(f"\nre-run, {name} ({dtype}): {m.wall:.2f} s = {100 * m.wall / first.wall:.1f}% of the first "
              f"run's {first.wall:.1f} s (target < 5%); peak {m.peak_mib:.0f} MiB; model loaded: {'Loading weights' in m.log}")


def memory_check(args: argparse.Namespace, tiny: Path, work: Path) -> None:
    """Peak RSS with few items, many items, and few items plus one 5 MB response (tiny model)."""
    small = run_rmbench(tiny, 10, "float32", args.threads, work / "mem-50")
    large = run_rmbench(tiny, 100, "float32", args.threads, work / "mem-400")
    data = work / "huge-data"
    shutil.copytree(Path(os.environ["RMBENCH_DATA_DIR"]) / "llmbar", data / "llmbar")
    natural = data / "llmbar" / "LLMBar_Natural.json"
    rows = json.loads(natural.read_text())[:49]
    rows.append({"input": "Say hello.", "output_1": "hello " * (5 * 2**20 // 6), "output_2": "hi", "label": 2})
    natural.write_text(json.dumps(rows))
    huge = run_rmbench(tiny, 50, "float32", args.threads, work / "mem-huge",
                       ["--subset", "llmbar-natural", "--data-dir", str(data)])
    print(f"\nmemory (tiny model, fp32): 50 items {small.peak_mib:.0f} MiB, ~400 items {large.peak_mib:.0f} MiB, "
          f"50 items with one 5 MB response {huge.peak_mib:.0f} MiB "
          f"(differences {large.peak_mib - small.peak_mib:+.0f} / {huge.peak_mib - small.peak_mib:+.0f} MiB)")


def limit_check(args: argparse.Namespace, rm_model: Path) -> None:
    """rmbench's scoring (adapter on the run's 64-item chunks) vs the no-padding forward-only limit, in process."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scalar_scoring import no_padding_limit

    from rmbench.adapters.build import build_adapter
    from rmbench.adapters.responses import conversations_of
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    torch.set_num_threads(args.threads)
    task = load_task("llmbar")
    examples = load_examples(task.spec, Path(os.environ["RMBENCH_DATA_DIR"]), limit=args.pairs // len(SUBSETS)).examples
    for dtype in args.dtypes:
        adapter = build_adapter(str(rm_model), "scalar", dtype=dtype, device="cpu", allow_random_head=True,
                                threads=args.threads)
        adapter.describe()  # loads the weights
        seqs = [adapter.chat.scoring_ids(p, r) for ex in examples for p, r in conversations_of(ex, "scalar")]
        model = adapter.backend._runner("seq-cls").model
        best_rm, best_lim = float("inf"), float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for k in range(0, len(examples), 64):
                adapter.score(examples[k : k + 64])
            best_rm = min(best_rm, time.perf_counter() - t0)
            best_lim = min(best_lim, no_padding_limit(model, seqs, 16384)[1])
        print(f"\nno-padding limit ({dtype}): rmbench scoring {best_rm:.1f} s (tokenising included), forward-only "
              f"limit {best_lim:.1f} s: rmbench at {best_lim / best_rm:.2f} of the limit (target >= 1.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="LLMBar pairs (a multiple of 5: the first pairs/5 of each file)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "both"], default="both")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both orders per dtype")
    parser.add_argument("--repeat", type=int, default=1, help="repeats of the in-process limit check (best kept)")
    parser.add_argument("--peer-venv", type=Path, default=Path("/work/rb-venv"))
    parser.add_argument("--only", nargs="*", choices=["peer", "limit", "resume", "memory"],
                        default=["peer", "limit", "resume", "memory"])
    args = parser.parse_args()
    args.dtypes = ["float32", "bfloat16"] if args.dtype == "both" else [args.dtype]
    os.environ.setdefault("RMBENCH_DATA_DIR", str(ROOT.parents[1] / "shared" / "data"))
    for key, value in base_env(args.threads).items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scalar_scoring import build_model

    from rmbench.backends.embedded import resolve_embedded
    from rmbench.testing.tiny import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="rmbench-vs-peer-") as tmp:
        work = Path(tmp)
        rm_model = build_model("smollm2", work)
        print(f"pairs {args.pairs}, threads {args.threads}, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if "peer" in args.only:
            exe = ensure_peer_venv(args.peer_venv)
            pairs = work / "pairs.jsonl"
            write_peer_pairs(Path(os.environ["RMBENCH_DATA_DIR"]), args.pairs // len(SUBSETS), pairs)
            peer_model = peer_model_copy(rm_model, work / "smollm2-rm-peer")
            print_ratios(versus_peer(args, rm_model, peer_model, exe, pairs, work))
        if "limit" in args.only:
            limit_check(args, rm_model)
        if "resume" in args.only:
            resume_check(args, rm_model, work)
        if "memory" in args.only:
            tiny = build_tiny_model(work / "tiny-rm", kind="seq-cls", tokenizer_dir=resolve_embedded("smollm2-135m-instruct"))
            memory_check(args, tiny, work)
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
