"""One seed-derivation helper (rmbench.stats.seeds) gives exactly the draws the four helpers it replaced
gave, so recorded runs (judge swaps, random baselines, bootstrap intervals) reproduce."""

from __future__ import annotations

import hashlib
import random
import zlib

import numpy as np

from rmbench.stats.seeds import derived_random, derived_rng, derived_seed, derived_uniform


def test_bootstrap_generators_match_the_crc32_scheme() -> None:
    old = np.random.default_rng([7, *(zlib.crc32(x.encode()) for x in ("abc", "accuracy", ""))])
    assert np.array_equal(derived_rng(7, "abc", "accuracy", "").random(5), old.random(5))
    two = np.random.default_rng([1, 2, zlib.crc32(b"gate")])
    assert np.array_equal(derived_rng([1, 2], "gate").random(5), two.random(5))


def test_per_item_draws_match_the_sha256_scheme() -> None:
    key = b"3\x1fitem-1\x1fchosen\x1f0"
    assert derived_uniform(3, "item-1", "chosen", 0) == int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64
    key = b"3\x1fitem-1\x1fq0\x1f2"
    assert derived_seed(3, "item-1", "q0", 2) == int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF
    assert derived_random(3, "item-1", "swap").random() == random.Random("3\x1fitem-1\x1fswap").random()
