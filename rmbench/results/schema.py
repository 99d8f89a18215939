"""The run summary (``summary.json``) and leaderboard file as typed pydantic models, with JSON Schemas.

The models describe what the files hold; the files themselves are still written from plain dicts
(so their bytes do not change), and every dict is validated against its model before it is written
(:func:`check_summary`, :func:`check_leaderboard`) and when it is read back. Readers such as
``report.md`` use the typed fields (:class:`ModelInfo.chat_template_sha256`,
:class:`Block.truncated`) rather than guessing keys.

Blocks are *open*: a key the model does not name is kept as it is (new fields may be added within a
schema version, never removed or renamed). The JSON Schemas ship in the package
(``rmbench/schemas/*.schema.json``, :func:`shipped_schema`) and in ``docs/schemas/``;
``tests/test_schemas.py`` checks both equal :func:`json_schema` of the current models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rmbench.errors import UserError
from rmbench.grading.policies import InconsistentPolicy, Policy

SUMMARY_SCHEMA: Literal["rmbench.run-summary/1"] = "rmbench.run-summary/1"
LEADERBOARD_SCHEMA: Literal["rmbench.leaderboard/1"] = "rmbench.leaderboard/1"


class _Open(BaseModel):
    """A block whose further keys are kept as they are (fields may be added within a version)."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------------ summary


class Estimate(_Open):
    """A statistic with its interval (fractions, not percent); ``None`` where undefined."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    confidence: float | None = None
    method: str | None = None
    n_resamples: int | None = None
    excluded: int | None = Field(None, description="items left out of the denominator (metric undefined)")
    note: str | None = None


class Block(_Open):
    """The numbers of one item set: overall, a subset, or a section pooled over its subsets' items."""

    n_items: int
    n_clusters: int
    ties: int
    invalid: int
    truncated: int = Field(0, description="items with a sequence cut at the maximum length")
    truncated_sequences: int = Field(0, description="sequences cut at the maximum length")
    metrics: dict[str, Estimate]
    baselines: dict[str, dict[str, Estimate]] | None = None


class Section(_Open):
    """A named group of subsets: pooled items (a :class:`Block` plus ``subsets``), a weighted mean of
    subset means (``weighting: subset_weights``), or an unweighted mean of subsets (no ``n_items``)."""

    subsets: list[str] | None = None
    n_items: int | None = None
    metrics: dict[str, Estimate]
    score: dict[str, Any] | None = None


class Results(_Open):
    primary_metric: str
    report_metrics: list[str] = []
    overall: Block
    subsets: dict[str, Block]
    sections: dict[str, Section] | None = None
    truncation_side: str | None = None
    tokens_scored: int = 0
    warnings: list[str] = []
    errors: dict[str, Any] = {}
    verdict_rules: dict[str, int] | None = None


class TaskInfo(_Open):
    name: str
    version: int
    example_kind: str | None = None
    spec_hash: str | None = None
    scoring: dict[str, Any] = {}
    notes: str | None = None


class DataInfo(_Open):
    n_items: int
    fingerprint: str
    source: dict[str, Any] | None = None
    limit: int | None = None
    subsets: list[str] | None = None


class ModelInfo(_Open):
    """How the model ran, as the backend and adapter described it."""

    id: str | None = None
    kind: str | None = None
    dtype: str | None = None
    device: str | None = None
    max_length: int | None = None
    truncation_side: str | None = None
    chat_template_sha256: str | None = None
    chat_template_hash: str | None = Field(None, description="older runs' name of chat_template_sha256")
    process: dict[str, Any] | None = None
    critic: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None
    setup: list[dict[str, str]] | None = Field(
        None, description="set-up checks recorded at load time (name, status, value, advice); see docs/doctor.md")

    @property
    def chat_template(self) -> str | None:
        """The chat template's hash under either name."""
        return self.chat_template_sha256 or self.chat_template_hash


class RunSettings(_Open):
    """The run's options that shape its numbers (the whole ``config`` block is kept)."""

    kind: str
    seed: int
    n_bootstrap: int
    confidence: float
    tie_policy: Policy | None = None
    invalid_policy: Policy = "wrong"
    inconsistent_policy: InconsistentPolicy | None = None
    model: str | None = None
    ref_model: str | None = None


class RunSummary(_Open):
    """``summary.json``: a pure function of ``run.json`` and ``items.jsonl`` (``timing`` aside)."""

    schema_: Literal["rmbench.run-summary/1"] = Field(SUMMARY_SCHEMA, alias="schema")
    task: TaskInfo
    data: DataInfo
    model: ModelInfo
    config: RunSettings
    environment: dict[str, Any]
    results: Results
    timing: dict[str, Any] = {}

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -------------------------------------------------------------------------------- leaderboard


class EntryBlock(_Open):
    n_items: int
    metrics: dict[str, Estimate]


class EntrySection(_Open):
    subsets: list[str] = []
    n_items: int | None = Field(None, description="None for a section that is a mean of its subsets")
    metrics: dict[str, Estimate]


class LeaderboardEntry(_Open):
    name: str
    rank: int
    rank_range: list[int] = Field(min_length=2, max_length=2, description="[best, worst] rank given the noise")
    tied_with: list[str]
    run_dir: str
    model: dict[str, Any]
    complete: bool
    config: dict[str, Any]
    overall: EntryBlock
    subsets: dict[str, EntryBlock]
    manifest: dict[str, str] = Field(description="sha256 of the run's run.json and items.jsonl")
    sections: dict[str, EntrySection] | None = Field(None, description="the task's sections (scoring.sections)")
    baselines: dict[str, dict[str, Estimate]] | None = Field(None, description="overall estimates of each baseline")
    provenance: dict[str, str] | None = Field(
        None, description="model weights / tokenizer / chat-template hashes, revision, rmbench version of the run")


class LeaderboardTask(_Open):
    name: str
    version: int
    example_kind: str | None = None
    primary_metric: str
    subsets: list[str] = []


class Ranking(_Open):
    method: str
    metric: str
    seed: int
    n_resamples: int
    confidence: float


class LeaderboardFile(_Open):
    """``leaderboards/<task>.json`` (``docs/leaderboard.md``)."""

    schema_: Literal["rmbench.leaderboard/1"] = Field(LEADERBOARD_SCHEMA, alias="schema")
    generated_by: str
    task: LeaderboardTask
    data_fingerprint: str
    ranking: Ranking
    entries: list[LeaderboardEntry]

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---------------------------------------------------------------------------------- checking

MODELS: dict[str, type[BaseModel]] = {"run-summary": RunSummary, "leaderboard": LeaderboardFile}
"""Schema file stem -> model (``rmbench/schemas/<stem>.schema.json``)."""


def _validated(model: type[BaseModel], doc: Mapping[str, Any], where: str) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UserError(f"{where}: field '{field}': {first['msg']}{more}") from None


def check_summary(summary: Mapping[str, Any], where: str = "summary") -> RunSummary:
    """The typed view of a summary dict; :class:`UserError` naming the first bad field otherwise."""
    return _validated(RunSummary, summary, where)  # type: ignore[no-any-return]


def check_leaderboard(doc: Mapping[str, Any], where: str = "leaderboard") -> LeaderboardFile:
    """The typed view of a leaderboard dict; :class:`UserError` naming the first bad field otherwise."""
    return _validated(LeaderboardFile, doc, where)  # type: ignore[no-any-return]


def json_schema(stem: str) -> dict[str, Any]:
    """The JSON Schema of a model as generated now (``stem``: a key of :data:`MODELS`)."""
    model = MODELS[stem]
    schema = model.model_json_schema(by_alias=True)
    schema["$id"] = f"https://rmbench.invalid/schemas/{stem}.schema.json"
    return schema


def render_schema(stem: str) -> str:
    """The text of a schema file (what ``rmbench/schemas`` and ``docs/schemas`` hold)."""
    return json.dumps(json_schema(stem), indent=2, sort_keys=True) + "\n"


def shipped_schema(stem: str) -> dict[str, Any]:
    """The JSON Schema shipped in the installed package."""
    text = resources.files("rmbench").joinpath("schemas", f"{stem}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
