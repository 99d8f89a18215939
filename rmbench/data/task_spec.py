"""What a task file may say: the pydantic models of a task's YAML (source, fields, scoring, aggregates).

Loading, discovery and the error messages that name a file's line are in :mod:`rmbench.data.task`,
checks across keys in :mod:`rmbench.data.task_checks`; both import this module, never the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from rmbench.datatypes import ExampleKind
from rmbench.grading.policies import DEFAULT_TIE_POLICY, Policy
from rmbench.results.aggregates import AggregateKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Strict):
    """A Hugging Face dataset, loaded with ``datasets.load_dataset`` (the path for users with Hub access)."""

    path: str
    revision: str = Field(description="commit sha or tag; pin it so results are reproducible")
    name: str | None = None
    split: str = "test"
    # subset label -> {"name": config, "split": split}; when set, each subset is loaded separately.
    subsets: dict[str, dict[str, str]] | None = None


class LocalSource(_Strict):
    """Upstream files under the data directory (``--data-dir`` / ``RMBENCH_DATA_DIR``)."""

    # subset label -> relative path (or list of paths); or a plain list when subsets come from a field.
    files: dict[str, str | list[str]] | list[str]
    format: Literal["json", "jsonl", "csv", "parquet"] | None = None
    # Text encoding of json/jsonl/csv files (default UTF-8; a byte-order mark always wins), e.g. latin-1.
    encoding: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        from rmbench.data.files import check_encoding

        return None if v is None else check_encoding(v)


class SourceSpec(_Strict):
    hub: HubSource | None = None
    local: LocalSource | None = None
    # Files shipped inside the rmbench package (permissively licensed samples), relative to rmbench/samples.
    bundled: LocalSource | None = None


class AggregateSpec(_Strict):
    """A derived metric computed from per-item metrics (see :mod:`rmbench.results.aggregates`)."""

    kind: AggregateKind
    of: list[str] = Field(min_length=1)
    # weighted_sum only: one weight per metric in 'of' (value = sum of weight * mean of metric).
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _arity(self) -> AggregateSpec:
        from rmbench.results.aggregates import ARITY, check_weights

        n = ARITY[self.kind]
        if n is not None and len(self.of) != n:
            raise ValueError(f"kind '{self.kind}' takes {n} metrics in 'of', got {len(self.of)}")
        check_weights(self.kind, self.of, self.weights)
        return self


class ScoringSpec(_Strict):
    """How per-item outcomes are decided and summarised; recorded verbatim in the run summary."""

    # A tie (equal scores) counts as wrong (RewardBench's convention), half a point, or is excluded
    # from the denominator. Tie counts are always reported.
    tie_policy: Policy = DEFAULT_TIE_POLICY
    primary_metric: str = "accuracy"
    # Named groups of subsets reported as sections (e.g. RewardBench's Chat / Chat Hard / Safety).
    sections: dict[str, list[str]] = Field(default_factory=dict)
    # How a section is computed from its subsets: pooled over items, or the unweighted mean of subsets.
    section_weighting: Literal["items", "subsets"] = "items"
    # Optional subset -> weight. A section whose subsets all have one is the weighted mean of its subset
    # means (upstream RewardBench's EXAMPLE_COUNTS), with a cluster-bootstrap CI; this overrides
    # section_weighting for that section. A section may not mix weighted and unweighted subsets.
    subset_weights: dict[str, float] = Field(default_factory=dict)
    # Optional subset -> metric for sections that are a mean of subsets (section_weighting 'subsets'):
    # such a section also gets a 'score', the mean over its subsets of this metric where named and the
    # primary metric elsewhere (RewardBench 2's leaderboard: accuracy, but the Ties score for Ties).
    subset_metrics: dict[str, str] = Field(default_factory=dict)
    # Convenience headline: unweighted mean of the listed metrics (e.g. RM-Bench hard/normal/easy).
    report_metrics: list[str] = Field(default_factory=list)
    # Derived metrics (harmonic means, F1 from per-item counts, ...), bootstrapped as a whole.
    aggregates: dict[str, AggregateSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _subset_weights(self) -> ScoringSpec:
        bad = {s: w for s, w in self.subset_weights.items() if not (w > 0 and w < float("inf"))}
        if bad:
            raise ValueError(f"subset_weights must be positive finite numbers, got {bad}")
        in_sections = {s for members in self.sections.values() for s in members}
        unused = sorted(set(self.subset_weights) - in_sections)
        if unused:
            raise ValueError(f"subset_weights name subsets that are in no section: {', '.join(unused)}")
        for name, members in self.sections.items():
            weighted = [s for s in members if s in self.subset_weights]
            if weighted and len(weighted) != len(members):
                missing = ", ".join(s for s in members if s not in self.subset_weights)
                raise ValueError(f"section '{name}' has subset_weights for some subsets but not for: {missing}")
        if self.subset_metrics and self.section_weighting != "subsets":
            raise ValueError("subset_metrics needs section_weighting: subsets (a section's score is a mean of subsets)")
        unused = sorted(set(self.subset_metrics) - in_sections)
        if unused:
            raise ValueError(f"subset_metrics name subsets that are in no section: {', '.join(unused)}")
        return self


class TaskSpec(_Strict):
    name: str
    version: int = Field(ge=1)
    description: str
    example_kind: ExampleKind
    source: SourceSpec
    converter: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    subsets: list[str] | None = None
    scoring: ScoringSpec = Field(default_factory=ScoringSpec)
    model_kinds: list[str] = Field(default_factory=lambda: ["scalar", "likelihood", "implicit", "baseline"])
    citation: str | None = None
    homepage: str | None = None
    license: str | None = None
    notes: str | None = None
    # The folder of the task file (set by parse_task_file): a converter module there is importable.
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        """The folder of the YAML file this spec was read from, if any."""
        return self._folder

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        # The name becomes part of paths (runs/<task>/..., leaderboards/<task>.json): a safe word only.
        from rmbench.names import name_problem

        problem = name_problem(v)
        if problem:
            raise ValueError(f"task name {problem}; use '-' instead of spaces")
        return v
