"""One finding of ``rmbench doctor``: :class:`CheckResult`, its statuses, and what they add up to.

A status is ``pass`` (nothing to do), ``info`` (worth knowing, nothing wrong), ``warn`` (results can be
affected or a run will be slow: read the advice) or ``fail`` (the set-up gives wrong or meaningless
scores, or cannot run; ``rmbench doctor`` exits 1). Pure Python; no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "info", "warn", "fail"]
STATUSES: tuple[Status, ...] = ("pass", "info", "warn", "fail")
"""From best to worst."""


@dataclass(frozen=True)
class CheckResult:
    """One check: its ``name``, ``status``, the ``value`` measured (a short sentence with the numbers)
    and ``advice`` (what to do; empty when nothing is to be done)."""

    name: str
    status: Status
    value: str
    advice: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; use one of {', '.join(STATUSES)}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(name=str(data["name"]), status=data["status"], value=str(data.get("value", "")),
                   advice=str(data.get("advice", "")))


def worst(results: Iterable[CheckResult]) -> Status:
    """The worst status among ``results`` (``pass`` for none)."""
    return max((r.status for r in results), key=STATUSES.index, default="pass")


def counts(results: Sequence[CheckResult]) -> dict[Status, int]:
    """How many results have each status, in :data:`STATUSES` order."""
    return {s: sum(r.status == s for r in results) for s in STATUSES}
