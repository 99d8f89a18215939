"""``--token-budget auto``: the largest token budget whose worst batch fits in memory, found by probing.

The probe runs one synthetic batch per candidate budget, starting at :data:`AUTO_START` tokens (or the
head's own cap, whichever is lower) and halving on out-of-memory (``torch.OutOfMemoryError``, a
``RuntimeError`` saying "out of memory" / "can't allocate memory", or ``MemoryError``) until a batch
runs. A budget's worst batch is the one whose attention is largest: rows as long as the model takes
(``min(budget, max_length)`` tokens), ``budget // length`` of them. The first budget that runs is kept
for the whole session and recorded in ``run.json`` (the model's ``token_budget`` and
``token_budget_probe``). Below :data:`AUTO_FLOOR` tokens the probe gives up with a :class:`UserError`.

It costs one forward pass per candidate (on CPU, seconds to minutes for a large model: the budget
matters most on an accelerator, where memory, not compute, bounds a batch). A budget that fits can
still fail later when other processes take memory; the backend's per-batch halving then still applies.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rmbench.errors import UserError

AUTO_START = 1 << 16
"""Tokens per batch the probe tries first."""
AUTO_FLOOR = 256
"""The smallest budget the probe tries before giving up."""


@dataclass
class BudgetProbe:
    """The chosen budget and every candidate tried, in order, with its outcome."""

    chosen: int
    tried: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": "auto", "chosen": self.chosen, "start": self.tried[0]["budget"], "tried": self.tried}


def probe_shape(budget: int, max_length: int) -> tuple[int, int]:
    """(rows, length) of a budget's worst batch: the longest rows the model takes, as many as fit.

    >>> probe_shape(65536, 4096)
    (16, 4096)
    >>> probe_shape(300, 4096)
    (1, 300)
    """
    length = max(1, min(budget, max_length))
    return max(1, budget // length), length


def probe_token_budget(
    run_batch: Callable[[int, int], None],
    max_length: int,
    is_oom: Callable[[BaseException], bool],
    start: int = AUTO_START,
    floor: int = AUTO_FLOOR,
    release: Callable[[], None] | None = None,
) -> BudgetProbe:
    """Halve ``start`` until ``run_batch(rows, length)`` of that budget's worst batch runs; that budget.

    ``is_oom`` says whether an exception is an out-of-memory failure (anything else propagates);
    ``release`` frees cached memory between attempts (e.g. ``torch.cuda.empty_cache``).
    """
    budget, tried = max(start, 1), []
    while True:
        rows, length = probe_shape(budget, max_length)
        try:
            run_batch(rows, length)
        except Exception as exc:
            if not is_oom(exc):
                raise
            tried.append({"budget": budget, "rows": rows, "length": length, "outcome": "out of memory"})
            del exc
            gc.collect()
            if release is not None:
                release()
            if budget <= floor:
                raise UserError(
                    f"--token-budget auto: even {budget} tokens per batch ran out of memory",
                    hint="lower --max-length, use --dtype bfloat16, or free memory on the device",
                ) from None
            budget = max(budget // 2, floor)
            continue
        tried.append({"budget": budget, "rows": rows, "length": length, "outcome": "fits"})
        return BudgetProbe(chosen=budget, tried=tried)
