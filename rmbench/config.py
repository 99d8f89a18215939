"""The options of ``rmbench run`` as a few typed groups, each checked once, when it is built.

=====================  ===============================================================================
``RunConfig``          the evaluator (``model``, ``kind``, ``ref_model``, ``reduction``), where results
                       go (``out``, ``overwrite``), bring-your-own ``scores``, and the groups below
``DataOptions``        which task and which items (``--task``, ``--data-dir``, ``--limit``, ...)
``EngineOptions``      how the model runs: dtype, device, lengths, batching, backend, chunks
``PolicyOptions``      grading policies and statistics (seed, tie/invalid policies, bootstrap)
``JudgeOptions``       ``--kind judge``: mode, pair orders, prompt, parser
``ProcessOptions``     ``--kind process``: how steps are marked and read, the threshold
``CriticOptions``      ``--kind critic``: prompt, samples, temperature
``ExecutorOptions``    where it runs: in this process, or as shards on Ray (``--executor ray``)
=====================  ===============================================================================

A closed set of values is a ``Literal`` type, and the check reads the allowed values from the type
(:func:`check_options`), so each list is written once. Every check runs before any data is read or
model loaded, so a typo costs a second, not a run (and never leaves a run that cannot resume). Errors
name the command-line flag: ``--n-bootstrap 0: must be at least 1``.

Names (task, model, prompt template) and ``--unparseable`` are checked where they are resolved. This
module imports nothing heavy: the CLI reads its ``Literal`` types to build ``rmbench run --help``.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from rmbench.backends.vllm_config import ExecutorBackend, VLLMParallel
from rmbench.errors import UserError
from rmbench.shards.spec import Shard, check_shard

Kind = Literal[
    "auto", "scalar", "likelihood", "implicit", "baseline", "process", "critic", "judge", "precomputed",
    "claim-judge", "nli", "rfeval", "faithfulness",  # claim verifiers, RFEval, CoT faithfulness
]
Unfinished = Literal["skip", "judge"]
Policy = Literal["wrong", "half", "exclude"]
InconsistentPolicy = Literal["half", "wrong"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
TruncationSide = Literal["left", "right"]
Reduction = Literal["sum", "mean"]
BackendName = Literal["transformers", "vllm", "openai"]
JudgeMode = Literal["auto", "pairwise", "rating", "verify", "listwise", "segments"]
SwapPolicy = Literal["both", "random", "none"]
ParserName = Literal["strict", "lenient"]
PrmHead = Literal["auto", "causal-lm", "token-cls"]
PrmFormat = Literal["plain", "chat"]
Aggregation = Literal["min", "last", "product", "mean"]
Executor = Literal["local", "ray"]

KINDS: tuple[Kind, ...] = get_args(Kind)
POLICIES: tuple[Policy, ...] = get_args(Policy)
_Choice = TypeVar("_Choice", bound=str)
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5  # rmbench.results.item_errors.DEFAULT_MAX_CONSECUTIVE


def _option(default: Any = None, *, flag: str | None = None, at_least: int | None = None,
            factory: Any = None) -> Any:
    """A dataclass field with the metadata :func:`check_options` reads: the command-line ``flag``
    (default ``--`` + the field name with dashes) and the smallest allowed whole number."""
    metadata = {"flag": flag, "at_least": at_least}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DataOptions:
    """Which task, which data, which items."""

    task: str
    data_dir: Path | None = None
    tasks_dirs: tuple[Path, ...] = _option((), flag="--tasks-dir")
    # --data-file / --field / --option / --set, as a nested mapping over the task YAML
    overrides: Mapping[str, Any] = _option(factory=dict)
    bundled: bool = False  # the sample shipped with rmbench
    limit: int | None = _option(None, at_least=1)  # at most this many examples per subset
    subsets: tuple[str, ...] = _option((), flag="--subset")
    shard: Shard | None = None  # --shard i/n: score only this slice of the selection (rmbench.shards)

    def __post_init__(self) -> None:
        if not self.task:
            raise UserError("--task: empty task name")
        check_options(self)
        if self.shard is not None:
            object.__setattr__(self, "shard", check_shard(self.shard))  # "i/n" or (i, n) -> Shard


@dataclass(frozen=True)
class EngineOptions:
    """How the model runs. ``dtype``, ``max_length`` and ``truncation_side`` decide results (they are part
    of the run's identity); the others only decide speed and memory."""

    dtype: Dtype = "auto"
    device: str = "auto"
    max_length: int | None = _option(None, at_least=1)  # None: the model's own limit
    force_max_length: bool = False
    truncation_side: TruncationSide = "left"
    token_budget: int = _option(16384, at_least=1)  # padded tokens per batch (with token_budget_auto: the probe's start)
    token_budget_auto: bool = _option(False, flag="--token-budget")  # --token-budget auto: probe what fits
    max_batch_size: int = _option(64, at_least=1)
    threads: int | None = _option(None, at_least=1)  # None: rmbench.backends.threads
    backend: BackendName = "transformers"
    api_base: str | None = None  # --backend openai: the server's /v1 URL
    allow_random_head: bool = False
    # items scored between two appends to items.jsonl; None: rmbench.runner.chunk_size_for
    chunk_size: int | None = _option(None, at_least=1)
    # --backend vllm only (rmbench.backends.vllm_config.VLLMParallel); the lengths are max_length
    tensor_parallel_size: int = _option(1, at_least=1)
    pipeline_parallel_size: int = _option(1, at_least=1)
    data_parallel_size: int = _option(1, at_least=1)
    gpu_memory_utilization: float | None = None  # None: vLLM's default (0.9)
    distributed_executor_backend: ExecutorBackend = "auto"
    # reuse and store scores in the shared score cache (rmbench.cache); False: --no-cache
    score_cache: bool = _option(True, flag="--cache/--no-cache")

    def __post_init__(self) -> None:
        check_options(self)
        parallel = self.vllm_parallel()  # checks the values
        if self.backend != "vllm" and parallel != VLLMParallel():
            changed = [f.name for f in fields(parallel) if getattr(parallel, f.name) != f.default]
            raise UserError(f"--{changed[0].replace('_', '-')} applies to --backend vllm only (this run uses "
                            f"--backend {self.backend})")

    def vllm_parallel(self) -> VLLMParallel:
        """The vLLM parallelism options as :class:`rmbench.backends.vllm_config.VLLMParallel` (checked)."""
        return VLLMParallel(
            tensor_parallel_size=self.tensor_parallel_size, pipeline_parallel_size=self.pipeline_parallel_size,
            data_parallel_size=self.data_parallel_size, gpu_memory_utilization=self.gpu_memory_utilization,
            distributed_executor_backend=self.distributed_executor_backend,
        )


@dataclass(frozen=True)
class PolicyOptions:
    """How items are graded and the summary computed. ``n_bootstrap`` and ``confidence`` are statistics
    settings: a run may be resumed or re-summarised under other values."""

    seed: int = _option(0, at_least=0)
    tie_policy: Policy | None = None  # None: the task's default
    invalid_policy: Policy = "wrong"
    inconsistent_policy: InconsistentPolicy = "half"  # judges, --swap both: orders disagree
    n_bootstrap: int = _option(2000, at_least=1)
    confidence: float = 0.95
    baselines: bool = True  # also grade the response-length baseline
    # backend errors (rmbench.results.item_errors): stop after this many failed items in a row (0: never)
    max_consecutive_errors: int = _option(DEFAULT_MAX_CONSECUTIVE_ERRORS, at_least=0)

    def __post_init__(self) -> None:
        check_options(self)
        c = self.confidence
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1:
            raise UserError(f"--confidence {c!r}: must be between 0 and 1 (e.g. 0.95)")

    def grading_tie_policy(self, task_default: Policy) -> Policy:
        return self.tie_policy or task_default


@dataclass(frozen=True)
class JudgeOptions:
    """Generative judges (:mod:`rmbench.adapters.judge.config`): how the judge is asked and read."""

    mode: JudgeMode = _option("auto", flag="--judge-mode")
    swap: SwapPolicy = "both"
    prompt: str | None = None  # template name in prompts/ or a file; None: the mode's default
    parser: ParserName = "strict"
    unparseable: str | None = None  # wrong | half | exclude | retry:N; None: the invalid policy
    max_new_tokens: int | None = _option(None, at_least=1)
    # RFEval (rmbench.adapters.rfeval.config): the judge of the model's outputs (None: the model itself),
    # and whether outputs cut at max_new_tokens are judged (the authors skip them)
    judge_model: str | None = None
    unfinished: Unfinished = "skip"

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class ProcessOptions:
    """Process reward models (:mod:`rmbench.adapters.steps.config`): how steps are marked and read."""

    step_separator: str = "\n\n"
    step_tokens: str = "+,-"  # GOOD,BAD tokens read at each step (causal LM heads)
    head: PrmHead = _option("auto", flag="--prm-head")
    format: PrmFormat = _option("plain", flag="--prm-format")
    aggregation: Aggregation = "min"
    threshold: float | None = None  # None: 0.5, unless tuned with threshold_from
    threshold_from: Path | None = None
    threshold_split: str | None = None

    def __post_init__(self) -> None:
        check_options(self)
        t = self.threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
            raise UserError(f"--threshold {t!r}: must be a finite number")


@dataclass(frozen=True)
class CriticOptions:
    """Critics (:mod:`rmbench.adapters.steps.critic`): generative judges naming the first wrong step."""

    prompt: str = _option("critic_first_error", flag="--critic-prompt")
    samples: int = _option(1, flag="--critic-samples", at_least=1)  # majority vote when > 1
    temperature: float = 0.7
    max_new_tokens: int = _option(512, flag="--critic-max-new-tokens", at_least=1)

    def __post_init__(self) -> None:
        check_options(self)
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
            raise UserError(f"--critic-temperature {t!r}: must be 0 or more")


@dataclass(frozen=True)
class ExecutorOptions:
    """Where the run's items are scored (:mod:`rmbench.executors`); no part of the run's identity."""

    executor: Executor = "local"
    shards: int | None = _option(None, at_least=1)  # ray: shards fanned out (None: the workers' count, or 2)
    ray_num_gpus: float = 0.0  # GPUs per model replica (one replica per shard task)
    ray_address: str | None = None  # None: a running cluster if there is one, else a local one

    def __post_init__(self) -> None:
        check_options(self)
        g = self.ray_num_gpus
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not g >= 0:
            raise UserError(f"--ray-num-gpus {g!r}: must be 0 or more")
        if self.executor != "ray" and (self.shards is not None or g or self.ray_address):
            raise UserError("--shards, --ray-num-gpus and --ray-address need --executor ray")


@dataclass(frozen=True)
class RunConfig:
    """Everything ``rmbench run`` needs. The evaluator fields, ``engine``'s dtype/max_length/truncation
    side, the options of ``kind`` and ``policy`` decide item results (see :mod:`rmbench.results.manifest`)."""

    model: str
    data: DataOptions
    kind: Kind = "scalar"
    ref_model: str | None = None  # --kind implicit: the reference model
    reduction: Reduction = "sum"  # --kind likelihood: sum or mean of response log-probs
    out: Path | None = None  # None: rmbench.runner.default_run_dir
    overwrite: bool = False
    scores: Path | None = None  # per-item scores computed elsewhere (rmbench.adapters.precomputed)
    scores_by_order: bool = False
    engine: EngineOptions = field(default_factory=EngineOptions)
    policy: PolicyOptions = field(default_factory=PolicyOptions)
    judge: JudgeOptions = field(default_factory=JudgeOptions)
    process: ProcessOptions = field(default_factory=ProcessOptions)
    critic: CriticOptions = field(default_factory=CriticOptions)
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)

    def __post_init__(self) -> None:
        if not self.model:
            raise UserError("--model: empty model name")
        check_options(self)
        if self.executor.executor == "ray" and self.data.shard is not None:
            raise UserError(f"--shard {self.data.shard} with --executor ray: Ray splits the run into shards "
                            "itself (--shards N)")

    @property
    def task(self) -> str:
        return self.data.task

    @classmethod
    def from_flat(cls, **options: Any) -> RunConfig:
        """Build from the flat option names of rmbench before the groups (``task=``, ``out_dir=``,
        ``judge_mode=``, ``critic_samples=``, ...; :data:`FLAT_NAMES`), e.g. in tests and scripts."""
        grouped: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
        top: dict[str, Any] = {}
        for name, value in options.items():
            if name not in FLAT_NAMES:
                raise TypeError(f"RunConfig.from_flat() got an unexpected option {name!r}")
            group, key = FLAT_NAMES[name]
            (grouped[group] if group else top)[key] = value
        groups = {name: _GROUPS[name](**values) for name, values in grouped.items() if values or name == "data"}
        return cls(**top, **groups)


_GROUPS: dict[str, Any] = {
    "data": DataOptions, "engine": EngineOptions, "policy": PolicyOptions,
    "judge": JudgeOptions, "process": ProcessOptions, "critic": CriticOptions, "executor": ExecutorOptions,
}  # fmt: skip
_RENAMED = {
    "task_overrides": ("data", "overrides"), "use_bundled": ("data", "bundled"),
    "out_dir": ("", "out"), "scores_file": ("", "scores"),
    "judge_mode": ("judge", "mode"), "prm_head": ("process", "head"), "prm_format": ("process", "format"),
    "critic_prompt": ("critic", "prompt"), "critic_samples": ("critic", "samples"),
    "critic_temperature": ("critic", "temperature"), "critic_max_new_tokens": ("critic", "max_new_tokens"),
}  # fmt: skip


def _flat_names() -> dict[str, tuple[str, str]]:
    """flat option name -> (the group's field in RunConfig, or "" for RunConfig itself; field name)."""
    names = {f.name: ("", f.name) for f in fields(RunConfig) if f.name not in _GROUPS}
    for group in ("data", "engine", "policy", "judge", "process", "executor"):
        names.update({f.name: (group, f.name) for f in fields(_GROUPS[group])})
    for grouped_name in ("out", "scores", "overrides", "bundled", "mode", "head", "format"):
        del names[grouped_name]  # spelled out_dir, scores_file, task_overrides, use_bundled, judge_mode, prm_*
    return {**names, **_RENAMED}


FLAT_NAMES = _flat_names()


# ------------------------------------------------------------------ the checks


def check_options(options: Any) -> None:
    """Raise :class:`UserError` naming the first option of a dataclass of options outside its type:
    a ``Literal`` value not in the literal, a whole number below its field's ``at_least``."""
    hints = get_type_hints(type(options))
    for f in fields(options):
        value = getattr(options, f.name)
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        choices, optional = _literal_values(hints[f.name])
        if value is None and optional:
            continue
        if choices and value not in choices:
            raise UserError(f"{flag} '{value}': expected one of {', '.join(map(str, choices))}")
        low = f.metadata.get("at_least")
        if low is not None:
            _check_int(flag, value, low)


AUTO_BUDGET_START = 1 << 16  # rmbench.backends.transformers.auto_budget.AUTO_START


def token_budget_option(text: str) -> dict[str, Any]:
    """``--token-budget``: a whole number of tokens, or ``auto`` (probe from :data:`AUTO_BUDGET_START`),
    as the ``EngineOptions`` keywords ``token_budget`` and ``token_budget_auto``.

    >>> token_budget_option("auto")
    {'token_budget': 65536, 'token_budget_auto': True}
    >>> token_budget_option("4096")
    {'token_budget': 4096, 'token_budget_auto': False}
    """
    if text.strip().lower() == "auto":
        return {"token_budget": AUTO_BUDGET_START, "token_budget_auto": True}
    try:
        return {"token_budget": int(text), "token_budget_auto": False}
    except ValueError:
        raise UserError(f"--token-budget {text!r}: expected a whole number of tokens or auto") from None


def as_choice(value: str, allowed: tuple[_Choice, ...], flag: str) -> _Choice:
    """``value`` as one of ``allowed`` (e.g. :data:`KINDS`, typed :data:`Kind`), or a :class:`UserError`."""
    for choice in allowed:
        if choice == value:
            return choice
    raise UserError(f"{flag} '{value}': expected one of {', '.join(allowed)}")


def _check_int(flag: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{flag} {value!r}: expected a whole number")
    if value < low:
        raise UserError(f"{flag} {value}: must be at least {low}")


def _literal_values(hint: Any) -> tuple[tuple[Any, ...], bool]:
    """(the values of a ``Literal`` or optional ``Literal`` type, or (); whether None is allowed)."""
    if get_origin(hint) is Literal:
        return get_args(hint), False
    if get_origin(hint) in (Union, types.UnionType):
        members = get_args(hint)
        optional = type(None) in members
        literals = [m for m in members if get_origin(m) is Literal]
        return (get_args(literals[0]) if literals else ()), optional
    return (), False
