"""``--shard i/n``: which slice of a run's examples a process scores (a light module: the CLI and
:mod:`rmbench.config` read it)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rmbench.errors import UserError

SHARD_RULE = "round-robin"
"""How examples are dealt to shards (recorded in run.json): example ``k`` (0-based, in the order of the
unsharded selection, i.e. after ``--limit`` and ``--subset``) goes to shard ``k mod n``."""

_SHARD_TEXT = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def folder_name(self) -> str:
        """``<i>-of-<n>``: the shard's run folder under ``--executor ray``'s ``DIR/shards/``."""
        return f"{self.index}-of-{self.count}"


def parse_shard(text: str, flag: str = "--shard") -> Shard:
    """``"i/n"`` as a :class:`Shard`; a :class:`UserError` naming ``flag`` otherwise.

    >>> parse_shard("1/3")
    Shard(index=1, count=3)
    """
    match = _SHARD_TEXT.fullmatch(text)
    if match is None:
        raise UserError(f"{flag} '{text}': expected i/n, e.g. 0/4 (shard i of n, 0 <= i < n)")
    return check_shard(Shard(int(match.group(1)), int(match.group(2))), flag)


def check_shard(shard: object, flag: str = "--shard") -> Shard:
    """``shard`` (a :class:`Shard`, ``"i/n"`` or a pair ``(i, n)``) as a :class:`Shard` when 0 <= i < n, else a
    :class:`UserError`."""
    if isinstance(shard, str):
        return parse_shard(shard, flag)
    pair = (shard.index, shard.count) if isinstance(shard, Shard) else shard
    if not (isinstance(pair, tuple) and len(pair) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
        raise UserError(f"{flag} {shard!r}: expected i/n, e.g. 0/4")
    index, count = pair
    if count < 1:
        raise UserError(f"{flag} {index}/{count}: the number of shards must be at least 1")
    if not 0 <= index < count:
        raise UserError(f"{flag} {index}/{count}: the shard index must be between 0 and {count - 1}")
    return Shard(index, count)
