"""The tie, invalid and inconsistent policies: their names (one definition, used by the task YAML, the
run options, the graders and the reports) and the point value each gives.

>>> TIE_POLICIES, INCONSISTENT_POLICIES
(('wrong', 'half', 'exclude'), ('half', 'wrong'))
>>> POLICY_VALUE["half"], POLICY_VALUE["exclude"] is None
(0.5, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Policy = Literal["wrong", "half", "exclude"]
"""How a tie (equal scores) or an invalid item (NaN score, unparseable verdict) counts."""
InconsistentPolicy = Literal["half", "wrong"]
"""How a judge pair whose two orders disagree counts."""

TIE_POLICIES: tuple[str, ...] = get_args(Policy)
INVALID_POLICIES: tuple[str, ...] = get_args(Policy)
INCONSISTENT_POLICIES: tuple[str, ...] = get_args(InconsistentPolicy)
DEFAULT_TIE_POLICY: Policy = "wrong"
DEFAULT_INVALID_POLICY: Policy = "wrong"
DEFAULT_INCONSISTENT_POLICY: InconsistentPolicy = "half"

POLICY_VALUE: dict[str, float | None] = {"wrong": 0.0, "half": 0.5, "exclude": None}
"""The point an item gets under a policy; ``None`` leaves it out of the denominator."""


@dataclass(frozen=True)
class Policies:
    tie_policy: Policy = DEFAULT_TIE_POLICY
    invalid_policy: Policy = DEFAULT_INVALID_POLICY
    inconsistent_policy: InconsistentPolicy = DEFAULT_INCONSISTENT_POLICY

    def to_dict(self) -> dict[str, str]:
        return {
            "tie_policy": self.tie_policy,
            "invalid_policy": self.invalid_policy,
            "inconsistent_policy": self.inconsistent_policy,
        }
