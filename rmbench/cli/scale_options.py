"""``rmbench run``'s options for splitting a run: ``--shard i/n`` and ``--executor ray`` (docs/scale.md)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rmbench.cli.options import DATA_PANEL
from rmbench.config import Executor

SCALE_PANEL = "Executor"

ShardOpt = Annotated[
    Optional[str],
    typer.Option("--shard", help="Score only shard i of n (i/n, 0 <= i < n): example k of the selection goes to "
                 "shard k mod n; join shards with 'rmbench merge'.", rich_help_panel=DATA_PANEL),
]
ExecutorOpt = Annotated[
    Executor,
    typer.Option(help="local: this process; ray: shards as Ray tasks, merged into --out (pip install 'rmbench[ray]').",
                 rich_help_panel=SCALE_PANEL),
]
ShardsOpt = Annotated[
    Optional[int],
    typer.Option("--shards", help="--executor ray: number of shards (default: the cluster's CPUs, or 2).",
                 rich_help_panel=SCALE_PANEL),
]
RayGpusOpt = Annotated[
    float,
    typer.Option("--ray-num-gpus", help="--executor ray: GPUs per model replica (one replica per shard).",
                 rich_help_panel=SCALE_PANEL),
]
RayAddressOpt = Annotated[
    Optional[str],
    typer.Option("--ray-address", help="--executor ray: cluster address (default: a running cluster, else a local one).",
                 rich_help_panel=SCALE_PANEL),
]
