"""Device and weights checks: the dtype on the device, and whether a classifier's score head is trained.

torch is imported only inside :func:`cpu_has_native_bf16`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.doctor.checks import CheckResult
from rmbench.errors import UserError


def cpu_has_native_bf16() -> bool | None:
    """Whether this CPU has native bfloat16 matrix instructions (AVX-512 BF16 / AMX / Arm BF16); None if unknown
    (:func:`rmbench.backends.transformers.device.cpu_native_bf16`, read from the CPU flags)."""
    from rmbench.backends.transformers.device import cpu_native_bf16

    return cpu_native_bf16()


def dtype_check(dtype: str, device: str, native_bf16: bool | None) -> CheckResult:
    """``dtype`` (the requested one, e.g. ``float16``) on ``device`` (``cpu``, ``cuda:0``).

    float16 on a CPU warns: CPUs have no fast float16 matrix kernels (measured 1-2 GFLOP/s against
    165 in float32 and 410 in bfloat16 on the development machines, docs/doctor.md) and ``rmbench run``
    refuses it. bfloat16 on a CPU without native bf16 instructions warns (several times slower than float32).
    """
    name = "dtype on device"
    on = f"{dtype} on {device}"
    if device.startswith("cpu") and dtype == "float16":
        return CheckResult(name, "warn", f"{on}: no fast float16 CPU kernels (~100x slower than float32); "
                           "rmbench run refuses it", "use --dtype bfloat16 (fast on CPUs with AVX-512 BF16/AMX) or float32")
    if device.startswith("cpu") and dtype == "bfloat16" and native_bf16 is False:
        return CheckResult(name, "warn", f"{on} without native bf16 instructions: several times slower than float32",
                           "use --dtype float32 on this CPU")
    extra = " (native bf16)" if device.startswith("cpu") and dtype == "bfloat16" and native_bf16 else ""
    return CheckResult(name, "pass", on + extra)


def head_check(missing_keys: Sequence[str], hf_config: Any, *, allow_random: bool) -> CheckResult:
    """A sequence classifier whose score head the checkpoint lacks (random weights): the check rmbench runs
    before scoring (:func:`rmbench.backends.transformers.model_limits.check_trained_head`), reported.
    ``fail`` unless ``allow_random`` (``--allow-random-head``), then ``warn``."""
    from rmbench.backends.transformers.model_limits import check_trained_head

    name = "score head"
    try:
        check_trained_head(missing_keys, hf_config, allow_random=False)
    except UserError as exc:
        message = exc.message
        if allow_random:
            return CheckResult(name, "warn", f"random: {message}", "scores are noise; fine for tests and speed only")
        return CheckResult(name, "fail", f"random: {message}", exc.hint or "pass a trained reward model")
    return CheckResult(name, "pass", "trained (every weight came from the checkpoint)")
