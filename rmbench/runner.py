"""Run a task with a model: load examples, skip what is already scored, score the rest in chunks,
append each chunk to ``items.jsonl`` as soon as it is graded, then write the summary and report.

Resuming is the default: rerunning the same command in the same run directory scores only the
missing items. A run directory whose ``run.json`` describes a different configuration is refused
(pass ``overwrite=True`` to start over).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rmbench import __version__
from rmbench.adapters.baselines import LengthBaseline
from rmbench.adapters.judge.config import effective_invalid_policy, judge_adapter_options
from rmbench.config_checks import validate_run_config
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
from rmbench.results.identity import STATISTICS_KEYS, check_item_identities, identity_hash
from rmbench.results.identity import identity as _identity
from rmbench.results.item_errors import DEFAULT_MAX_CONSECUTIVE, ConsecutiveErrors, pending_examples
from rmbench.results.run_dir import check_can_overwrite, check_out_path, clear_run_dir, lock_run_dir
from rmbench.results.summary import build_summary


@dataclass(frozen=True)
class RunConfig:
    """Everything ``rmbench run`` needs. Fields under "evaluator" and "policy" decide item results."""

    task: str
    model: str
    kind: str = "scalar"
    ref_model: str | None = None
    data_dir: Path | None = None
    tasks_dirs: tuple[Path, ...] = ()
    task_overrides: Mapping[str, Any] = field(default_factory=dict)
    use_bundled: bool = False
    limit: int | None = None
    subsets: tuple[str, ...] = ()
    out_dir: Path | None = None
    overwrite: bool = False
    # evaluator
    dtype: str = "auto"
    device: str = "auto"
    max_length: int | None = None  # None: the model's own limit (rmbench.backends.transformers.model_limits)
    truncation_side: str = "left"
    token_budget: int = 16384
    max_batch_size: int = 64
    reduction: str = "sum"
    # how the evaluator runs, without changing its results (not part of the run's identity)
    force_max_length: bool = False
    allow_random_head: bool = False
    threads: int | None = None  # None: rmbench.backends.threads
    # policy and statistics
    seed: int = 0
    tie_policy: str | None = None  # None -> the task's default
    invalid_policy: str = "wrong"
    n_bootstrap: int = 2000
    confidence: float = 0.95
    baselines: bool = True
    # items scored between two appends to items.jsonl (and progress updates); None: see chunk_size_for
    chunk_size: int | None = None
    # bring your own scores (rmbench.adapters.precomputed): a file of per-item scores replaces the model
    scores_file: Path | None = None
    scores_by_order: bool = False

    # process reward models and critics (rmbench.adapters.steps.config): how steps are read, the threshold policy
    step_separator: str = "\n\n"
    step_tokens: str = "+,-"
    prm_head: str = "auto"
    prm_format: str = "plain"
    aggregation: str = "min"
    threshold: float | None = None  # None: 0.5, unless tuned with threshold_from
    threshold_from: Path | None = None
    threshold_split: str | None = None
    critic_prompt: str = "critic_first_error"
    critic_samples: int = 1
    critic_temperature: float = 0.7
    critic_max_new_tokens: int = 512

    # generative judges (rmbench.adapters.judge.config): how the judge runs, is asked and is read
    backend: str = "transformers"  # transformers | vllm | openai
    judge_mode: str = "auto"  # auto | pairwise | rating | verify | listwise | segments
    swap: str = "both"  # both | random | none
    prompt: str | None = None  # template name in prompts/ or a file; None: the mode's default
    parser: str = "strict"  # strict | lenient
    unparseable: str | None = None  # wrong | half | exclude | retry:N; None: invalid_policy
    inconsistent_policy: str = "half"  # half | wrong
    max_new_tokens: int | None = None
    api_base: str | None = None  # --backend openai: the server's /v1 URL
    # backend errors (rmbench.results.item_errors): stop after this many failed items in a row (0: never)
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE
    # RFEval (rmbench.adapters.rfeval.config): the judge of the model's outputs (None: the model itself) and
    # whether outputs cut at max_new_tokens are judged
    judge_model: str | None = None
    unfinished: str = "skip"  # skip | judge

    def __post_init__(self) -> None:
        validate_run_config(self)  # every option is checked before any data or model is loaded

    def evaluator_settings(self) -> dict[str, Any]:
        keys = ("model", "kind", "ref_model", "dtype", "max_length", "truncation_side", "reduction")
        out = {k: getattr(self, k) for k in keys}
        if self.kind in ("process", "critic"):
            from rmbench.adapters.steps.config import critic_settings_dict, process_settings_dict

            out.update(process_settings_dict(self) if self.kind == "process" else critic_settings_dict(self))
        if self.kind == "judge":
            from rmbench.adapters.judge.config import judge_settings_dict

            out.update(judge_settings_dict(self))
        if self.kind == "rfeval":
            from rmbench.adapters.rfeval.config import rfeval_settings_dict

            out.update(rfeval_settings_dict(self))
        if self.kind == "faithfulness":  # generation settings (classifier options are task options)
            out.update(backend=self.backend, max_new_tokens=self.max_new_tokens)
        return out


@dataclass
class RunOutcome:
    run_dir: Path
    summary: dict[str, Any]
    scored_now: int
    reused: int


def default_run_dir(cfg: RunConfig, task_name: str) -> Path:
    """``runs/<task>/<model slug>-<kind>-<hash>``; every part is a safe name (:mod:`rmbench.names`), so
    neither a task name nor a model id can place the folder outside ``runs/``."""
    parts: list[Any] = [cfg.evaluator_settings(), cfg.limit, sorted(cfg.subsets), cfg.seed]
    if cfg.task_overrides:  # --data-file / --field / --option / --set: another file is another run
        parts.append(_jsonable(cfg.task_overrides))
    tag = content_hash(parts)[:8]
    folder = check_name(f"{slugify(cfg.model)}-{slugify(cfg.kind, fallback='kind')}-{tag}", "run folder name")
    return Path("runs") / check_name(task_name, "task name") / folder


def _environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"rmbench": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "torch", "transformers", "datasets", "vllm"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return env


def claim_task_facts(spec: Any) -> dict[str, Any]:
    from rmbench.adapters.claims.report import task_facts

    return task_facts(spec)


def _manifest(cfg: RunConfig, task: LoadedTask, exset: ExampleSet, model_info: Mapping[str, Any]) -> dict[str, Any]:
    spec = task.spec
    tie_policy = cfg.tie_policy or spec.scoring.tie_policy
    return {
        "task": {
            "name": spec.name,
            "version": spec.version,
            "example_kind": spec.example_kind,
            "spec_hash": task.spec_hash,
            "origin": task.origin,
            "scoring": spec.scoring.model_dump(),
            "overrides": _jsonable(cfg.task_overrides),
            "notes": spec.notes,
            **claim_task_facts(spec),  # claim tasks: classes and label mappings (issue 13)
        },
        "data_fingerprint": exset.fingerprint,
        "data": {
            "fingerprint": exset.fingerprint,
            "source": exset.source.to_dict(),
            "n_items": len(exset.examples),
            "records_read": exset.records_read,
            "records_skipped": exset.records_skipped,
            "limit": cfg.limit,
            "subsets": exset.subsets,
            # every item id with its example's content hash: readers reject lines outside it
            "items": {e.id: e.content_hash() for e in exset.examples},
        },
        "model": dict(model_info),
        "config": {
            **cfg.evaluator_settings(),
            "seed": cfg.seed,
            "tie_policy": tie_policy,
            "invalid_policy": effective_invalid_policy(cfg),
            "n_bootstrap": cfg.n_bootstrap,
            "confidence": cfg.confidence,
            "baselines": ["length"] if cfg.baselines else [],
        },
        "environment": _environment(),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _check_resume(run_dir: Path, manifest: Mapping[str, Any], with_model: bool = True) -> None:
    """Refuse to mix results: the stored run.json must describe the same configuration.

    Called once before any model is loaded (settings, task, data; so a finished run directory is
    never silently reused for another model) and again with the loaded model's identity.
    """
    old = read_json(run_dir / RUN_FILE)
    a, b = _identity(old, with_model), _identity(manifest, with_model)
    if a != b:
        from rmbench.results.settings_diff import settings_diff

        raise UserError(
            f"{run_dir} holds a run with a different configuration (differs in: {'; '.join(settings_diff(a, b))})",
            hint="use another --out directory, or --overwrite to discard the old results",
        )


def run(cfg: RunConfig, progress: Callable[[int, int], None] | None = None) -> RunOutcome:
    """Run (or resume) one task with one model. ``progress(done, total)`` is called after each chunk."""
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    task = load_task(cfg.task, cfg.tasks_dirs, cfg.task_overrides or None)
    if cfg.kind == "auto":
        cfg = replace(cfg, kind=auto_kind(cfg.model, task.spec.model_kinds, cfg.scores_file))
    if cfg.kind not in task.spec.model_kinds and cfg.kind not in ("baseline", "precomputed"):
        raise UserError(
            f"task '{task.spec.name}' does not support model kind '{cfg.kind}'",
            hint=f"supported: {', '.join(task.spec.model_kinds)}",
        )
    exset = load_examples(
        task.spec, cfg.data_dir, limit=cfg.limit, subsets=list(cfg.subsets) or None, use_bundled=cfg.use_bundled
    )
    run_dir = cfg.out_dir or default_run_dir(cfg, task.spec.name)
    check_out_path(run_dir)
    if cfg.overwrite:
        check_can_overwrite(run_dir)  # before the lock file is created in a folder that is no run's
    with lock_run_dir(run_dir):
        if cfg.overwrite:
            clear_run_dir(run_dir)
        return _run_locked(cfg, task, exset, run_dir, (t0, started), progress)


def _run_locked(cfg: RunConfig, task: LoadedTask, exset: ExampleSet, run_dir: Path, clock: tuple[float, str],
                progress: Callable[[int, int], None] | None) -> RunOutcome:
    t0, started = clock
    read = read_items(run_dir / ITEMS_FILE, repair=True)
    existing = read.items
    by_id = {e.id: e for e in exset.examples}
    for item in existing.values():
        ex = by_id.get(item.id)
        if ex is not None and ex.content_hash() != item.example_hash:
            raise UserError(
                f"{run_dir / ITEMS_FILE}: item '{item.id}' was scored on different content",
                hint="the data changed since this run started; use a new --out directory",
            )

    policies = Policies(
        cfg.tie_policy or task.spec.scoring.tie_policy, effective_invalid_policy(cfg), cfg.inconsistent_policy  # type: ignore[arg-type]
    )
    manifest_path = run_dir / RUN_FILE
    plain = _manifest(cfg, task, exset, {})
    if manifest_path.exists():
        _check_resume(run_dir, plain, with_model=False)
    ident = identity_hash(plain)
    check_item_identities(run_dir / ITEMS_FILE, read, ident, manifest_path.exists())
    pending = pending_examples(exset.examples, existing)  # error items are asked again
    adapter: Any = None
    if cfg.scores_file is not None:  # always read: a changed scores file must be refused on resume
        from rmbench.adapters.precomputed import PrecomputedAdapter

        adapter = PrecomputedAdapter(cfg.scores_file, by_order=cfg.scores_by_order, model_id=cfg.model,
                                     threshold=cfg.threshold)
        adapter.bind(exset.examples, restricted=bool(cfg.limit or cfg.subsets))
        manifest = _manifest(cfg, task, exset, adapter.describe())
    elif pending or not manifest_path.exists():
        from rmbench.adapters.build import build_adapter
        from rmbench.adapters.claims.config import claim_adapter_options
        from rmbench.adapters.faithfulness.settings import faithfulness_adapter_options
        from rmbench.adapters.rfeval.config import rfeval_adapter_options
        from rmbench.adapters.steps.config import step_adapter_options

        step_options = step_adapter_options(cfg, task.spec.name, exset.examples, cfg.evaluator_settings())
        adapter = build_adapter(
            cfg.model, cfg.kind, ref_model=cfg.ref_model, dtype=cfg.dtype, device=cfg.device,
            max_length=cfg.max_length, truncation_side=cfg.truncation_side, token_budget=cfg.token_budget,
            max_batch_size=cfg.max_batch_size, seed=cfg.seed, reduction=cfg.reduction, **step_options,
            force_max_length=cfg.force_max_length, allow_random_head=cfg.allow_random_head, threads=cfg.threads,
            **{"backend": cfg.backend, "api_base": cfg.api_base, "max_consecutive_errors": cfg.max_consecutive_errors,
               **judge_adapter_options(cfg, exset.examples)},  # --backend reaches every kind (rmbench.adapters.kinds)
            **claim_adapter_options(cfg, task.spec.options), **rfeval_adapter_options(cfg),
            **faithfulness_adapter_options(cfg, task.spec.options),
        )
        manifest = _manifest(cfg, task, exset, adapter.describe())
    else:
        manifest = read_json(manifest_path)
    if manifest_path.exists():
        _check_resume(run_dir, manifest)
        manifest = _refresh_manifest(manifest_path, plain)  # the original manifest (first start), updated
    else:
        atomic_write_json(manifest_path, {**manifest, "identity": ident})

    length = LengthBaseline() if cfg.baselines else None
    scored = 0
    if pending and adapter is not None:
        done_before = len(exset.examples) - len(pending)
        if progress:
            progress(done_before, len(exset.examples))
        streak = ConsecutiveErrors(cfg.max_consecutive_errors)
        try:
            with ItemWriter(run_dir / ITEMS_FILE, identity=ident) as writer:
                size = chunk_size_for(cfg)
                for start in range(0, len(pending), size):
                    chunk = pending[start : start + size]
                    items = _score_chunk(adapter, chunk, policies, length)
                    writer.write_many(items)
                    scored += len(chunk)
                    if progress:
                        progress(done_before + scored, len(exset.examples))
                    streak.check(items)  # after the write: an abort keeps everything scored
        except KeyboardInterrupt:  # Ctrl-C: say what is kept (the file is the count; a torn line is not)
            saved = len(read_items(run_dir / ITEMS_FILE).items)
            raise Interrupted(saved, len(exset.examples), str(run_dir)) from None
    all_items = read_items(run_dir / ITEMS_FILE).items
    ordered = [all_items[e.id] for e in exset.examples if e.id in all_items]
    wall = time.perf_counter() - t0
    timing = {
        "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "items_scored_this_session": scored,
        "items_reused": len(exset.examples) - scored,
    }
    if scored:
        timing["items_per_second"] = round(scored / wall, 3)
    summary = build_summary(manifest, ordered, timing)
    write_outputs(run_dir, summary)
    return RunOutcome(run_dir, summary, scored, len(exset.examples) - scored)


def _refresh_manifest(path: Path, current: Mapping[str, Any]) -> dict[str, Any]:
    """The stored manifest, with this session's statistics settings (they are no part of the identity,
    so a resume may change them) and the item list a run.json of an older rmbench lacks; rewritten
    when that changed anything, so ``rmbench report`` computes the same summary."""
    manifest = read_json(path)
    changed = False
    for key in STATISTICS_KEYS:
        if manifest["config"].get(key) != current["config"][key]:
            manifest["config"][key] = current["config"][key]
            changed = True
    if "items" not in manifest["data"]:
        manifest["data"]["items"] = current["data"]["items"]
        changed = True
    if changed:
        atomic_write_json(path, manifest)
    return manifest


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
    """Items per chunk: ``cfg.chunk_size`` when set; else 8 for judges and critics generating with
    transformers on this machine (a FELM item asks ~5 questions of ~500 prompt tokens each, so 8 items are
    a minute or two of CPU work lost at most on a kill, and one full generation batch), and 64 otherwise
    (scoring batches pack across the chunk; vLLM and servers batch or overlap many requests).

    Chunking never changes a result beyond float noise: batches are built inside a chunk only.
    """
    if cfg.chunk_size is not None:
        if cfg.chunk_size < 1:
            raise UserError(f"chunk_size must be at least 1, got {cfg.chunk_size}")
        return cfg.chunk_size
    generative = cfg.kind in ("judge", "critic", "rfeval", "faithfulness")
    return 8 if generative and cfg.backend == "transformers" else 64


def _score_chunk(adapter: Any, chunk: Sequence[Example], policies: Policies, length: LengthBaseline | None) -> list[ItemResult]:
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
    from rmbench.reports.run_report import render_markdown

    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    atomic_write_text(run_dir / REPORT_FILE, render_markdown(summary))


def config_dict(cfg: RunConfig) -> dict[str, Any]:
    return _jsonable(asdict(cfg))
