"""``rmbench run --executor ray``: the run's shards as Ray tasks, merged into one run directory.

The driver (the ``rmbench run`` process) works out the unsharded run's directory ``DIR`` (``--out``, or the
default folder), deals the selection into ``--shards n`` shards (:mod:`rmbench.shards.slice`) and submits one
Ray task per shard. Each task loads its own model replica (``--ray-num-gpus`` GPUs, one CPU) and runs the
normal shard run into ``DIR/shards/<i>-of-<n>/`` (append-only ``items.jsonl``, resumable). When every task is
done the driver joins the shards into ``DIR`` (:func:`rmbench.shards.merge.merge_shards`), so ``DIR`` holds
the same files an unsharded run writes.

Failures: a task whose worker dies (killed, out of memory, node lost) is retried by Ray up to
:data:`MAX_RETRIES` times; the retry resumes from the shard's own ``items.jsonl``, so nothing scored is lost
or scored twice. An error raised by the run itself (bad data, a model that does not load) is not retried:
it is reported as the one-line error a local run gives. Rerunning the same command resumes every shard.

Every machine needs rmbench, the model and the data at the same paths, and ``DIR`` on a shared file system
(docs/scale.md). ``ray`` is imported only here (``pip install 'rmbench[ray]'``).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rmbench.config import ExecutorOptions, RunConfig
from rmbench.errors import UserError
from rmbench.runner import RunOutcome
from rmbench.shards.spec import Shard

MAX_RETRIES = 3
"""Times Ray reruns a shard task whose worker died (a crash, a kill, a lost node)."""
SHARDS_FOLDER = "shards"
KILL_MARKER_ENV = "RMBENCH_TEST_KILL_MARKER"
"""Tests only: a file path; the first shard task to have written some items creates it and kills its own
worker with SIGKILL (tests/test_ray_executor.py checks that the shard is retried and resumes)."""

Progress = Callable[[int, int], None]


def run_on_ray(cfg: RunConfig, progress: Progress | None = None) -> RunOutcome:
    """Run ``cfg`` as shards on a Ray cluster and merge them into the unsharded run's directory."""
    from rmbench.results.run_dir import check_out_path, lock_run_dir
    from rmbench.runner import planned_run_dir

    run_dir = planned_run_dir(cfg).absolute()  # tasks may run in another working directory
    check_out_path(run_dir)
    n_items = selection_size(cfg)  # data errors show before a cluster is started
    with lock_run_dir(run_dir, "rmbench run --executor ray"):
        _check_run_dir(run_dir, cfg.overwrite)
        ray = _connect(cfg.executor.ray_address)
        try:
            count = min(cfg.executor.shards or default_shard_count(ray, cfg.executor.ray_num_gpus), n_items)
            shards = [Shard(i, count) for i in range(count)]
            done = _run_shards(ray, cfg, run_dir, shards, progress, n_items)
        finally:
            ray.shutdown()
        return _merge(run_dir, shards, done)


def selection_size(cfg: RunConfig) -> int:
    """The number of examples of the unsharded run (reads the task's data, loads no model)."""
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    data = cfg.data
    task = load_task(data.task, data.tasks_dirs, data.overrides or None)
    exset = load_examples(task.spec, data.data_dir, limit=data.limit, subsets=list(data.subsets) or None,
                          use_bundled=data.bundled)
    return len(exset.examples)


def default_shard_count(ray: Any, gpus_per_replica: float) -> int:
    """``--shards`` by default: as many replicas as the cluster's GPUs hold (with ``--ray-num-gpus``), else
    one per CPU; 2 when the cluster reports none."""
    resources = ray.cluster_resources()
    if gpus_per_replica > 0:
        return int(resources.get("GPU", 0) // gpus_per_replica) or 2
    return int(resources.get("CPU", 0)) or 2


def shard_config(cfg: RunConfig, run_dir: Path, shard: Shard) -> RunConfig:
    """The local run of one shard: ``--shard i/n --out DIR/shards/<i>-of-<n>``, never ``--overwrite`` (a retried
    task must resume; the driver clears the shards once, before submitting them)."""
    return replace(cfg, data=replace(cfg.data, shard=shard), out=run_dir / SHARDS_FOLDER / shard.folder_name,
                   executor=ExecutorOptions(), overwrite=False)


def _check_run_dir(run_dir: Path, overwrite: bool) -> None:
    """``DIR`` may be new, or an earlier ``--executor ray`` run (its merged files are rebuilt from the shards);
    a run made otherwise is refused unless ``--overwrite``."""
    from rmbench.results.run_dir import clear_run_dir, is_run_dir

    if overwrite:  # the run files of DIR and of every shard folder; nothing else
        for folder in [run_dir, *sorted((run_dir / SHARDS_FOLDER).glob("*-of-*"))]:
            if is_run_dir(folder):
                clear_run_dir(folder)
    elif is_run_dir(run_dir) and not (run_dir / SHARDS_FOLDER).is_dir():
        raise UserError(f"{run_dir} holds a run that was not made with --executor ray; nothing was changed",
                        hint="use another --out directory, or --overwrite to discard the old results")


def _connect(address: str | None) -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray", hint="pip install 'rmbench[ray]'") from None
    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    return ray


def _run_shards(ray: Any, cfg: RunConfig, run_dir: Path, shards: Sequence[Shard], progress: Progress | None,
                n_items: int) -> list[tuple[int, int]]:
    """Submit one task per shard and wait for all; (scored, reused) per shard, in shard order."""
    task = ray.remote(run_shard).options(num_cpus=1, num_gpus=cfg.executor.ray_num_gpus, max_retries=MAX_RETRIES,
                                         retry_exceptions=False)
    marker = os.environ.get(KILL_MARKER_ENV)
    refs = [task.remote(shard_config(cfg, run_dir, s), os.getcwd(), marker) for s in shards]
    pending = list(refs)
    while pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=2.0)
        if progress:
            progress(min(_items_written(run_dir, shards), n_items), n_items)
    return [_result(ray, ref, shard) for ref, shard in zip(refs, shards, strict=True)]


def _result(ray: Any, ref: Any, shard: Shard) -> tuple[int, int]:
    from ray.exceptions import RayTaskError, WorkerCrashedError

    try:
        scored, reused = ray.get(ref)
    except RayTaskError as exc:  # the run raised: the same error a local run prints
        cause = getattr(exc, "cause", None)
        if isinstance(cause, UserError):
            raise cause from None
        raise
    except WorkerCrashedError as exc:
        raise UserError(f"shard {shard}: its worker died {MAX_RETRIES + 1} times ({type(exc).__name__})",
                        hint="rerun the same command: every shard resumes from the items it saved") from None
    return int(scored), int(reused)


def _items_written(run_dir: Path, shards: Sequence[Shard]) -> int:
    """Item lines in the shards' items.jsonl files (for the progress bar only)."""
    total = 0
    for s in shards:
        path = run_dir / SHARDS_FOLDER / s.folder_name / "items.jsonl"
        try:
            total += path.read_bytes().count(b"\n")
        except OSError:
            continue
    return total


def _merge(run_dir: Path, shards: Sequence[Shard], done: Sequence[tuple[int, int]]) -> RunOutcome:
    from rmbench.results.run_dir import is_run_dir
    from rmbench.shards.merge import merge_shards

    dirs = [run_dir / SHARDS_FOLDER / s.folder_name for s in shards]
    merged = merge_shards(dirs, run_dir, overwrite=is_run_dir(run_dir), out_locked=True)
    return RunOutcome(run_dir, merged.summary, sum(s for s, _ in done), sum(r for _, r in done))


def run_shard(cfg: RunConfig, cwd: str, kill_marker: str | None) -> tuple[int, int]:
    """The Ray task: the local run of one shard, in the driver's working directory when this machine has it;
    (items scored, items reused)."""
    from rmbench.runner import run

    if os.path.isdir(cwd):
        os.chdir(cwd)  # relative paths (model folder, data) mean what they meant to the driver
    outcome = run(cfg, _kill_once(kill_marker) if kill_marker else None)
    return outcome.scored_now, outcome.reused


def _kill_once(marker: str) -> Progress:
    """Tests only (:data:`KILL_MARKER_ENV`): after a chunk is written, the first task to create ``marker``
    kills its own worker, as a node failure would."""

    def progress(done: int, total: int) -> None:
        if not 0 < done < total:
            return
        try:
            with open(marker, "x", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {done}\n")
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return progress
