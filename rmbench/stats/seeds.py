"""Seed derivation: every random choice in rmbench comes from the run seed and names, never from order.

A random draw is keyed by the run seed and labels (item id, purpose, metric, ...), so it is the same
whatever the batching, the order items were written in, or a resume. Two schemes, kept because
results recorded with them must reproduce:

* bootstrap generators (:func:`derived_rng`): numpy's ``default_rng`` seeded with the seeds and the
  CRC-32 of each label;
* per-item draws (:func:`derived_uniform`, :func:`derived_seed`, :func:`derived_random`): sha256 of
  the parts joined by ``\\x1f`` (:func:`seed_key`).

>>> derived_rng(7, "a").random() == derived_rng([7], "a").random()
True
>>> derived_uniform(0, "item", "chosen", 0) == derived_uniform(0, "item", "chosen", 0)
True
>>> 0 <= derived_seed(1, "item", "judge", 2) < 2**31
True
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Sequence

import numpy as np


def derived_rng(seeds: int | Sequence[int], *labels: str) -> np.random.Generator:
    """A numpy generator seeded from one or more run seeds and text labels (CRC-32 of each)."""
    ints = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    return np.random.default_rng([*ints, *(zlib.crc32(label.encode()) for label in labels)])


def seed_key(*parts: object) -> str:
    """The parts of a per-item draw joined by ``\\x1f`` (a separator no id contains)."""
    return "\x1f".join(str(p) for p in parts)


def _digest(parts: tuple[object, ...]) -> bytes:
    return hashlib.sha256(seed_key(*parts).encode()).digest()


def derived_uniform(*parts: object) -> float:
    """A number in [0, 1) from sha256 of the parts (64 bits)."""
    return int.from_bytes(_digest(parts)[:8], "big") / 2.0**64


def derived_seed(*parts: object) -> int:
    """A non-negative 31-bit seed (for a backend's sampling) from sha256 of the parts."""
    return int.from_bytes(_digest(parts)[:4], "big") & 0x7FFFFFFF


def derived_random(*parts: object) -> random.Random:
    """A :class:`random.Random` (for shuffles and choices) seeded with :func:`seed_key` of the parts."""
    return random.Random(seed_key(*parts))
