"""``rmbench rfeval-assoc RUN...``: the accuracy-faithfulness regression over RFEval runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def rfeval_assoc(
    runs: Annotated[list[Path], typer.Argument(help="RFEval run directories (several models and/or tasks).")],
    confidence: Annotated[float, typer.Option(help="Confidence level of the interval.")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Logistic regression of the RF indicator on correctness, with model and task controls (statsmodels)."""
    from rmbench.adapters.rfeval.association import fit_association, rows_from_runs

    result = fit_association(rows_from_runs(runs), confidence)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    low, high = result["ci"]
    typer.echo(f"{result['formula']}  ({result['n_items']} contrast items, {len(result['models'])} model(s), "
               f"{len(result['tasks'])} task(s))")
    typer.echo(f"coefficient of correct: {result['coef_correct']:.3f} "
               f"[{low:.3f}, {high:.3f}] ({result['confidence']:.0%} CI), p = {result['p_value']:.3g}, "
               f"odds ratio {result['odds_ratio']:.2f}")
