"""Human-readable views of a run summary: ``report.md`` and the terminal table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmbench.adapters.claims.report import claim_lines
from rmbench.adapters.faithfulness.report import faithfulness_lines
from rmbench.adapters.judge.report import hidden_metrics, judge_lines, judge_notes
from rmbench.reports.numbers import fmt_interval
from rmbench.results.item_errors import error_notes
from rmbench.results.schema import Block, ModelInfo


def table_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (overall, sections, subsets) shared by the markdown and terminal views."""
    res = summary["results"]
    metrics = [m for m in _shown_metrics(res) if m not in hidden_metrics(summary)]
    has_length = "length" in res["overall"].get("baselines", {})
    header = ["", "n", *[f"{m} (95% CI)" for m in metrics]]
    if has_length:
        header.append(f"length baseline {res['primary_metric']}")
    header += ["ties", "invalid"]
    truncated = bool(res["overall"].get("truncated"))
    if truncated:
        header.append("truncated")

    def row(name: str, block: Mapping[str, Any]) -> list[str]:
        mean_of_subsets = "n_items" not in block
        cells = [name, f"{len(block.get('subsets', []))} subsets" if mean_of_subsets else str(block["n_items"])]
        cells += [fmt_interval(block["metrics"].get(m)) for m in metrics]
        if has_length:
            cells.append(fmt_interval(block.get("baselines", {}).get("length", {}).get(res["primary_metric"])))
        cells += [str(block.get("ties", "")), str(block.get("invalid", ""))]
        return cells + ([str(block.get("truncated", ""))] if truncated else [])

    rows = [row("**overall**", res["overall"])]
    for name, block in (res.get("sections") or {}).items():
        rows.append(row(f"section: {name}" + (" (mean of subsets)" if "n_items" not in block else ""), block))
    for name, block in res["subsets"].items():
        rows.append(row(name, block))
    return header, rows


def _shown_metrics(res: Mapping[str, Any]) -> list[str]:
    primary = res["primary_metric"]
    # a per-item metric defined on no item at all (e.g. accuracy on correct items of a task that has none) is not shown
    names = [m for m, est in res["overall"]["metrics"].items() if not (est.get("n") == 0 and est.get("value") is None)]
    ordered = [primary] + [m for m in res.get("report_metrics", []) if m != primary]
    return [m for m in ordered if m in names] + [m for m in names if m not in ordered]


def source_line(source: Mapping[str, Any]) -> str:
    """Where the items came from: ``local source `/data/prefs.jsonl``` (the file itself for ``--data-file``
    runs, the data directory otherwise, ``hf://...`` for the Hub)."""
    return f"{source.get('kind', '?')} source `{source.get('location', '?')}`"


def render_markdown(summary: Mapping[str, Any], setup: Mapping[str, Any] | None = None) -> str:
    """``report.md``; ``setup`` is the ``setup.json`` of ``rmbench doctor --out`` (its checks join the
    "Set-up" section)."""
    from rmbench.doctor.setup import setup_lines

    task, model, cfg, data = summary["task"], summary["model"], summary["config"], summary["data"]
    res = summary["results"]
    header, rows = table_rows(summary)
    lines = [
        f"# {task['name']} (v{task['version']}) — {model.get('id') or cfg.get('model')}",
        "",
        f"- model kind: `{cfg['kind']}`" + (f", reference model: `{cfg['ref_model']}`" if cfg.get("ref_model") else ""),
        f"- items: {data['n_items']} from {source_line(data['source'])}"
        + (f" (limit {data['limit']} per subset)" if data.get("limit") else ""),
        f"- data fingerprint: `{data['fingerprint']}`; task spec hash: `{task['spec_hash']}`",
        policy_line(summary),
        f"- intervals: {int(cfg['confidence'] * 100)}% percentile bootstrap, {cfg['n_bootstrap']} resamples, "
        f"seed {cfg['seed']}; clustered by prompt where a prompt yields several comparisons",
    ]
    lines += model_lines(model)
    lines += truncation_line(Block.model_validate(res["overall"]))
    lines += _step_lines(model)
    lines += judge_lines(summary)
    lines += claim_lines(summary)
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += _section_score_lines(res)
    lines += faithfulness_lines(summary)
    lines += ["", *[f"- **Warning:** {w}." for w in res.get("warnings", [])], *_notes(summary)]
    lines += setup_lines(summary, setup)
    if summary["task"].get("notes"):
        lines += ["", "## Task notes", "", str(summary["task"]["notes"]).strip()]
    timing = summary.get("timing") or {}
    if timing:
        lines += [
            "",
            f"Wall time {timing.get('wall_seconds', 0):.1f} s; {res.get('tokens_scored', 0)} tokens scored; "
            f"{timing.get('items_reused', 0)} items reused from an earlier (interrupted) session.",
        ]
        if timing.get("shards"):  # rmbench merge: the items were scored by the shards' runs
            lines[-1] = (f"Merged from {len(timing['shards'])} shard runs (rmbench merge, {timing.get('wall_seconds', 0):.1f} s); "
                         f"{res.get('tokens_scored', 0)} tokens scored there.")
    return "\n".join(lines) + "\n"


def _section_score_lines(res: Mapping[str, Any]) -> list[str]:
    """Sections scored as a mean of each subset's own headline metric (``scoring.subset_metrics``)."""
    lines = []
    for name, block in (res.get("sections") or {}).items():
        score = block.get("score")
        if not score:
            continue
        value, ci = (fmt_interval(score).split(" ", 1) + [""])[:2]
        parts = ", ".join(f"{s} {m}" for s, m in score["of"].items() if s not in score["missing"])
        ci = f" {ci} ({int(100 * score.get('confidence', 0.95))}% CI, subsets resampled jointly)" if ci else ""
        line = f"- **{name} score: {value}**{ci}: unweighted mean of {parts}"
        if score["missing"]:
            line += f"; left out for lack of a value: {', '.join(score['missing'])}"
        lines.append(line)
    return ["", *lines] if lines else []


def model_lines(model: Mapping[str, Any]) -> list[str]:
    """How the model ran, from the typed model block (:class:`~rmbench.results.schema.ModelInfo`; older
    runs name the chat template's hash ``chat_template_hash``)."""
    info = ModelInfo.model_validate(model)
    shown = {"dtype": info.dtype, "device": info.device, "max length": info.max_length,
             "truncation side": info.truncation_side, "chat template sha256": info.chat_template}
    return [f"- {name}: `{value}`" for name, value in shown.items() if value is not None]


def truncation_line(overall: Block) -> list[str]:
    """How many items had a sequence cut at the maximum length (a line only when some were)."""
    if not overall.truncated:
        return []
    return [f"- truncated: {overall.truncated} of {overall.n_items} items "
            f"({overall.truncated_sequences} sequences) cut at the maximum length"]


def policy_line(summary: Mapping[str, Any]) -> str:
    """The tie and invalid policies, and for step tasks which metrics each applies to."""
    cfg = summary["config"]
    line = f"- policies: ties count as **{cfg['tie_policy']}**, invalid items count as **{cfg['invalid_policy']}**"
    if summary["task"].get("example_kind") != "stepwise":
        return line
    from rmbench.adapters.steps.grading import NEEDS_SCORES, POLICY_METRICS

    shown = set(_shown_metrics(summary["results"]))
    applies = [m for m in POLICY_METRICS if m in shown]
    left_out = [m for m in NEEDS_SCORES if m in shown]
    line += f" in {', '.join(applies)}"
    if left_out:
        line += f"; {', '.join(left_out)} (and metrics derived from them) need step scores and leave invalid items out"
    return line


def _step_lines(model: Mapping[str, Any]) -> list[str]:
    """Process reward models: how steps are read and the threshold policy; critics: prompt and voting."""
    lines = []
    process = model.get("process")
    if isinstance(process, Mapping):
        lines.append(
            f"- steps: separator `{process.get('step_separator')!r}`, head `{process.get('head')}`"
            + (f", tokens `{process.get('step_tokens')}`" if process.get("head") == "causal-lm" else "")
            + f", aggregation `{process.get('aggregation')}`, {process.get('forward_passes', '')}"
        )
        th = process.get("threshold") or {}
        if th.get("policy") == "tuned":
            lines.append(
                f"- threshold policy: **tuned** to {th['value']:.4g} (max F1 {th.get('dev_f1', float('nan')):.3f}) on "
                f"split(s) {', '.join(th.get('dev_splits', []))} of task `{th.get('dev_task')}` "
                f"({th.get('dev_items')} items, run `{th.get('dev_run')}`, summary sha256 `{th.get('dev_summary_sha256')}`); "
                "applied unchanged to every item here"
            )
        elif th:
            lines.append(f"- threshold policy: **fixed** at {th.get('value')} (a step scored below it is an error)")
    critic = model.get("critic")
    if isinstance(critic, Mapping):
        template = critic.get("template") or {}
        lines.append(
            f"- critic: prompt `{template.get('name')}` (sha256 `{str(template.get('sha256', ''))[:16]}`), "
            f"{critic.get('samples')} sample(s), {critic.get('vote')}; unparseable replies: {critic.get('unparseable')}"
        )
    return lines


def _notes(summary: Mapping[str, Any]) -> list[str]:
    res = summary["results"]
    notes = []
    primary = res["primary_metric"]
    overall = res["overall"]["metrics"].get(primary, {})
    base = res["overall"].get("baselines", {}).get("length", {}).get(primary)
    if overall.get("value") is not None and base and base.get("value") is not None:
        if overall.get("low") is not None and base.get("high") is not None and overall["low"] <= base["high"] and base["low"] <= overall["high"]:
            notes.append(
                f"**Note:** the model's {primary} is not distinguishable from the response-length baseline "
                "(overlapping intervals); treat it with caution."
            )
        for name, block in res["subsets"].items():
            b = block.get("baselines", {}).get("length", {}).get(primary, {})
            if b.get("value") is not None and (b["value"] >= 0.9 or b["value"] <= 0.1):
                notes.append(f"- subset `{name}`: response length alone gives {b['value'] * 100:.0f}% — a degenerate subset for length-biased models.")
    if res["overall"].get("invalid"):
        notes.append(f"- {res['overall']['invalid']} items could not be scored; policy: {summary['config']['invalid_policy']}.")
    return notes + error_notes(summary) + judge_notes(summary)


def render_terminal(summary: Mapping[str, Any], width: int = 100) -> Any:
    """The same rows as rich Tables, then the same warnings and notes as ``report.md`` (rich is
    imported lazily: only the CLI needs it).

    Columns that would not fit ``width`` characters go to further tables that repeat the row labels
    and counts, so a task with many metrics (FELM reports ten) stays readable on an 80-column terminal.
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header, rows = table_rows(summary)
    rows = [[c.replace("**", "") for c in r] for r in rows]
    col_width = [max(len(header[j]), *(len(r[j]) for r in rows if j < len(r))) + 3 for j in range(len(header))]
    fixed = col_width[0] + col_width[1] + 4
    parts: list[list[int]] = [[]]
    used = fixed
    for j in range(2, len(header)):
        if parts[-1] and used + col_width[j] > width:
            parts.append([])
            used = fixed
        parts[-1].append(j)
        used += col_width[j]
    title = f"{summary['task']['name']} v{summary['task']['version']} — {summary['model'].get('id') or summary['config'].get('model', '')}"
    tables = []
    for k, cols in enumerate(parts):
        t = Table(title=title + (f" ({k + 1}/{len(parts)})" if len(parts) > 1 else ""))
        for j in (0, 1, *cols):
            t.add_column(header[j], justify="left" if j == 0 else "right")
        for r in rows:
            t.add_row(*[r[j] if j < len(r) else "" for j in (0, 1, *cols)])
        tables.append(t)
    lines = [line for line in terminal_notes(summary) if line]
    source = summary.get("data", {}).get("source")
    if source:  # the data read, on one line under the tables (a caption would wrap to the table's width)
        lines.insert(0, f"{summary['data'].get('n_items', '?')} items from {source.get('kind', '?')} source "
                        f"{source.get('location', '?')}")
    if not lines:
        return tables[0] if len(tables) == 1 else Group(*tables)
    return Group(*tables, *(Text(line) for line in lines))


def terminal_notes(summary: Mapping[str, Any]) -> list[str]:
    """Section scores, warnings and notes of ``report.md`` as plain text (markdown emphasis removed)."""
    res = summary["results"]
    lines = [*_section_score_lines(res), *faithfulness_lines(summary),
             *[f"- Warning: {w}." for w in res.get("warnings", [])], *_notes(summary)]
    return [line.replace("**", "").replace("`", "") for line in lines]
