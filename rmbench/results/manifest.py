"""``run.json``: what a run is (task, data, model, settings, environment), built from a :class:`RunConfig`.

The manifest's ``config`` block holds the settings that decide item results (the evaluator and its
kind's options, the policies, the seed) plus the statistics settings; :mod:`rmbench.results.identity`
compares it on resume and hashes it onto every item line. Its keys and values are a contract with
every run directory already written: changing one makes old runs refuse to resume (a test pins them).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmbench import __version__
from rmbench.config import POLICIES, Policy, RunConfig, as_choice
from rmbench.data.examples import ExampleSet
from rmbench.data.task import LoadedTask
from rmbench.errors import UserError
from rmbench.results.files import RUN_FILE, atomic_write_json, read_json
from rmbench.results.identity import STATISTICS_KEYS, identity


def build_manifest(cfg: RunConfig, task: LoadedTask, exset: ExampleSet, model_info: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of ``cfg`` on ``task``'s examples; ``model_info`` is the adapter's ``describe()``
    (``{}`` before the model is loaded)."""
    spec = task.spec
    return {
        "task": {
            "name": spec.name,
            "version": spec.version,
            "example_kind": spec.example_kind,
            "spec_hash": task.spec_hash,
            "origin": task.origin,
            "scoring": spec.scoring.model_dump(),
            "overrides": jsonable(cfg.data.overrides),
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
            "limit": cfg.data.limit,
            "subsets": exset.subsets,
            # every item id with its example's content hash: readers reject lines outside it
            "items": {e.id: e.content_hash() for e in exset.examples},
            **shard_facts(exset),  # --shard i/n: the shard and the unsharded selection (rmbench.shards.slice)
        },
        "model": dict(model_info),
        "config": config_block(cfg, spec.scoring.tie_policy),
        "environment": environment(),
    }


def shard_facts(exset: ExampleSet) -> dict[str, Any]:
    """A shard's facts, recorded with the data ({} for an unsharded run)."""
    from rmbench.shards.slice import shard_facts as facts

    return facts(exset)


def claim_task_facts(spec: Any) -> dict[str, Any]:
    """A claim task's classes and label mappings, recorded with the task ({} for other tasks)."""
    from rmbench.adapters.claims.report import task_facts

    return task_facts(spec)


def config_block(cfg: RunConfig, task_tie_policy: Policy) -> dict[str, Any]:
    """The manifest's ``config``: :func:`evaluator_settings`, the policies and the statistics settings."""
    policy = cfg.policy
    return {
        **evaluator_settings(cfg),
        "seed": policy.seed,
        "tie_policy": policy.grading_tie_policy(task_tie_policy),
        "invalid_policy": graded_invalid_policy(cfg),
        "n_bootstrap": policy.n_bootstrap,
        "confidence": policy.confidence,
        "baselines": ["length"] if policy.baselines else [],
    }


def evaluator_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings that make the evaluator: model, kind, the engine settings that change scores, and
    the options of the kind (judge, process, critic). They also name the default run directory."""
    out: dict[str, Any] = {
        "model": cfg.model, "kind": cfg.kind, "ref_model": cfg.ref_model, "dtype": cfg.engine.dtype,
        "max_length": cfg.engine.max_length, "truncation_side": cfg.engine.truncation_side, "reduction": cfg.reduction,
    }  # fmt: skip
    if cfg.kind == "process":
        from rmbench.adapters.steps.config import process_settings_dict

        out.update(process_settings_dict(cfg.process))
    elif cfg.kind == "critic":
        from rmbench.adapters.steps.config import critic_settings_dict

        out.update(critic_settings_dict(cfg.critic))
    elif cfg.kind == "judge":
        from rmbench.adapters.judge.config import judge_settings_dict

        out.update(judge_settings_dict(cfg.judge, cfg.engine, cfg.policy))
    elif cfg.kind == "rfeval":
        from rmbench.adapters.rfeval.config import rfeval_settings_dict

        out.update(rfeval_settings_dict(cfg))
    elif cfg.kind == "faithfulness":  # generation settings (classifier options are task options)
        out.update(backend=cfg.engine.backend, max_new_tokens=cfg.judge.max_new_tokens)
    return out


def graded_invalid_policy(cfg: RunConfig) -> Policy:
    """The invalid policy grading applies: ``--invalid-policy``, or a judge's ``--unparseable`` policy."""
    if cfg.kind not in ("judge", "rfeval"):
        return cfg.policy.invalid_policy
    from rmbench.adapters.judge.config import effective_invalid_policy

    return as_choice(effective_invalid_policy(cfg.judge, cfg.policy), POLICIES, "--unparseable")


def environment() -> dict[str, Any]:
    """rmbench, Python, platform and the versions of the numeric packages installed."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"rmbench": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "torch", "transformers", "datasets", "vllm"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return env


def jsonable(value: Any) -> Any:
    """``value`` with mappings, tuples and paths turned into JSON's dicts, lists and strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def check_resume(run_dir: Path, manifest: Mapping[str, Any], with_model: bool = True) -> None:
    """Refuse to mix results: the stored run.json must describe the same configuration.

    Called once before any model is loaded (settings, task, data; so a finished run directory is
    never silently reused for another model) and again with the loaded model's identity.
    """
    old = read_json(run_dir / RUN_FILE)
    from rmbench.shards.slice import check_same_shard

    check_same_shard(run_dir, old, manifest)  # shards share the unsharded run's identity
    a, b = identity(old, with_model), identity(manifest, with_model)
    if a != b:
        from rmbench.results.settings_diff import settings_diff

        raise UserError(
            f"{run_dir} holds a run with a different configuration (differs in: {'; '.join(settings_diff(a, b))})",
            hint="use another --out directory, or --overwrite to discard the old results",
        )


def refresh_manifest(path: Path, current: Mapping[str, Any]) -> dict[str, Any]:
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
