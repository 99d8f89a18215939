"""Run a task with a model: load examples, skip what is already scored, score the rest in chunks,
append each chunk to ``items.jsonl`` as soon as it is graded, then write the summary and report.

Resuming is the default: rerunning the same command in the same run directory scores only the
missing items. A run directory whose ``run.json`` describes a different configuration is refused
(pass ``overwrite=True`` to start over).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rmbench.adapters import Adapter
from rmbench.adapters.baselines import LengthBaseline
from rmbench.cache.lookup import RunCache
from rmbench.config import KINDS, RunConfig, as_choice
from rmbench.data.examples import ExampleSet, load_examples
from rmbench.data.task import LoadedTask, load_task
from rmbench.datatypes import Example, ItemResult, content_hash
from rmbench.errors import Interrupted, UserError
from rmbench.grading.core import Graded, Policies, grade, to_item
from rmbench.names import check_name, slugify
from rmbench.results.files import (
    ITEMS_FILE,
    REPORT_FILE,
    RUN_FILE,
    SUMMARY_FILE,
    ItemWriter,
    atomic_write_json,
    atomic_write_text,
    read_items,
    read_json,
)
from rmbench.results.identity import check_item_identities, identity_hash
from rmbench.results.item_errors import ConsecutiveErrors, pending_examples
from rmbench.results.manifest import (
    build_manifest,
    check_resume,
    evaluator_settings,
    graded_invalid_policy,
    jsonable,
    refresh_manifest,
)
from rmbench.results.run_dir import check_can_overwrite, check_out_path, clear_run_dir, lock_run_dir
from rmbench.results.summary import build_summary

__all__ = ["RunConfig", "RunOutcome", "auto_kind", "chunk_size_for", "default_run_dir", "planned_run_dir", "run",
           "write_outputs"]


@dataclass
class RunOutcome:
    run_dir: Path
    summary: dict[str, Any]
    scored_now: int
    reused: int
    from_cache: int = 0  # of scored_now: predictions read from the score cache (rmbench.cache)


def default_run_dir(cfg: RunConfig, task_name: str) -> Path:
    """``runs/<task>/<model slug>-<kind>-<hash>``; every part is a safe name (:mod:`rmbench.names`), so
    neither a task name nor a model id can place the folder outside ``runs/``."""
    parts: list[Any] = [evaluator_settings(cfg), cfg.data.limit, sorted(cfg.data.subsets), cfg.policy.seed]
    if cfg.data.overrides:  # --data-file / --field / --option / --set: another file is another run
        parts.append(jsonable(cfg.data.overrides))
    tag = content_hash(parts)[:8]
    shard = f"-shard{cfg.data.shard.index}of{cfg.data.shard.count}" if cfg.data.shard else ""  # shards never collide
    folder = check_name(f"{slugify(cfg.model)}-{slugify(cfg.kind, fallback='kind')}-{tag}{shard}", "run folder name")
    return Path("runs") / check_name(task_name, "task name") / folder


def planned_run_dir(cfg: RunConfig) -> Path:
    """The directory :func:`run` writes for ``cfg``: ``--out``, else :func:`default_run_dir` (``--kind auto``
    resolved as the run resolves it); reads the task, not its data."""
    if cfg.out is not None:
        return cfg.out
    task = load_task(cfg.data.task, cfg.data.tasks_dirs, cfg.data.overrides or None)
    return default_run_dir(_with_task_kind(cfg, task), task.spec.name)


def run(cfg: RunConfig, progress: Callable[[int, int], None] | None = None) -> RunOutcome:
    """Run (or resume) one task with one model. ``progress(done, total)`` is called after each chunk."""
    clock = (time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds"))
    data = cfg.data
    task = load_task(data.task, data.tasks_dirs, data.overrides or None)
    cfg = _with_task_kind(cfg, task)
    exset = load_examples(task.spec, data.data_dir, limit=data.limit, subsets=list(data.subsets) or None,
                          use_bundled=data.bundled)
    if data.shard is not None:  # --shard i/n: this process scores one slice (rmbench.shards.slice)
        from rmbench.shards.slice import shard_examples

        exset = shard_examples(exset, data.shard)
    run_dir = cfg.out or default_run_dir(cfg, task.spec.name)
    check_out_path(run_dir)
    if cfg.overwrite:
        check_can_overwrite(run_dir)  # before the lock file is created in a folder that is no run's
    with lock_run_dir(run_dir):
        if cfg.overwrite:
            clear_run_dir(run_dir)
        return _run_locked(cfg, task, exset, run_dir, clock, progress)


def _with_task_kind(cfg: RunConfig, task: LoadedTask) -> RunConfig:
    """``cfg`` with ``--kind auto`` resolved (:func:`auto_kind`); refused when the task does not take the kind."""
    if cfg.kind == "auto":
        kind = auto_kind(cfg.model, task.spec.model_kinds, cfg.scores)
        cfg = replace(cfg, kind=as_choice(kind, KINDS, "--kind"))
    if cfg.kind not in task.spec.model_kinds and cfg.kind not in ("baseline", "precomputed"):
        raise UserError(
            f"task '{task.spec.name}' does not support model kind '{cfg.kind}'",
            hint=f"supported: {', '.join(task.spec.model_kinds)}",
        )
    return cfg


def _run_locked(cfg: RunConfig, task: LoadedTask, exset: ExampleSet, run_dir: Path, clock: tuple[float, str],
                progress: Callable[[int, int], None] | None) -> RunOutcome:
    """Check what the run directory holds, score the missing items, write the summary."""
    read = read_items(run_dir / ITEMS_FILE, repair=True)
    _check_item_contents(read.items, exset, run_dir)
    manifest_path = run_dir / RUN_FILE
    plain = build_manifest(cfg, task, exset, {})  # without the model's description: known before loading
    if manifest_path.exists():
        check_resume(run_dir, plain, with_model=False)
    ident = identity_hash(plain)
    check_item_identities(run_dir / ITEMS_FILE, read, ident, manifest_path.exists())
    pending = pending_examples(exset.examples, read.items)  # error items are asked again
    cache = RunCache.open(cfg, pending)  # the score cache (rmbench.cache): what is cached needs no model
    adapter, manifest = _adapter_and_manifest(cfg, task, exset, manifest_path, load=bool(pending) or not manifest_path.exists(), cache=cache)
    if manifest_path.exists():
        check_resume(run_dir, manifest)
        manifest = refresh_manifest(manifest_path, plain)  # the original manifest (first start), updated
    else:
        atomic_write_json(manifest_path, {**manifest, "identity": ident, "score_cache": cache.manifest_block()})
    scored = 0
    if pending and adapter is not None:
        policies = Policies(cfg.policy.grading_tie_policy(task.spec.scoring.tie_policy), graded_invalid_policy(cfg),
                            cfg.policy.inconsistent_policy)
        scored = _score_pending(cfg, adapter, pending, policies, exset, run_dir, ident, progress)
    cache.close()  # keeps the cache within its bound; after an exception the file is simply closed
    return _finish(run_dir, manifest, exset, clock, scored, cache.timing())


def _check_item_contents(existing: Mapping[str, ItemResult], exset: ExampleSet, run_dir: Path) -> None:
    by_id = {e.id: e for e in exset.examples}
    for item in existing.values():
        ex = by_id.get(item.id)
        if ex is not None and ex.content_hash() != item.example_hash:
            raise UserError(
                f"{run_dir / ITEMS_FILE}: item '{item.id}' was scored on different content",
                hint="the data changed since this run started; use a new --out directory",
            )


def _adapter_and_manifest(cfg: RunConfig, task: LoadedTask, exset: ExampleSet, manifest_path: Path,
                          load: bool, cache: RunCache) -> tuple[Adapter | None, dict[str, Any]]:
    """The adapter and the manifest describing it; without ``load``, no adapter and the stored manifest
    (nothing is left to score). A scores file is always read: a changed file must be refused on resume.
    With ``cache`` on, the adapter reads cached scores and the model is built only when one is missing."""
    if cfg.scores is not None:
        from rmbench.adapters.precomputed import PrecomputedAdapter

        scores = PrecomputedAdapter(cfg.scores, by_order=cfg.scores_by_order, model_id=cfg.model,
                                    threshold=cfg.process.threshold)
        scores.bind(exset.examples, restricted=bool(cfg.data.limit or cfg.data.subsets or cfg.data.shard))
        adapter: Adapter = scores
    elif load:
        adapter, described = cache.adapter(lambda: _build_adapter(cfg, task, exset.examples), _describe)
        return adapter, build_manifest(cfg, task, exset, described)
    else:
        return None, read_json(manifest_path)
    return adapter, build_manifest(cfg, task, exset, _describe(adapter))


def _describe(adapter: Adapter) -> dict[str, Any]:
    """The adapter's description for run.json, with the cheap set-up checks (rmbench.doctor.setup)."""
    from rmbench.doctor.setup import with_setup

    return with_setup(adapter, adapter.describe())


def _build_adapter(cfg: RunConfig, task: LoadedTask, examples: Sequence[Example]) -> Adapter:
    from rmbench.adapters.build import build_adapter

    engine = cfg.engine
    return build_adapter(
        cfg.model, cfg.kind, ref_model=cfg.ref_model, dtype=engine.dtype, device=engine.device,
        max_length=engine.max_length, truncation_side=engine.truncation_side, token_budget=engine.token_budget,
        max_batch_size=engine.max_batch_size, seed=cfg.policy.seed, reduction=cfg.reduction,
        force_max_length=engine.force_max_length, allow_random_head=engine.allow_random_head, threads=engine.threads,
        api_base=engine.api_base, max_consecutive_errors=cfg.policy.max_consecutive_errors, backend=engine.backend,
        vllm_parallel=engine.vllm_parallel(), token_budget_auto=engine.token_budget_auto,
        **_kind_options(cfg, task, examples),
    )


def _kind_options(cfg: RunConfig, task: LoadedTask, examples: Sequence[Example]) -> dict[str, Any]:
    """The ``build_adapter`` keywords of the kind's option group (judge, process, critic, and the task
    families' kinds, which also read the task's options)."""
    task_name = task.spec.name
    if cfg.kind in ("claim-judge", "nli"):
        from rmbench.adapters.claims.config import claim_adapter_options

        return claim_adapter_options(cfg, task.spec.options)
    if cfg.kind == "rfeval":
        from rmbench.adapters.rfeval.config import rfeval_adapter_options

        return rfeval_adapter_options(cfg)
    if cfg.kind == "faithfulness":
        from rmbench.adapters.faithfulness.settings import faithfulness_adapter_options

        return faithfulness_adapter_options(cfg, task.spec.options)
    if cfg.kind == "process":
        from rmbench.adapters.steps.config import process_adapter_options

        return process_adapter_options(cfg.process, task_name, examples, evaluator_settings(cfg))
    if cfg.kind == "critic":
        from rmbench.adapters.steps.config import critic_adapter_options

        return critic_adapter_options(cfg.critic, seed=cfg.policy.seed)
    if cfg.kind == "judge":
        from rmbench.adapters.judge.config import judge_adapter_options

        return judge_adapter_options(cfg.judge, cfg.engine, cfg.policy, examples)
    return {}


def _score_pending(cfg: RunConfig, adapter: Adapter, pending: Sequence[Example], policies: Policies, exset: ExampleSet,
                   run_dir: Path, ident: str, progress: Callable[[int, int], None] | None) -> int:
    """Score ``pending`` in chunks, appending each graded chunk to items.jsonl; the number scored."""
    total = len(exset.examples)
    done_before = total - len(pending)
    if progress:
        progress(done_before, total)
    length = LengthBaseline() if cfg.policy.baselines else None
    streak = ConsecutiveErrors(cfg.policy.max_consecutive_errors)
    scored = 0
    try:
        with ItemWriter(run_dir / ITEMS_FILE, identity=ident) as writer:
            size = chunk_size_for(cfg)
            for start in range(0, len(pending), size):
                chunk = pending[start : start + size]
                items = _score_chunk(adapter, chunk, policies, length)
                writer.write_many(items)
                scored += len(chunk)
                if progress:
                    progress(done_before + scored, total)
                streak.check(items)  # after the write: an abort keeps everything scored
    except KeyboardInterrupt:  # Ctrl-C: say what is kept (the file is the count; a torn line is not)
        saved = len(read_items(run_dir / ITEMS_FILE).items)
        raise Interrupted(saved, total, str(run_dir)) from None
    return scored


def _finish(run_dir: Path, manifest: Mapping[str, Any], exset: ExampleSet, clock: tuple[float, str],
            scored: int, cache_timing: Mapping[str, Any] | None = None) -> RunOutcome:
    """Summarise every item in the file (this session's and earlier ones) and write summary and report."""
    t0, started = clock
    all_items = read_items(run_dir / ITEMS_FILE).items
    ordered = [all_items[e.id] for e in exset.examples if e.id in all_items]
    wall = time.perf_counter() - t0
    reused = len(exset.examples) - scored
    timing: dict[str, Any] = {
        "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "items_scored_this_session": scored,
        "items_reused": reused,
        **(cache_timing or {}),  # items_from_cache (part of items_scored_this_session), score_cache
    }
    if scored:
        timing["items_per_second"] = round(scored / wall, 3)
    summary = build_summary(manifest, ordered, timing)
    write_outputs(run_dir, summary)
    return RunOutcome(run_dir, summary, scored, reused, int(timing.get("items_from_cache", 0)))


def auto_kind(model: str, task_kinds: Sequence[str], scores_file: Path | None = None) -> str:
    """The model kind when none is given: ``precomputed`` with a scores file, ``baseline`` for
    ``baseline:...`` models, else the task's first listed kind (``felm`` -> judge, ``processbench`` ->
    process, ``llmbar`` -> scalar). The kind used is recorded in run.json and the report."""
    if scores_file is not None:
        return "precomputed"
    if model.startswith("baseline:"):
        return "baseline"
    return task_kinds[0]


def chunk_size_for(cfg: RunConfig) -> int:
    """Items per chunk: ``--chunk-size`` when set; else 8 for judges and critics generating with
    transformers on this machine (a FELM item asks ~5 questions of ~500 prompt tokens each, so 8 items are
    a minute or two of CPU work lost at most on a kill, and one full generation batch), and 64 otherwise
    (scoring batches pack across the chunk; vLLM and servers batch or overlap many requests).

    Chunking never changes a result beyond float noise: batches are built inside a chunk only.
    """
    if cfg.engine.chunk_size is not None:
        return cfg.engine.chunk_size  # at least 1: checked when the options were built
    generative = cfg.kind in ("judge", "critic", "rfeval", "faithfulness")
    return 8 if generative and cfg.engine.backend == "transformers" else 64


def _score_chunk(adapter: Adapter, chunk: Sequence[Example], policies: Policies, length: LengthBaseline | None) -> list[ItemResult]:
    preds = adapter.score(chunk)
    if len(preds) != len(chunk):
        raise RuntimeError(f"adapter returned {len(preds)} predictions for {len(chunk)} examples")
    base_preds = length.score(chunk) if length is not None and _baseline_applies(chunk) else None
    items = []
    for i, (ex, pred) in enumerate(zip(chunk, preds, strict=True)):
        baselines: dict[str, Graded] = {}
        if base_preds is not None:
            baselines["length"] = grade(ex, base_preds[i], policies)
        items.append(to_item(ex, pred, policies, baselines))
    return items


def _baseline_applies(chunk: Sequence[Example]) -> bool:
    return all(e.kind in ("pairwise", "multi_response") for e in chunk)


def write_outputs(run_dir: Path, summary: Mapping[str, Any]) -> None:
    from rmbench.doctor.setup import read_setup
    from rmbench.reports.run_report import render_markdown

    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    atomic_write_text(run_dir / REPORT_FILE, render_markdown(summary, setup=read_setup(run_dir)))
