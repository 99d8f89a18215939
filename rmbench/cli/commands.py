"""The ``rmbench`` command line. Parsing only: every command calls a library function.

Heavy libraries (torch, transformers, datasets, scipy) are imported inside the commands that need
them, so ``rmbench --help`` stays fast; a test checks this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rmbench.cli.rfeval_assoc import rfeval_assoc
from rmbench.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Benchmark reward models and LLM judges, with confidence intervals and paired tests.",
    pretty_exceptions_enable=False,
)

DataDir = Annotated[
    Optional[Path], typer.Option("--data-dir", help="Folder with upstream benchmark files (or RMBENCH_DATA_DIR).")
]
TasksDir = Annotated[
    Optional[list[Path]], typer.Option("--tasks-dir", help="Extra folder(s) of task YAML files (or RMBENCH_TASKS_DIR).")
]


def _print_version(value: bool) -> None:
    if value:
        from rmbench import __version__

        print(f"rmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Benchmark reward models and LLM judges, with confidence intervals and paired tests."""


def _console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr)


DataFile = Annotated[
    Optional[list[Path]],
    typer.Option("--data-file", help="Data file(s) for a generic task (pairs, steps, judge-pairs)."),
]
FieldMap = Annotated[
    Optional[list[str]], typer.Option("--field", help="Column mapping KEY=COLUMN, e.g. --field prompt=question.")
]
OptionSet = Annotated[
    Optional[list[str]],
    typer.Option("--option", help="Task option KEY=VALUE (YAML value), e.g. --option format=hh, --option first_error_base=1."),
]
SetOverride = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a task key, e.g. --set source.local.files.math=processbench/x.json."),
]


def _task_overrides(
    data_file: list[Path] | None, field: list[str] | None, option: list[str] | None, sets: list[str] | None
) -> dict:
    """The task overrides of ``--data-file``, ``--field``, ``--option`` and ``--set`` (in that order)."""
    overrides: dict = {}
    if data_file:
        overrides["source"] = {"local": {"files": [str(p.resolve()) for p in data_file]}}
    fields = _parse_fields(field)
    if fields:
        overrides["fields"] = fields
    _apply_sets(overrides, [f"options.{o}" for o in option or []], flag="--option")
    _apply_sets(overrides, sets)
    return overrides


def _parse_fields(fields: list[str] | None) -> dict[str, str]:
    out = {}
    for f in fields or []:
        key, sep, col = f.partition("=")
        if not sep or not key or not col:
            raise UserError(f"--field '{f}': expected KEY=COLUMN, e.g. --field prompt=question")
        out[key.strip()] = col.strip()
    return out


@app.command()
def run(
    task: Annotated[str, typer.Option("--task", "-t", help="Task name (see 'rmbench list') or a task YAML file.")],
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model", "-m",
            help="Local folder, Hub id\\[@revision], embedded:smollm2-135m-instruct, baseline:length or baseline:random"
            " (with --scores: a name for the scores).",
        ),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="auto | scalar | likelihood | implicit | baseline | process | critic | judge "
            "(auto: the task's first kind, e.g. felm -> judge, processbench -> process, llmbar -> scalar)"
        ),
    ] = "auto",
    ref_model: Annotated[Optional[str], typer.Option("--ref-model", help="Reference model for --kind implicit.")] = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    data_file: DataFile = None,
    field: FieldMap = None,
    option: OptionSet = None,
    bundled: Annotated[bool, typer.Option("--bundled", help="Use the sample shipped with rmbench.")] = False,
    limit: Annotated[Optional[int], typer.Option(help="At most N examples from each subset.")] = None,
    subset: Annotated[Optional[list[str]], typer.Option("--subset", help="Only these subsets.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default runs/<task>/<model>-...).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Discard an existing run directory instead of resuming.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for every random choice: bootstrap resamples, baseline:random, "
                                           "judge position swaps and sampling.")] = 0,
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16 (auto = float32 on CPU)")] = "auto",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N (auto: cuda when torch sees a GPU, else cpu).")] = "auto",
    max_length: Annotated[
        Optional[int],
        typer.Option(help="Tokens per sequence (default: the model's own limit, from its config and tokenizer); "
                          "longer ones are cut and counted as truncated in the summary."),
    ] = None,
    force_max_length: Annotated[
        bool, typer.Option("--force-max-length", help="Allow --max-length past the model's declared limit.")
    ] = False,
    allow_random_head: Annotated[
        bool,
        typer.Option("--allow-random-head", help="Run a reward model whose score head is random (tests, speed only)."),
    ] = False,
    threads: Annotated[
        Optional[int],
        typer.Option(help="torch CPU threads (default: OMP_NUM_THREADS, else free physical cores; see README)."),
    ] = None,
    truncation_side: Annotated[str, typer.Option(help="left | right: which end of a too-long sequence is cut "
                                                      "(process models always cut on the right).")] = "left",
    token_budget: Annotated[int, typer.Option(help="Padded tokens per batch.")] = 16384,
    max_batch_size: int = 64,
    reduction: Annotated[str, typer.Option(help="Likelihood reward: sum | mean of response log-probs.")] = "sum",
    tie_policy: Annotated[Optional[str], typer.Option(help="wrong | half | exclude (default: the task's).")] = None,
    invalid_policy: Annotated[str, typer.Option(help="wrong | half | exclude")] = "wrong",
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 2000,
    baselines: Annotated[bool, typer.Option(help="Also report the response-length baseline.")] = True,
    scores: Annotated[
        Optional[Path],
        typer.Option("--scores", help="Per-item scores computed elsewhere (jsonl/csv keyed by id) instead of a model."),
    ] = None,
    scores_by_order: Annotated[
        bool, typer.Option("--scores-by-order", help="Match --scores rows to the examples by order (count checked).")
    ] = False,
    set_: SetOverride = None,
    step_separator: Annotated[
        str, typer.Option(help="Process: text after each step; escapes \\n \\t allowed (e.g. ' ки', '<extra_0>').")
    ] = "\\n\\n",
    step_tokens: Annotated[str, typer.Option(help="Process, causal LM: GOOD,BAD tokens read at each step.")] = "+,-",
    prm_head: Annotated[str, typer.Option(help="Process: auto | causal-lm | token-cls.")] = "auto",
    prm_format: Annotated[str, typer.Option(help="Process: plain | chat (problem as user turn, steps as reply).")] = "plain",
    aggregation: Annotated[str, typer.Option(help="Process: solution score from step scores: min | last | product | mean.")] = "min",
    threshold: Annotated[
        Optional[float], typer.Option(help="Process: fixed threshold; a step scored below it is an error (default 0.5).")
    ] = None,
    threshold_from: Annotated[
        Optional[Path], typer.Option("--threshold-from", help="Process: tune the threshold on this earlier run (dev split).")
    ] = None,
    threshold_split: Annotated[
        Optional[str], typer.Option("--threshold-split", help="Process: the split of --threshold-from to tune on.")
    ] = None,
    critic_prompt: Annotated[str, typer.Option(help="Critic: prompt template name or file.")] = "critic_first_error",
    critic_samples: Annotated[int, typer.Option(help="Critic: samples per item (majority vote when > 1).")] = 1,
    critic_temperature: Annotated[float, typer.Option(help="Critic: sampling temperature when samples > 1.")] = 0.7,
    critic_max_new_tokens: Annotated[int, typer.Option(help="Critic: tokens generated per reply.")] = 512,
    backend: Annotated[str, typer.Option(help="Engine for every kind: transformers | vllm | openai (unsupported kind/backend pairs are refused; docs/backends.md).")] = "transformers",
    judge_mode: Annotated[
        str, typer.Option(help="Judge: auto | pairwise | rating | verify | listwise | segments.")
    ] = "auto",
    swap: Annotated[str, typer.Option(help="Judge: both | random | none (pair orders shown).")] = "both",
    prompt: Annotated[str | None, typer.Option(help="Judge: template name in prompts/ or a .j2 file.")] = None,
    parser: Annotated[str, typer.Option(help="Judge: strict | lenient verdict parsing.")] = "strict",
    unparseable: Annotated[
        str | None, typer.Option(help="Judge: wrong | half | exclude | retry:N (default: --invalid-policy).")
    ] = None,
    inconsistent_policy: Annotated[
        str, typer.Option(help="Judge, --swap both: a pair whose two orders disagree counts half | wrong.")
    ] = "half",
    max_new_tokens: Annotated[int | None, typer.Option(help="Judge: tokens per reply (default 32 or 512).")] = None,
    api_base: Annotated[str | None, typer.Option(help="Judge, --backend openai: server URL ending in /v1.")] = None,
    max_consecutive_errors: Annotated[
        int,
        typer.Option(help="Stop the run after N items in a row failed at the backend (server errors); 0: never."),
    ] = 5,
    chunk_size: Annotated[
        Optional[int],
        typer.Option(help="Items scored between appends to items.jsonl (default 8 for transformers judges, else 64)."),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="RFEval: the model that judges the outputs (default: the model itself).")
    ] = None,
    unfinished: Annotated[
        str, typer.Option(help="RFEval: skip | judge outputs cut at --max-new-tokens (the authors skip them).")
    ] = "skip",
    quiet: Annotated[bool, typer.Option(help="No progress bar and no result table (files are still written).")] = False,
) -> None:
    """Score a task with a model (or --scores FILE); resumes an interrupted run in the same directory."""
    from rmbench.runner import RunConfig

    if scores is not None:
        kind = "precomputed"
        model = model or f"precomputed:{scores.stem}"
    elif scores_by_order:
        raise UserError("--scores-by-order needs --scores FILE")
    if model is None:
        raise UserError("missing option '--model' (or pass --scores FILE)")

    overrides = _task_overrides(data_file, field, option, set_)
    _check_choice("--tie-policy", tie_policy, ("wrong", "half", "exclude"))
    _check_choice("--invalid-policy", invalid_policy, ("wrong", "half", "exclude"))
    _check_choice("--truncation-side", truncation_side, ("left", "right"))
    if max_consecutive_errors < 0:
        raise UserError(f"--max-consecutive-errors must be 0 (never stop) or more, got {max_consecutive_errors}")
    from rmbench.adapters.steps.config import unescape
    from rmbench.data.sources import resolve_data_dir

    cfg = RunConfig(
        task=task, model=model, kind=kind, ref_model=ref_model,
        data_dir=resolve_data_dir(data_dir),
        tasks_dirs=tuple(tasks_dir or ()), task_overrides=overrides, use_bundled=bundled, limit=limit,
        subsets=tuple(subset or ()), out_dir=out, overwrite=overwrite, dtype=dtype, device=device,
        max_length=max_length, truncation_side=truncation_side, token_budget=token_budget,
        max_batch_size=max_batch_size, reduction=reduction, force_max_length=force_max_length,
        allow_random_head=allow_random_head, threads=threads, seed=seed, tie_policy=tie_policy,
        invalid_policy=invalid_policy, n_bootstrap=n_bootstrap, baselines=baselines,
        scores_file=scores, scores_by_order=scores_by_order,
        step_separator=unescape(step_separator), step_tokens=step_tokens, prm_head=prm_head, prm_format=prm_format,
        aggregation=aggregation, threshold=threshold, threshold_from=threshold_from, threshold_split=threshold_split,
        critic_prompt=critic_prompt, critic_samples=critic_samples, critic_temperature=critic_temperature,
        critic_max_new_tokens=critic_max_new_tokens,
        backend=backend, judge_mode=judge_mode, swap=swap, prompt=prompt, parser=parser, unparseable=unparseable,
        inconsistent_policy=inconsistent_policy, max_new_tokens=max_new_tokens, api_base=api_base,
        chunk_size=chunk_size, max_consecutive_errors=max_consecutive_errors,
        judge_model=judge_model, unfinished=unfinished,
    )
    _run_with_progress(cfg, quiet)


def _apply_sets(overrides: dict, sets: list[str] | None, flag: str = "--set") -> None:
    """``--set a.b.c=VALUE`` -> ``overrides["a"]["b"]["c"] = VALUE`` (VALUE read as YAML: numbers, lists)."""
    import yaml

    for item in sets or []:
        key, sep, raw = item.partition("=")
        shown = item.removeprefix("options.") if flag == "--option" else item
        if not sep or not key.strip():
            raise UserError(f"{flag} '{shown}': expected KEY=VALUE, e.g. --set source.local.files.math=processbench/math.json")
        *parents, leaf = key.strip().split(".")
        node = overrides
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"{flag} '{shown}': '{part}' is already set to a value")
        try:
            node[leaf] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError as exc:
            raise UserError(f"{flag} '{shown}': the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _check_choice(flag: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise UserError(f"{flag} '{value}': expected one of {', '.join(allowed)}")


def _run_with_progress(cfg, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rmbench.reports.run_report import render_terminal
    from rmbench.runner import run as run_task

    console = _console(stderr=True)
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, disable=quiet, transient=False,
    )
    handle = bar.add_task(f"{cfg.task} · {cfg.model}", total=None)

    def progress(done: int, total: int) -> None:
        # Started on the first report, so errors found while loading print without a stray bar.
        if not bar.live.is_started:
            bar.start()
        bar.update(handle, completed=done, total=total)

    try:
        outcome = run_task(cfg, progress)
    finally:
        bar.stop()
    if not quiet:
        out = _console()
        out.print(render_terminal(outcome.summary, width=out.width))
    console.print(
        f"[green]done[/green]: {outcome.scored_now} items scored, {outcome.reused} reused -> {outcome.run_dir}"
    )
    failed = (outcome.summary["results"].get("errors") or {}).get("n_items", 0)
    if failed:
        console.print(
            f"[yellow]warning[/yellow]: {failed} item{'s' if failed != 1 else ''} failed at the backend and "
            f"{'are' if failed != 1 else 'is'} not graded; rerun the same command to ask {'them' if failed != 1 else 'it'} again."
        )


@app.command()
def demo(
    limit: Annotated[Optional[int], typer.Option(help="At most N examples.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o")] = Path("runs/demo"),
) -> None:
    """The embedded default: SmolLM2-135M-Instruct as a likelihood reward on a bundled LLMBar sample."""
    from rmbench.runner import RunConfig

    cfg = RunConfig(
        task="llmbar", model="embedded:smollm2-135m-instruct", kind="likelihood", reduction="mean",
        use_bundled=True, limit=limit, out_dir=out,
    )
    _run_with_progress(cfg, quiet=False)


@app.command("list")
def list_(tasks_dir: TasksDir = None) -> None:
    """List tasks (with version and origin) and model kinds."""
    from rich.table import Table
    from rich.text import Text

    from rmbench.data.task import discover_tasks, parse_task_file
    from rmbench.reports.terminal_tables import shorten_words

    table = Table(title="tasks")
    for col in ("name", "version", "kind", "origin"):
        table.add_column(col, no_wrap=True)  # never cut: names are what users type
    table.add_column("description", ratio=1)  # wraps at spaces
    for name, (path, origin) in sorted(discover_tasks(tasks_dir or ()).items()):
        try:
            spec = parse_task_file(path, origin).spec
            table.add_row(name, str(spec.version), spec.example_kind, origin, shorten_words(spec.description, 70))
        except UserError as exc:
            table.add_row(name, "?", "?", origin, Text("invalid: " + shorten_words(str(exc).splitlines()[-1], 60),
                                                       style="red"))
    console = _console()
    console.print(table)
    kinds = Table(title="model kinds")
    kinds.add_column("kind", no_wrap=True)
    kinds.add_column("what it scores", ratio=1)
    for k, d in MODEL_KINDS.items():
        kinds.add_row(k, d)
    console.print(kinds)


MODEL_KINDS = {
    "scalar": "sequence-classification reward model: one score per (prompt, response)",
    "likelihood": "causal LM: sum or mean log-probability of the response under the chat template",
    "implicit": "DPO implicit reward: policy minus --ref-model log-probabilities",
    "baseline": "baseline:length (longer wins) or baseline:random (seeded)",
    "process": "process reward model: a probability per step, all steps from one forward pass",
    "critic": "generative judge naming the earliest wrong step (\\boxed{k}); optional majority vote",
    "judge": "generative judge (--backend transformers|vllm|openai): pairwise verdicts in both orders, "
    "ratings, reference verification, best-of-N, FELM segment checks",
    "rfeval": "RFEval: the model answers, then continues injected flawed reasoning; a judge (--judge-model) "
    "rates stances and transitions -> RF score, coverage, accuracy",
    "precomputed": "scores computed elsewhere: rmbench run --task T --scores FILE (jsonl/csv keyed by item id)",
    "faithfulness": "CoT faithfulness: answer hinted and unhinted prompts, then classify hint acknowledgement "
    "(regex, regex+LLM, LLM judge); --model none classifies your own traces by regex",
}


@app.command()
def report(
    run_dir: Path,
    data_dir: DataDir = None,
    n_bootstrap: Annotated[Optional[int], typer.Option(help="Bootstrap resamples (default: the run's).")] = None,
    confidence: Annotated[Optional[float], typer.Option(help="Interval confidence (default: the run's).")] = None,
) -> None:
    """Recompute summary.json and report.md of a run from its items.jsonl, after checking every item:
    ids and content against run.json, metrics re-graded from the raw scores (needs the task's data)."""
    from rmbench.reports.run_report import render_terminal
    from rmbench.results.recompute import recompute_report

    result = recompute_report(run_dir, data_dir, n_bootstrap=n_bootstrap, confidence=confidence)
    out = _console()
    out.print(render_terminal(result.summary, width=out.width))
    err = _console(stderr=True)
    if result.regrade_skipped:
        err.print(f"[yellow]warning[/yellow]: per-item metrics not re-graded: {result.regrade_skipped}",
                  highlight=False, soft_wrap=True)
    if result.n_scored < result.n_items:
        err.print(f"[yellow]partial run[/yellow]: {result.n_scored} of {result.n_items} items scored; rerun to finish.")


@app.command()
def validate(
    task_or_file: str,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    data_file: DataFile = None,
    field: FieldMap = None,
    option: OptionSet = None,
    set_: SetOverride = None,
    load: Annotated[bool, typer.Option(help="Also read and convert the data.")] = True,
) -> None:
    """Validate a task (name or YAML file) and, with a data dir or --data-file, every record it reads.

    Takes the same --data-file, --field, --option and --set as 'run', so a file for a generic task
    (pairs, steps) can be checked before a run."""
    from rmbench.data.task import load_task

    task = load_task(task_or_file, tasks_dir or (), _task_overrides(data_file, field, option, set_) or None)
    console = _console()
    console.print(f"[green]ok[/green]: {task.path} (task '{task.spec.name}' v{task.spec.version}, {task.origin})")
    if load:
        from rmbench.data.examples import load_examples
        from rmbench.data.sources import resolve_data_dir

        exset = load_examples(task.spec, resolve_data_dir(data_dir))
        counts: dict[str, int] = {}
        for e in exset.examples:
            counts[e.subset] = counts.get(e.subset, 0) + 1
        console.print(
            f"[green]ok[/green]: {len(exset.examples)} examples from {exset.records_read} records "
            f"({exset.records_skipped} skipped); fingerprint {exset.fingerprint}"
        )
        for s, n in counts.items():
            console.print(f"  {s}: {n}")


# ------------------------------------------------------------------ compare, gate, agree, leaderboard

MdOut = Annotated[Optional[Path], typer.Option("--md", help="Also write the result as Markdown to this file.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Also write the result as JSON to this file.")]


def _write_outputs(md: Path | None, md_text: str | None, json_path: Path | None, payload: object) -> None:
    import json

    from rmbench.results.files import atomic_write_text

    if md is not None and md_text is not None:
        atomic_write_text(md, md_text)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run directory (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run directory (B).")],
    md: MdOut = None,
    json_out: JsonOut = None,
    metric: Annotated[Optional[str], typer.Option(help="Metric to compare (default: the task's primary metric).")] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10000,
    confidence: float = 0.95,
    alpha: Annotated[float, typer.Option(help="Significance level for the minimum detectable effect.")] = 0.05,
) -> None:
    """Paired comparison of two runs on the same items: CIs, paired-bootstrap difference, McNemar, Holm, MDE."""
    from rmbench.analysis.compare import compare_runs, render_markdown, render_terminal
    from rmbench.analysis.pairing import load_run_dir

    comp = compare_runs(load_run_dir(run_a), load_run_dir(run_b), metric=metric, n_resamples=n_bootstrap,
                        confidence=confidence, alpha=alpha)
    _console().print(render_terminal(comp))
    _write_outputs(md, render_markdown(comp), json_out, comp.to_dict())


@app.command()
def gate(
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline run directory, or its summary.json.")],
    candidate: Annotated[Path, typer.Option("--candidate", help="Candidate run directory.")],
    max_drop: Annotated[float, typer.Option("--max-drop", help="Tolerated drop in percentage points.")],
    alpha: Annotated[float, typer.Option("--alpha", help="Chance that noise alone fails the gate.")] = 0.05,
    subsets: Annotated[bool, typer.Option(help="Gate every subset too (Bonferroni over all cases).")] = True,
    md: MdOut = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
    json_out: JsonOut = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10000,
    metric: Annotated[Optional[str], typer.Option(help="Metric to gate on (default: the task's primary metric).")] = None,
) -> None:
    """CI regression gate: exit 1 when the candidate is significantly worse than the baseline by more than
    --max-drop points (rule in docs/ci-gate.md), 0 when it passes, 2 on usage or input errors."""
    from rmbench.analysis.gate import render_junit, render_markdown, render_terminal, run_gate
    from rmbench.results.files import atomic_write_text

    result = run_gate(baseline, candidate, max_drop=max_drop, alpha=alpha, subsets=subsets, n_resamples=n_bootstrap,
                      metric=metric)
    _console().print(render_terminal(result))
    _write_outputs(md, render_markdown(result), json_out, result.to_dict())
    if junit is not None:
        atomic_write_text(junit, render_junit(result))
    if not result.passed:
        raise SystemExit(1)  # not typer.Exit: main() runs click in non-standalone mode, which swallows it


@app.command()
def agree(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run directories on the same items.")],
    md: MdOut = None,
    json_out: JsonOut = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    confidence: float = 0.95,
) -> None:
    """Agreement between raters: Cohen's kappa matrix, Fleiss' kappa, confusion tables, rank changes."""
    from rmbench.analysis.agree import agree as agree_runs
    from rmbench.analysis.agree import render_markdown, render_terminal
    from rmbench.analysis.pairing import load_run_dir

    result = agree_runs([load_run_dir(r) for r in runs], n_resamples=n_bootstrap, confidence=confidence)
    _console().print(render_terminal(result))
    _write_outputs(md, render_markdown(result), json_out, result.to_dict())


leaderboard_app = typer.Typer(no_args_is_help=True, help="Build, verify and render leaderboard files.")
app.add_typer(leaderboard_app, name="leaderboard")
app.command("rfeval-assoc")(rfeval_assoc)


@leaderboard_app.command("build")
def leaderboard_build(
    runs: Annotated[list[Path], typer.Argument(
        help="Run directories of one task version and data fingerprint, or folders of them (runs/llmbar).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Default: leaderboards/<task>.json.")] = None,
    runs_root: Annotated[
        Optional[Path], typer.Option("--runs-root", help="Record run directories relative to this folder.")
    ] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Resamples for the pairwise tie tests.")] = 10000,
) -> None:
    """Collect runs into a versioned leaderboard JSON (schema rmbench.analysis.leaderboard/1, docs/leaderboard.md)."""
    from rmbench.analysis.leaderboard import (
        build_leaderboard,
        default_output_path,
        render_summary_table,
        write_leaderboard,
    )

    doc = build_leaderboard(runs, runs_root=runs_root, n_resamples=n_bootstrap)
    path = out or default_output_path(doc)
    write_leaderboard(doc, path)
    _console().print(render_summary_table(doc))
    _console(stderr=True).print(f"[green]wrote[/green] {path} ({len(doc['entries'])} entries)")


@leaderboard_app.command("verify")
def leaderboard_verify(
    file: Annotated[Path, typer.Argument(help="Leaderboard JSON file.")],
    runs_root: Annotated[
        Optional[Path], typer.Option("--runs-root", help="Resolve the recorded run directories against this folder.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute every number of a leaderboard from the runs' per-item files, after checking each item's id
    and re-grading it from its raw scores (needs the task's data); exit 1 on any mismatch."""
    from rich.markup import escape

    from rmbench.analysis.leaderboard import load_leaderboard, verify_leaderboard
    from rmbench.data.sources import resolve_data_dir

    doc = load_leaderboard(file)
    problems = verify_leaderboard(doc, runs_root, resolve_data_dir(data_dir), leaderboard_file=file)
    console = _console()
    if problems:
        for p in problems:
            console.print("[red]mismatch[/red]: " + escape(str(p)), highlight=False)
        console.print(f"[red]{len(problems)} mismatch(es)[/red] in {file}")
        raise SystemExit(1)
    console.print(f"[green]ok[/green]: {len(doc['entries'])} entries of {file} reproduce from their runs")


@leaderboard_app.command("render")
def leaderboard_render(
    file: Annotated[Path, typer.Argument(help="Leaderboard JSON file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("leaderboard.html"),
) -> None:
    """Write a static, self-contained HTML page (sortable table with confidence intervals)."""
    from rmbench.analysis.leaderboard import load_leaderboard
    from rmbench.reports.leaderboard_page import render_page
    from rmbench.results.files import atomic_write_text

    atomic_write_text(out, render_page(load_leaderboard(file)))
    _console(stderr=True).print(f"[green]wrote[/green] {out}")


def main() -> None:
    """Console entry point: exit codes and one-line errors as described in :mod:`rmbench.cli.exit_codes`."""
    from rmbench.cli.exit_codes import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
