"""Sharded runs: score a deterministic slice of a task's examples (``rmbench run --shard i/n``,
:mod:`rmbench.shards.slice`) and join the slices into one run directory (``rmbench merge``,
:mod:`rmbench.shards.merge`). The rules are documented in ``docs/scale.md``."""
