"""How many CPU threads torch uses for one run, decided once and recorded in run.json.

The rule, in order:

1. ``--threads N``: N.
2. ``OMP_NUM_THREADS`` set to a positive integer: that number (the user or a scheduler decided).
3. Otherwise the physical cores this process may use, minus those already busy according to the
   1-minute load average (rounded), and at least 1.

Why: torch's default is one thread per physical core. When another process is already busy on the
same cores, every matrix product waits for the slowest thread: measured here, the demo took 76.6 s
with torch's default beside one busy process, against 18.0 s with one thread per process.
The automatic choice is made once per process (the first backend decides; later ones reuse it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from rmbench.errors import UserError


def physical_cores() -> int:
    """Physical cores this process may run on: distinct (package, core) pairs in /proc/cpuinfo,
    capped by the CPU affinity mask; the logical CPU count where /proc/cpuinfo is unavailable."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return logical
    cores: set[tuple[str, str]] = set()
    package = core = ""
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip() and core:
            cores.add((package, core))
            package = core = ""
    return max(1, min(len(cores) or logical, logical))


def busy_cores() -> int:
    """Cores already busy: the 1-minute load average, rounded (0 where the OS does not report it)."""
    try:
        return round(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0


def choose_threads(
    requested: int | None,
    environ: Mapping[str, str] | None = None,
    cores: int | None = None,
    busy: int | None = None,
) -> tuple[int, str]:
    """(threads, the reason in words) by the module's rule; ``environ``, ``cores`` and ``busy`` default
    to this machine's (given explicitly in tests).

    >>> choose_threads(None, environ={}, cores=8, busy=1)
    (7, '8 physical cores, 1 busy (1-minute load average)')
    >>> choose_threads(None, environ={"OMP_NUM_THREADS": "2"}, cores=8, busy=0)
    (2, 'OMP_NUM_THREADS=2')
    """
    if requested is not None:
        if requested < 1:
            raise UserError(f"--threads must be at least 1, got {requested}")
        return requested, "--threads"
    env = os.environ if environ is None else environ
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return int(omp), f"OMP_NUM_THREADS={omp}"
    cores = physical_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, cores - busy), f"{cores} physical cores, {busy} busy (1-minute load average)"


@lru_cache(maxsize=1)
def _automatic() -> tuple[int, str]:
    return choose_threads(None)


def apply_threads(requested: int | None) -> tuple[int, str]:
    """Set torch's intra-op thread count by :func:`choose_threads` and return (threads, reason)."""
    import torch

    threads, reason = choose_threads(requested) if requested is not None else _automatic()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads, reason
