"""Where and in which precision a local model runs: the torch device and dtype to load with.

``"auto"`` picks CUDA when available, else CPU; a dtype of ``"auto"`` is float32 on CPU and the
checkpoint's half-precision dtype (else float32) on an accelerator. float16 on CPU is refused and
bfloat16 on a CPU without native bf16 instructions warns. Used by
:class:`rmbench.backends.transformers.backend.TransformersBackend`; imports torch at import time like it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from rmbench.errors import UserError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The dtypes a model may be loaded with, by the name used in options."""


def resolve_device(spec: str) -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; anything else is parsed by torch."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"unknown device '{spec}' ({exc})", hint="use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{spec}' asked for, but torch sees no CUDA device", hint="use --device cpu")
    return device


def resolve_dtype(name: str, device: torch.device, checkpoint_dtype: Any = None) -> torch.dtype:
    """The torch dtype to load with; refuses float16 on CPU (no fast kernels: ~100x slower here)."""
    if name == "float16" and device.type == "cpu":
        raise UserError(
            "float16 on CPU is refused: CPUs have no fast float16 matrix kernels "
            "(about 1-2 GFLOP/s here, ~100x slower than float32)",
            hint="use --dtype bfloat16 (fast on CPUs with AVX-512 bf16) or float32",
        )
    if name == "bfloat16" and device.type == "cpu" and not _cpu_has_fast_bf16():
        warnings.warn(
            "bfloat16 on a CPU without native bf16 instructions (no AVX-512 BF16 / AMX): expect it to be "
            "several times slower than float32 (measured ~8x on an AVX2 EPYC)",
            stacklevel=3,
        )
    if name != "auto":
        return DTYPES[name]
    if device.type == "cpu":
        return torch.float32
    if isinstance(checkpoint_dtype, str):
        checkpoint_dtype = DTYPES.get(checkpoint_dtype)
    return checkpoint_dtype if checkpoint_dtype in (torch.bfloat16, torch.float16) else torch.float32


def _cpu_has_fast_bf16() -> bool:
    native = cpu_native_bf16()
    return True if native is None else native  # unknown: do not warn


def cpu_native_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU has native bfloat16 matrix instructions: x86 ``avx512_bf16`` or ``amx_bf16``,
    Arm ``bf16``; None when unknown (no ``/proc/cpuinfo``).

    Read from the CPU flags, not from ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: oneDNN reports
    True on any AVX-512 CPU because it can emulate bf16, and emulated bf16 ran ~6x slower than float32
    on the development machines (AVX-512 without the BF16 extension).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    if not flags:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
