"""The score cache's bound: its size setting and the size and age arguments of ``rmbench cache prune``.

>>> parse_size("1.5GB"), parse_size("200M"), parse_size("4096")
(1500000000, 200000000, 4096)
>>> parse_age("12h"), parse_age("30d")
(43200.0, 2592000.0)
"""

from __future__ import annotations

import os
import re

from rmbench.errors import UserError

DEFAULT_MAX_BYTES = 2_000_000_000
MAX_SIZE_ENV = "RMBENCH_SCORE_CACHE_MAX_SIZE"
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
_AGES = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, what: str = "--max-size") -> int:
    """Bytes from ``4096``, ``500MB``, ``2G``, ``1.5GiB`` (k/M/G/T are powers of 1000, KiB/MiB/GiB of 1024)."""
    match = _NUMBER_UNIT.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise UserError(f"{what} '{text}': expected a size like 500MB, 2GB or 1.5GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_age(text: str, what: str = "--older-than") -> float:
    """Seconds from ``90s``, ``15m``, ``12h``, ``30d`` or ``2w``."""
    match = _NUMBER_UNIT.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _AGES:
        raise UserError(f"{what} '{text}': expected an age like 12h, 30d or 2w")
    return float(match.group(1)) * _AGES[unit]


def max_cache_bytes() -> int:
    """``$RMBENCH_SCORE_CACHE_MAX_SIZE`` (e.g. ``500MB``), else 2 GB."""
    value = os.environ.get(MAX_SIZE_ENV, "").strip()
    return parse_size(value, MAX_SIZE_ENV) if value else DEFAULT_MAX_BYTES


def format_bytes(n: int) -> str:
    """``1.5 GB``-style sizes in powers of 1000 (as :func:`parse_size` reads them back).

    >>> format_bytes(999), format_bytes(2_500_000)
    ('999 B', '2.5 MB')
    """
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
