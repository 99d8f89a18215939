"""Accuracy-faithfulness association across RFEval runs (``rmbench rfeval-assoc RUN...``).

The paper asks whether more accurate outputs are more faithful once model and task are controlled.
On the contrast items of every run (where the RF indicator is defined) it fits the logistic regression

    logit P(RF = 1) = b0 + b1 * correct + sum_m g_m [model = m] + sum_t d_t [task = t]

with ``correct`` the item's accuracy (the original final answer is right; items without one are left
out) and treatment-coded model and task dummies (a control is dropped when it has one level). It
reports ``b1`` with its Wald CI and p-value, and the odds ratio ``exp(b1)``. The model is
``run.json``'s model (two runs of one model pool), the task the item's subset (task file).

statsmodels is imported only here: ``pip install 'rmbench[analysis]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmbench.errors import UserError


@dataclass(frozen=True)
class Row:
    model: str
    task: str
    correct: float
    rf: float


def rows_from_runs(run_dirs: Sequence[Path]) -> list[Row]:
    """One row per contrast item with an accuracy, over all runs (each must be an rfeval run)."""
    from rmbench.results.files import ITEMS_FILE, RUN_FILE, read_items, read_json

    rows: list[Row] = []
    for run_dir in run_dirs:
        manifest = read_json(run_dir / RUN_FILE)
        if manifest.get("task", {}).get("example_kind") != "rfeval":
            raise UserError(f"{run_dir}: not an RFEval run (task {manifest.get('task', {}).get('name')})")
        model = str(manifest["config"]["model"])
        for item in read_items(run_dir / ITEMS_FILE).items.values():
            rf, correct = item.metrics.get("rf"), item.metrics.get("accuracy")
            if rf is not None and correct is not None:
                rows.append(Row(model, item.subset, float(correct), float(rf)))
    return rows


def fit_association(rows: Sequence[Row], confidence: float = 0.95) -> dict[str, Any]:
    """The regression of the module docstring on ``rows``; raises :class:`UserError` when it cannot be fit."""
    try:
        import numpy as np
        import statsmodels.api as sm
    except ImportError:
        raise UserError("rmbench rfeval-assoc needs statsmodels", hint="pip install 'rmbench[analysis]'") from None
    if len({r.correct for r in rows}) < 2 or len({r.rf for r in rows}) < 2:
        raise UserError(f"{len(rows)} contrast items: both correct and incorrect answers, and both faithful and "
                        "unfaithful items, are needed to fit the regression")
    models, tasks = sorted({r.model for r in rows}), sorted({r.task for r in rows})
    columns = ["const", "correct"] + [f"model={m}" for m in models[1:]] + [f"task={t}" for t in tasks[1:]]
    x = np.array([[1.0, r.correct] + [float(r.model == m) for m in models[1:]] + [float(r.task == t) for t in tasks[1:]]
                  for r in rows])
    y = np.array([r.rf for r in rows])
    try:
        fit = sm.Logit(y, x).fit(disp=0)
    except Exception as exc:  # perfect separation, singular design
        raise UserError(f"the logistic regression cannot be fit: {exc}",
                        hint="more runs or items are needed (a control may predict RF perfectly)") from None
    low, high = fit.conf_int(alpha=1 - confidence)[1]
    coef = float(fit.params[1])
    return {
        "formula": "logit P(RF) ~ correct + C(model) + C(task)", "n_items": len(rows),
        "models": models, "tasks": tasks, "columns": columns,
        "coef_correct": coef, "ci": [float(low), float(high)], "confidence": confidence,
        "p_value": float(fit.pvalues[1]), "odds_ratio": math.exp(coef),
        "odds_ratio_ci": [math.exp(float(low)), math.exp(float(high))],
    }  # fmt: skip
