"""Where a run's items are scored: in this process (:func:`rmbench.runner.run`) or as shards on a Ray
cluster (:mod:`rmbench.executors.ray_executor`, ``--executor ray``). Every executor has ``run``'s signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rmbench.config import RunConfig
    from rmbench.runner import RunOutcome

Executor = Callable[["RunConfig", "Callable[[int, int], None] | None"], "RunOutcome"]


def executor_for(cfg: RunConfig) -> Executor:
    """The function that runs ``cfg``: ``--executor local`` (the default) or ``ray``."""
    if cfg.executor.executor == "ray":
        from rmbench.executors.ray_executor import run_on_ray

        return run_on_ray
    from rmbench.runner import run

    return run
