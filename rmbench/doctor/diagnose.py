"""``rmbench doctor``: load a model the way ``rmbench run`` does and run every check on a small sample.

The sample is the first ``n`` pairwise / multi-response items of the task (default: the LLMBar sample
bundled with rmbench, the one ``rmbench demo`` uses). The model is loaded through
:func:`rmbench.adapters.build.build_adapter` (with ``allow_random_head`` so the head check can report
instead of refusing), once in float32 and once in the requested dtype when that differs. Batching
is measured for ``scalar``, ``likelihood`` and ``implicit``; ``process`` gets the model-level checks only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rmbench.doctor.checks import CheckResult
from rmbench.doctor.device import cpu_has_native_bf16, dtype_check, head_check
from rmbench.doctor.numeric import Scores, compare, setting_scores
from rmbench.doctor.tokens import bos_check, pad_check, template_check, truncation_check
from rmbench.errors import UserError

DoctorKind = Literal["scalar", "likelihood", "implicit", "process"]
DEFAULT_TASK = "llmbar"


@dataclass(frozen=True)
class DoctorOptions:
    """What to check: the model as ``rmbench run`` would load it, on ``n`` items of ``task`` (None: the
    bundled LLMBar sample). ``dtype`` is the dtype to judge (float32 is always measured too)."""

    model: str
    task: str | None = None
    kind: DoctorKind = "scalar"
    dtype: str = "auto"
    n: int = 16
    max_length: int | None = None
    device: str = "auto"
    truncation_side: str = "left"
    reduction: str = "sum"
    ref_model: str | None = None
    allow_random_head: bool = False
    data_dir: Path | None = None
    tasks_dirs: tuple[Path, ...] = ()
    overrides: Mapping[str, Any] | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise UserError(f"--n must be at least 1, got {self.n}")


def sample_examples(opts: DoctorOptions) -> list[Any]:
    """The first ``n`` pairwise or multi-response examples of the task."""
    from rmbench.adapters.responses import SCORED_KINDS
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    task = load_task(opts.task or DEFAULT_TASK, opts.tasks_dirs, opts.overrides or None)
    exset = load_examples(task.spec, opts.data_dir, use_bundled=opts.task is None and not opts.overrides)
    examples = [e for e in exset.examples if e.kind in SCORED_KINDS][: opts.n]
    if not examples:
        raise UserError(f"task '{task.spec.name}' has no pairwise or multi-response items to check",
                        hint="pass a preference task with --task (e.g. llmbar, rm-bench)")
    return examples


def diagnose(opts: DoctorOptions) -> list[CheckResult]:
    """Every check, in the order the table shows them."""
    from rmbench.backends.transformers.device import resolve_device

    device = resolve_device(opts.device)
    examples = [] if opts.kind == "process" else sample_examples(opts)
    if opts.dtype == "float16" and device.type == "cpu":  # rmbench refuses it: judge it, measure float32 only
        results = [dtype_check("float16", str(device), None)]
        return results + _model_checks(_load(opts, "float32"), opts, examples, "float32", None)[1] + [CheckResult(
            "batching (float16)", "info", "not measured: rmbench run refuses float16 on CPU", "")]
    requested = _load(opts, opts.dtype)
    dtype = str(_backend(requested).dtype).removeprefix("torch.")
    results = [dtype_check(dtype, str(device), cpu_has_native_bf16() if device.type == "cpu" else None)]
    if dtype == "float32":
        return results + _model_checks(requested, opts, examples, dtype, None)[1]
    ref32, checks32 = _model_checks(_load(opts, "float32"), opts, examples, "float32", None)
    return results + checks32 + _model_checks(requested, opts, examples, dtype, ref32)[1]


def _load(opts: DoctorOptions, dtype: str) -> Any:
    from rmbench.adapters.build import build_adapter

    if opts.kind == "process":  # the backend alone: the step adapter needs a stepwise task's options
        from rmbench.adapters.assemble import AdapterOptions, transformers_backend

        return transformers_backend(AdapterOptions(model=opts.model, kind="process", dtype=dtype, device=opts.device,
                                                   max_length=opts.max_length, threads=opts.threads))
    return build_adapter(opts.model, opts.kind, ref_model=opts.ref_model, dtype=dtype, device=opts.device,
                         max_length=opts.max_length, truncation_side=opts.truncation_side, reduction=opts.reduction,
                         allow_random_head=True, threads=opts.threads)


def _backend(loaded: Any) -> Any:
    return getattr(loaded, "backend", None) or getattr(loaded, "policy", None) or loaded


def _model_checks(loaded: Any, opts: DoctorOptions, examples: Sequence[Any], dtype: str,
                  ref32: Scores | None) -> tuple[Scores | None, list[CheckResult]]:
    """(the batch-1 scores, the checks) of one loaded dtype. Token checks only with the float32 load
    (``ref32 is None``); ``ref32`` given: also the dtype's effect against float32."""
    backend = _backend(loaded)
    if opts.kind == "process":
        return None, [template_check(backend.tokenizer), CheckResult(
            "batching", "info", "not measured for --kind process (token and batching checks need the step "
            "rendering); the checks above are the model's", "")]
    method, groups, starts, reduce = _sequences(loaded, opts.kind, examples)
    out: list[CheckResult] = []
    if ref32 is None:
        out += _token_checks(loaded, opts, method, groups)
    settings = _scores(loaded, method, groups, starts, reduce)
    reference = settings.pop("batch 1")
    for name, scores in settings.items():
        out.append(_batching_result(compare(name, examples, reference, scores), dtype))
    if ref32 is not None:
        c = compare(f"{dtype} vs float32", examples, ref32, reference)
        out.append(CheckResult(f"{dtype} vs float32 (batch 1)", "info",
                               f"max |score diff| {c.max_diff:.3g}; {c.flips} of {c.pairs} decisions differ",
                               "the precision's own effect, not a bug" if c.flips else ""))
    return reference, out


def _sequences(loaded: Any, kind: str, examples: Sequence[Any]) -> tuple[
        str, list[list[list[int]]], list[list[int]] | None, Callable[[list[float]], float]]:
    """(backend method, each example's token sequences, response starts, log-probs -> score) as the adapter builds them."""
    from rmbench.adapters.responses import conversations_of

    if kind == "scalar":
        groups = [[loaded.chat.scoring_ids(p, r) for p, r in conversations_of(ex, "scalar")] for ex in examples]
        return "sequence_scores", groups, None, lambda v: v  # type: ignore[return-value]
    spans = [[loaded.chat.likelihood_span(p, r) for p, r in conversations_of(ex, kind)] for ex in examples]
    mean = getattr(loaded, "reduction", "sum") == "mean"

    def reduce(logprobs: list[float]) -> float:
        if not logprobs:
            return math.nan
        return math.fsum(logprobs) / (len(logprobs) if mean else 1)

    return "token_logprobs", [[s.ids for s in g] for g in spans], [[max(s.start, 1) for s in g] for g in spans], reduce


def _scores(loaded: Any, method: str, groups: list[list[list[int]]], starts: list[list[int]] | None,
            reduce: Callable[[list[float]], float]) -> dict[str, Scores]:
    if getattr(loaded, "kind", None) != "implicit":
        return setting_scores(_backend(loaded), method, groups, starts, reduce)
    policy = setting_scores(loaded.policy, method, groups, starts, reduce)
    if loaded.reference is loaded.policy:
        return {k: [[0.0 for _ in g] for g in v] for k, v in policy.items()}
    reference = setting_scores(loaded.reference, method, groups, starts, reduce)
    return {k: [[loaded.beta * (p - r) for p, r in zip(gp, gr, strict=True)] for gp, gr in zip(policy[k], reference[k],
                                                                                                strict=True)]
            for k in policy}


def _batching_result(c: Any, dtype: str) -> CheckResult:
    name = f"{c.setting} vs batch 1 ({dtype})"
    value = f"max |score diff| {c.max_diff:.3g}; {c.flips} of {c.pairs} decisions flipped"
    if not c.flips:
        return CheckResult(name, "pass", value)
    if dtype == "float32":
        return CheckResult(name, "fail", value, "float32 scores must not depend on batching: check the model's "
                           "attention-mask and position handling (custom modelling code?) before trusting any result")
    return CheckResult(name, "warn", value, f"expected in {dtype} (rounding depends on the batch shape): compare "
                       "models under one batching, or use float32 when margins are small")


def _token_checks(loaded: Any, opts: DoctorOptions, method: str, groups: list[list[list[int]]]) -> list[CheckResult]:
    backend = _backend(loaded)
    tokenizer = loaded.chat.tokenizer
    seqs = [s for g in groups for s in g]
    runner = backend.runner(method)
    out = [template_check(tokenizer), bos_check(tokenizer, seqs),
           pad_check(tokenizer, runner.pad_id, seqs, pools_from_mask=getattr(runner, "last_token", True)),
           truncation_check([len(s) for s in seqs], backend.max_length, backend.config.truncation_side)]
    if method == "sequence_scores":
        missing = backend.describe()["heads"].get("seq-cls", {}).get("randomly_initialised", [])
        out.append(head_check(missing, backend.hf_config, allow_random=opts.allow_random_head))
    return out
