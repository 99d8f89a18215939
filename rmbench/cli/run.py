"""``rmbench run`` (and ``demo``): score a task with a model; ``list`` and ``validate``: the tasks.

``run``'s options are grouped in help panels that follow :mod:`rmbench.config`'s option groups, and
the command builds those groups; every option is checked there (exit 2 with one line on a bad value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rmbench.cli.options import (
    DATA_PANEL,
    DataDir,
    DataFile,
    FieldMap,
    OptionSet,
    SetOverride,
    TasksDir,
    task_overrides,
)
from rmbench.cli.output import console
from rmbench.cli.scale_options import ExecutorOpt, RayAddressOpt, RayGpusOpt, ShardOpt, ShardsOpt
from rmbench.cli.vllm_options import (
    DataParallel,
    DistributedExecutor,
    GpuMemoryUtilization,
    PipelineParallel,
    TensorParallel,
)
from rmbench.config import (
    Aggregation,
    BackendName,
    Dtype,
    InconsistentPolicy,
    JudgeMode,
    Kind,
    ParserName,
    Policy,
    PrmFormat,
    PrmHead,
    Reduction,
    SwapPolicy,
    TruncationSide,
    Unfinished,
)
from rmbench.errors import UserError

MODEL = "Model & engine"
POLICIES = "Policies & statistics"
JUDGE = "Judge"
STEPS = "Process & critic"
OUTPUT = "Output"


def run(
    task: Annotated[str, typer.Option("--task", "-t", help="Task name (see 'rmbench list') or a task YAML file.",
                                      rich_help_panel=DATA_PANEL)],
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    data_file: DataFile = None,
    field: FieldMap = None,
    option: OptionSet = None,
    bundled: Annotated[bool, typer.Option("--bundled", help="Use the sample shipped with rmbench.",
                                          rich_help_panel=DATA_PANEL)] = False,
    limit: Annotated[Optional[int], typer.Option(help="At most N examples from each subset.",
                                                 rich_help_panel=DATA_PANEL)] = None,
    subset: Annotated[Optional[list[str]], typer.Option("--subset", help="Only these subsets.",
                                                        rich_help_panel=DATA_PANEL)] = None,
    set_: SetOverride = None,
    shard: ShardOpt = None,
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model", "-m",
            help="Local folder, Hub id\\[@revision], embedded:smollm2-135m-instruct, baseline:length or baseline:random"
            " (with --scores: a name for the scores).", rich_help_panel=MODEL,
        ),
    ] = None,
    kind: Annotated[
        Kind,
        typer.Option(
            help="What the model is; auto: the task's first kind (felm -> judge, processbench -> process, "
            "llmbar -> scalar).",
            rich_help_panel=MODEL,
        ),
    ] = "auto",
    ref_model: Annotated[Optional[str], typer.Option("--ref-model", help="Reference model for --kind implicit.",
                                                     rich_help_panel=MODEL)] = None,
    dtype: Annotated[Dtype, typer.Option(help="Weights dtype (auto = float32 on CPU).",
                                         rich_help_panel=MODEL)] = "auto",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N (auto: cuda when torch sees a GPU, else cpu).",
                                        rich_help_panel=MODEL)] = "auto",
    max_length: Annotated[
        Optional[int],
        typer.Option(help="Tokens per sequence (default: the model's own limit, from its config and tokenizer); "
                          "longer ones are cut and counted as truncated in the summary.", rich_help_panel=MODEL),
    ] = None,
    force_max_length: Annotated[
        bool, typer.Option("--force-max-length", help="Allow --max-length past the model's declared limit.",
                           rich_help_panel=MODEL)
    ] = False,
    allow_random_head: Annotated[
        bool,
        typer.Option("--allow-random-head", help="Run a reward model whose score head is random (tests, speed only).",
                     rich_help_panel=MODEL),
    ] = False,
    threads: Annotated[
        Optional[int],
        typer.Option(help="torch CPU threads (default: OMP_NUM_THREADS, else free physical cores; see README).",
                     rich_help_panel=MODEL),
    ] = None,
    truncation_side: Annotated[TruncationSide, typer.Option(
        help="left | right: which end of a too-long sequence is cut (process models always cut on the right).",
        rich_help_panel=MODEL)] = "left",
    token_budget: Annotated[str, typer.Option(
        help="Padded tokens per batch, or auto: probe the largest budget that fits in memory (halving from 65536 "
             "on out-of-memory; the chosen budget is recorded in run.json).", rich_help_panel=MODEL)] = "16384",
    max_batch_size: Annotated[int, typer.Option(help="Sequences per batch at most.", rich_help_panel=MODEL)] = 64,
    reduction: Annotated[Reduction, typer.Option(help="Likelihood reward: sum or mean of the response log-probs.",
                                                 rich_help_panel=MODEL)] = "sum",
    scores: Annotated[
        Optional[Path],
        typer.Option("--scores", help="Per-item scores computed elsewhere (jsonl/csv keyed by id) instead of a model.",
                     rich_help_panel=MODEL),
    ] = None,
    scores_by_order: Annotated[
        bool, typer.Option("--scores-by-order", help="Match --scores rows to the examples by order (count checked).",
                           rich_help_panel=MODEL)
    ] = False,
    backend: Annotated[BackendName, typer.Option(help="The engine for every kind (openai: an OpenAI-compatible server at --api-base); unsupported kind/backend pairs are refused (docs/backends.md).",
                                                 rich_help_panel=MODEL)] = "transformers",
    api_base: Annotated[Optional[str], typer.Option(help="--backend openai: server URL ending in /v1.",
                                                    rich_help_panel=MODEL)] = None,
    chunk_size: Annotated[
        Optional[int],
        typer.Option(help="Items scored between appends to items.jsonl (default 8 for transformers judges, else 64).",
                     rich_help_panel=MODEL),
    ] = None,
    tensor_parallel_size: TensorParallel = 1,
    pipeline_parallel_size: PipelineParallel = 1,
    data_parallel_size: DataParallel = 1,
    gpu_memory_utilization: GpuMemoryUtilization = None,
    distributed_executor_backend: DistributedExecutor = "auto",
    cache: Annotated[bool, typer.Option(
        "--cache/--no-cache", help="Reuse and store scores in the shared score cache ($RMBENCH_CACHE/scores; "
        "docs/cache.md); --no-cache neither reads nor writes it.", rich_help_panel=MODEL)] = True,
    seed: Annotated[int, typer.Option(help="Seed for every random choice: bootstrap resamples, baseline:random, "
                                           "judge position swaps and sampling.", rich_help_panel=POLICIES)] = 0,
    tie_policy: Annotated[Optional[Policy], typer.Option(help="How a tie is graded (default: the task's).",
                                                         rich_help_panel=POLICIES)] = None,
    invalid_policy: Annotated[Policy, typer.Option(help="How an invalid prediction (no score, unparseable verdict) is graded.", rich_help_panel=POLICIES)] = "wrong",
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per interval.", rich_help_panel=POLICIES)] = 2000,
    baselines: Annotated[bool, typer.Option(help="Also report the response-length baseline.",
                                            rich_help_panel=POLICIES)] = True,
    inconsistent_policy: Annotated[
        InconsistentPolicy, typer.Option(help="Judge, --swap both: how a pair whose two orders disagree is graded.",
                                         rich_help_panel=POLICIES)
    ] = "half",
    max_consecutive_errors: Annotated[
        int,
        typer.Option(help="Stop the run after N items in a row failed at the backend (server errors); 0: never.",
                     rich_help_panel=POLICIES),
    ] = 5,
    judge_mode: Annotated[
        JudgeMode, typer.Option(help="Judge: how items are asked (auto: by example kind).",
                                rich_help_panel=JUDGE)
    ] = "auto",
    swap: Annotated[SwapPolicy, typer.Option(help="Judge: pair orders shown (both, one random, or as given).",
                                             rich_help_panel=JUDGE)] = "both",
    prompt: Annotated[Optional[str], typer.Option(help="Judge: template name in prompts/ or a .j2 file.",
                                                  rich_help_panel=JUDGE)] = None,
    parser: Annotated[ParserName, typer.Option(help="Judge: verdict parsing.",
                                               rich_help_panel=JUDGE)] = "strict",
    unparseable: Annotated[
        Optional[str], typer.Option(help="Judge: wrong | half | exclude | retry:N (default: --invalid-policy).",
                                    rich_help_panel=JUDGE)
    ] = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="Judge: tokens per reply (default 32 or 512).",
                                                          rich_help_panel=JUDGE)] = None,
    judge_model: Annotated[Optional[str], typer.Option(
        help="RFEval: the model that judges the outputs (default: the model itself).", rich_help_panel=JUDGE)] = None,
    unfinished: Annotated[Unfinished, typer.Option(
        help="RFEval: skip or judge outputs cut at --max-new-tokens (the authors skip them).",
        rich_help_panel=JUDGE)] = "skip",
    step_separator: Annotated[str, typer.Option(
        help="Process: text after each step; escapes \\n \\t allowed (e.g. ' ки', '<extra_0>').",
        rich_help_panel=STEPS)] = "\\n\\n",
    step_tokens: Annotated[str, typer.Option(help="Process, causal LM: GOOD,BAD tokens read at each step.",
                                             rich_help_panel=STEPS)] = "+,-",
    prm_head: Annotated[PrmHead, typer.Option(help="Process: how step scores are read.",
                                              rich_help_panel=STEPS)] = "auto",
    prm_format: Annotated[PrmFormat, typer.Option(help="Process: plain text, or chat (problem as user turn, steps as reply).",
                                                  rich_help_panel=STEPS)] = "plain",
    aggregation: Annotated[Aggregation, typer.Option(
        help="Process: the solution score from its step scores.", rich_help_panel=STEPS)] = "min",
    threshold: Annotated[
        Optional[float], typer.Option(help="Process: fixed threshold; a step scored below it is an error (default 0.5).",
                                      rich_help_panel=STEPS)
    ] = None,
    threshold_from: Annotated[
        Optional[Path], typer.Option("--threshold-from", help="Process: tune the threshold on this earlier run (dev split).",
                                     rich_help_panel=STEPS)
    ] = None,
    threshold_split: Annotated[
        Optional[str], typer.Option("--threshold-split", help="Process: the split of --threshold-from to tune on.",
                                    rich_help_panel=STEPS)
    ] = None,
    critic_prompt: Annotated[str, typer.Option(help="Critic: prompt template name or file.",
                                               rich_help_panel=STEPS)] = "critic_first_error",
    critic_samples: Annotated[int, typer.Option(help="Critic: samples per item (majority vote when > 1).",
                                                rich_help_panel=STEPS)] = 1,
    critic_temperature: Annotated[float, typer.Option(help="Critic: sampling temperature when samples > 1.",
                                                      rich_help_panel=STEPS)] = 0.7,
    critic_max_new_tokens: Annotated[int, typer.Option(help="Critic: tokens generated per reply.",
                                                       rich_help_panel=STEPS)] = 512,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default runs/<task>/<model>-...).",
                                                rich_help_panel=OUTPUT)] = None,
    overwrite: Annotated[bool, typer.Option(help="Discard an existing run directory instead of resuming.",
                                            rich_help_panel=OUTPUT)] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar and no result table (files are still written).",
                                        rich_help_panel=OUTPUT)] = False,
    executor: ExecutorOpt = "local",
    shards: ShardsOpt = None,
    ray_num_gpus: RayGpusOpt = 0.0,
    ray_address: RayAddressOpt = None,
) -> None:
    """Score a task with a model (or --scores FILE); resumes an interrupted run in the same directory."""
    from rmbench.adapters.steps.config import unescape
    from rmbench.cli.progress import run_with_progress
    from rmbench.config import (
        CriticOptions,
        DataOptions,
        EngineOptions,
        ExecutorOptions,
        JudgeOptions,
        PolicyOptions,
        ProcessOptions,
        RunConfig,
        token_budget_option,
    )
    from rmbench.data.sources import resolve_data_dir
    from rmbench.shards.spec import parse_shard

    if scores is not None:
        kind = "precomputed"
        model = model or f"precomputed:{scores.stem}"
    elif scores_by_order:
        raise UserError("--scores-by-order needs --scores FILE")
    if model is None:
        raise UserError("missing option '--model' (or pass --scores FILE)")

    data = DataOptions(
        task=task, data_dir=resolve_data_dir(data_dir), tasks_dirs=tuple(tasks_dir or ()),
        overrides=task_overrides(data_file, field, option, set_), bundled=bundled, limit=limit,
        subsets=tuple(subset or ()), shard=parse_shard(shard) if shard is not None else None,
    )
    engine = EngineOptions(
        dtype=dtype, device=device, max_length=max_length, force_max_length=force_max_length,
        truncation_side=truncation_side, **token_budget_option(token_budget), max_batch_size=max_batch_size, threads=threads,
        backend=backend, api_base=api_base, allow_random_head=allow_random_head, chunk_size=chunk_size,
        tensor_parallel_size=tensor_parallel_size, pipeline_parallel_size=pipeline_parallel_size,
        data_parallel_size=data_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
        distributed_executor_backend=distributed_executor_backend,
        score_cache=cache,
    )
    policy = PolicyOptions(
        seed=seed, tie_policy=tie_policy, invalid_policy=invalid_policy, inconsistent_policy=inconsistent_policy,
        n_bootstrap=n_bootstrap, baselines=baselines, max_consecutive_errors=max_consecutive_errors,
    )
    judge = JudgeOptions(mode=judge_mode, swap=swap, prompt=prompt, parser=parser, unparseable=unparseable,
                         max_new_tokens=max_new_tokens, judge_model=judge_model, unfinished=unfinished)
    process = ProcessOptions(
        step_separator=unescape(step_separator), step_tokens=step_tokens, head=prm_head, format=prm_format,
        aggregation=aggregation, threshold=threshold, threshold_from=threshold_from, threshold_split=threshold_split,
    )
    critic = CriticOptions(prompt=critic_prompt, samples=critic_samples, temperature=critic_temperature,
                           max_new_tokens=critic_max_new_tokens)
    cfg = RunConfig(
        model=model, kind=kind, ref_model=ref_model, reduction=reduction, out=out, overwrite=overwrite, scores=scores,
        scores_by_order=scores_by_order, data=data, engine=engine, policy=policy, judge=judge, process=process,
        critic=critic, executor=ExecutorOptions(executor, shards, ray_num_gpus, ray_address),
    )
    run_with_progress(cfg, quiet)


def demo(
    limit: Annotated[Optional[int], typer.Option(help="At most N examples.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o")] = Path("runs/demo"),
) -> None:
    """The embedded default: SmolLM2-135M-Instruct as a likelihood reward on a bundled LLMBar sample."""
    from rmbench.cli.progress import run_with_progress
    from rmbench.config import DataOptions, RunConfig

    cfg = RunConfig(model="embedded:smollm2-135m-instruct", kind="likelihood", reduction="mean", out=out,
                    data=DataOptions(task="llmbar", bundled=True, limit=limit))
    run_with_progress(cfg, quiet=False)


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
    out = console()
    out.print(table)
    kinds = Table(title="model kinds")
    kinds.add_column("kind", no_wrap=True)
    kinds.add_column("what it scores", ratio=1)
    for k, d in MODEL_KINDS.items():
        kinds.add_row(k, d)
    out.print(kinds)


MODEL_KINDS = {
    "scalar": "sequence-classification reward model: one score per (prompt, response)",
    "likelihood": "causal LM: sum or mean log-probability of the response under the chat template",
    "implicit": "DPO implicit reward: policy minus --ref-model log-probabilities",
    "baseline": "baseline:length (longer wins) or baseline:random (seeded)",
    "process": "process reward model: a probability per step, all steps from one forward pass",
    "critic": "generative judge naming the earliest wrong step (\\boxed{k}); optional majority vote",
    "judge": "generative judge (--backend transformers|vllm|openai): pairwise verdicts in both orders, "
    "ratings, reference verification, best-of-N, FELM segment checks",
    "precomputed": "scores computed elsewhere: rmbench run --task T --scores FILE (jsonl/csv keyed by item id)",
    "claim-judge": "claim verifier: a generative judge says whether each claim is supported (with the task's "
    "evidence when it has some, else closed-book)",
    "nli": "claim verifier: an NLI sequence classifier (premise = evidence or response, hypothesis = claim)",
    "rfeval": "RFEval: the model answers, then continues injected flawed reasoning; a judge (--judge-model) "
    "rates stances and transitions -> RF score, coverage, accuracy",
    "faithfulness": "CoT faithfulness: answer hinted and unhinted prompts, then classify hint acknowledgement "
    "(regex, regex+LLM, LLM judge); --model none classifies your own traces by regex",
}


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

    task = load_task(task_or_file, tasks_dir or (), task_overrides(data_file, field, option, set_) or None)
    out = console()
    out.print(f"[green]ok[/green]: {task.path} (task '{task.spec.name}' v{task.spec.version}, {task.origin})")
    if load:
        from rmbench.data.examples import load_examples
        from rmbench.data.sources import resolve_data_dir

        exset = load_examples(task.spec, resolve_data_dir(data_dir))
        counts: dict[str, int] = {}
        for e in exset.examples:
            counts[e.subset] = counts.get(e.subset, 0) + 1
        out.print(
            f"[green]ok[/green]: {len(exset.examples)} examples from {exset.records_read} records "
            f"({exset.records_skipped} skipped); fingerprint {exset.fingerprint}"
        )
        for s, n in counts.items():
            out.print(f"  {s}: {n}")
