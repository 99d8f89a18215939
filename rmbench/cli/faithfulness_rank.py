"""``rmbench faithfulness-rank RUN...``: models ranked by faithfulness under each classifier, across runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rmbench.cli.options import JsonOut, MdOut


def faithfulness_rank(
    runs: Annotated[list[Path], typer.Argument(help="CoT-faithfulness run directories (cot-faithfulness, "
                                                    "bbh-biased or cot-traces), one or more models each.")],
    md: MdOut = None,
    json_out: JsonOut = None,
    confidence: Annotated[float, typer.Option(help="Confidence level of the Wilson intervals.")] = 0.95,
) -> None:
    """Faithfulness rate per model under each classifier (with CIs), ranks, Spearman rho between the
    classifiers' rankings and the largest rank change; reads run directories, never models."""
    from rmbench.adapters.faithfulness.across_runs import rank_runs, render_markdown
    from rmbench.analysis.pairing import load_run_dir
    from rmbench.cli.output import write_outputs

    result = rank_runs([load_run_dir(r) for r in runs], confidence)
    text = render_markdown(result)
    typer.echo(text, nl=False)
    write_outputs(md, text, json_out, result)
