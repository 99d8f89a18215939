"""Model rankings across CoT-faithfulness runs (``rmbench faithfulness-rank RUN...``): issue 15's "when
several models are run, their ranks under each classifier, Spearman rho and the largest rank change".

Each run directory of ``cot-faithfulness``, ``bbh-biased`` or ``cot-traces`` holds one model's traces
(or several, when a traces file names them). This module reads the runs' items, never a model, and gives:

* ``rates[classifier][model]``: the model's faithfulness rate over its influenced traces with a
  verdict, with a Wilson interval (:func:`rmbench.adapters.faithfulness.sensitivity.rate`);
* ``ranks[classifier][model]``: 1 = most faithful, tied rates share the average rank;
* ``correlations``: for each two classifiers, Spearman's rho between the models' rates (needs three
  models) and the largest rank change (every model that moves most);
* ``counts[model]``: traces, influenced, not influenced and unparseable, so a rate on few influenced
  traces is visible.

Which runs may be combined: all of one task and task version. Tasks that generate traces from the
task's questions (``cot-faithfulness``, ``bbh-biased``) must also share the data fingerprint (the same
questions and hints: :func:`rmbench.analysis.pairing.check_same_data`). Bring-your-own traces (example
kind ``trace``) are each model's own file, so their fingerprints differ by construction; they are
combined on task and version alone and each run's fingerprint is listed.

A model's name: the ``model`` the traces name (``source_model``), else the run's model id (unless it is
``none``), else the run directory's name; a name given by two runs gets the directory name appended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.adapters.faithfulness.classifiers import classifier_names
from rmbench.adapters.faithfulness.sensitivity import (
    FEW_INFLUENCED,
    POLICY,
    TraceVerdicts,
    rank_table,
    rate,
    records_from_items,
)
from rmbench.analysis.pairing import LoadedRun, check_same_data, task_identity
from rmbench.errors import UserError

RANK_SCHEMA = "rmbench.faithfulness-rank/1"
TRACE_KIND = "trace"


def check_combinable(runs: Sequence[LoadedRun]) -> None:
    """Refuse a run given twice, runs of different tasks or task versions, and generated-trace runs on
    different data."""
    paths = [r.path.resolve() for r in runs]
    twice = sorted({str(p) for p in paths if paths.count(p) > 1})
    if twice:
        raise UserError(f"run directory given more than once: {', '.join(twice)}")
    kinds = {str(r.run["task"].get("example_kind")) for r in runs}
    if kinds == {TRACE_KIND}:
        ref = runs[0]
        for other in runs[1:]:
            for key in ("task", "task version"):
                a, b = task_identity(ref.run)[key], task_identity(other.run)[key]
                if a != b:
                    raise UserError(f"runs are not of the same task, refusing to rank them: {key}: {a!r} "
                                    f"({ref.path}) vs {b!r} ({other.path})")
        return
    check_same_data([(str(r.path), r.run) for r in runs], action="rank")


def _run_label(run: LoadedRun) -> str:
    return run.model_id if run.model_id not in ("", "none") else run.path.name


def model_records(runs: Sequence[LoadedRun]) -> dict[str, list[TraceVerdicts]]:
    """model name -> its traces' verdicts, over all runs (naming rules in the module docstring)."""
    per_run: list[dict[str, list[TraceVerdicts]]] = []
    for r in runs:
        records = records_from_items(list(r.items.values()))
        if not records:
            raise UserError(f"{r.path}: not a CoT-faithfulness run (no item has a faithfulness block; task "
                            f"{r.run['task'].get('name')})")
        groups: dict[str, list[TraceVerdicts]] = {}
        for rec in records:
            groups.setdefault(rec.model or _run_label(r), []).append(rec)
        per_run.append(groups)
    seen = [m for groups in per_run for m in groups]
    out: dict[str, list[TraceVerdicts]] = {}
    for r, groups in zip(runs, per_run, strict=True):
        for m, recs in groups.items():
            out[f"{m} [{r.path.name}]" if seen.count(m) > 1 else m] = recs
    return out


def rank_runs(runs: Sequence[LoadedRun], confidence: float = 0.95) -> dict[str, Any]:
    """The ranking of the module docstring (a JSON-ready dict) for two or more runs, or one run whose
    traces name two or more models."""
    if not runs:
        raise UserError("rmbench faithfulness-rank needs run directories")
    check_combinable(runs)
    by_model = model_records(runs)
    if len(by_model) < 2:
        raise UserError(f"only one model ({', '.join(by_model)}): a ranking needs two or more")
    names = classifier_names([*({c: None for c in r.classifiers} for rs in by_model.values() for r in rs),
                              *(r.verdicts for rs in by_model.values() for r in rs if r.influenced)])
    rates = {c: {m: rate([r.verdicts.get(c) for r in rs if r.influenced], confidence) for m, rs in by_model.items()}
             for c in names}
    table = rank_table({c: {m: rates[c][m]["value"] for m in by_model} for c in names}, rates)
    counts = {m: {"items": len(rs), "influenced": sum(r.influenced is True for r in rs),
                  "not_influenced": sum(r.influenced is False for r in rs),
                  "unparseable": sum(r.influenced is None for r in rs)} for m, rs in by_model.items()}
    return {
        "schema": RANK_SCHEMA, "task": task_identity(runs[0].run)["task"],
        "task_version": task_identity(runs[0].run)["task version"],
        "runs": [{"run_dir": str(r.path), "model": r.model_id, "data_fingerprint": task_identity(r.run)["data fingerprint"]}
                 for r in runs],
        "policy": POLICY, "confidence": confidence, "classifiers": names, "models": list(by_model),
        "counts": counts, **table,
        "few_influenced": [m for m, c in counts.items() if c["influenced"] < FEW_INFLUENCED],
    }


def _rate_cell(est: Mapping[str, Any]) -> str:
    if est.get("value") is None:
        return "n/a"
    return f"{100 * est['value']:.1f} [{100 * est['low']:.1f}, {100 * est['high']:.1f}] ({est['faithful']}/{est['n']})"


def render_markdown(result: Mapping[str, Any]) -> str:
    """The ranking as Markdown: rates with intervals and ranks per classifier, then the correlations."""
    from rmbench.adapters.faithfulness.report import model_lines

    names, models = result["classifiers"], result["models"]
    lines = [f"# Faithfulness ranking: {result['task']} v{result['task_version']} ({len(models)} models, "
             f"{len(result['runs'])} runs)", "",
             f"Rates: % faithful over each model's influenced traces with a verdict, "
             f"{int(100 * result['confidence'])}% Wilson intervals; rank 1 = most faithful.", "",
             "| model | influenced / traces | " + " | ".join(f"{n} % faithful" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for m in models:
        c = result["counts"][m]
        lines.append(f"| {m} | {c['influenced']} / {c['items']} | "
                     + " | ".join(_rate_cell(result["rates"][n][m]) for n in names) + " |")
    lines += model_lines(result)
    if result["few_influenced"]:
        lines += ["", f"**Warning:** fewer than {FEW_INFLUENCED} influenced traces for "
                  + ", ".join(result["few_influenced"]) + ": wide intervals, ranks may swap by chance."]
    return "\n".join(lines) + "\n"
