"""Backends know how a model runs (device, dtype, batching, engine) and nothing about tasks.

Each backend is the only module that imports its engine (torch/transformers, vllm, an HTTP client).
Every backend follows ONE interface, :class:`Backend`: a ``name``, the set of :data:`Capability`
values it offers (``capabilities``), ``describe()``, and the batched methods of those capabilities:

========================  =============================================================================
capability                methods
========================  =============================================================================
``sequence_scores``       ``sequence_scores(seqs)``, ``sequence_scores_grouped(groups)``; ``tokenizer``, ``max_length``
``token_logprobs``        ``token_logprobs(seqs, starts)``, ``token_logprobs_grouped(groups, starts)``; ``tokenizer``, ``max_length``
``position_scores``       ``position_logits(seqs, positions, token_ids, head)``, ``resolve_position_head(head)``; ``tokenizer``
``generation``            ``generate(requests)`` (chat requests; the backend applies the chat template)
========================  =============================================================================

Backends that load weights per capability also offer ``prepare(capability)``. An adapter calls
:func:`require` for what it needs; a backend without it is refused with :class:`BackendRefused`
naming the backend and the capability, never run on another engine. Which (kind, backend) pairs
exist is one table, :mod:`rmbench.adapters.kinds`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from rmbench.errors import BackendRefused

Capability = Literal["sequence_scores", "token_logprobs", "position_scores", "generation"]
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)

CAPABILITY_MEANING: dict[Capability, str] = {
    "sequence_scores": "score sequences with a reward-model head",
    "token_logprobs": "give log-probabilities of given tokens",
    "position_scores": "read logits at chosen token positions",
    "generation": "generate text",
}
"""What a backend with the capability can do (completes "the X backend cannot ...")."""


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion to produce. Backends apply the model's chat template themselves.

    ``choices``: candidate continuations (e.g. ``("A", "B")`` or ``("YES", "NO")``) whose
    log-probabilities at the first generated position should be reported when the backend can
    (``Generation.choice_logprobs``), so verdict probabilities are stored beside the text.
    ``temperature == 0`` means greedy; ``seed`` makes sampling reproducible where supported.
    ``assistant_prefix``: text that starts the assistant's reply, appended after the rendered chat
    template (``add_generation_prompt``) so the model continues it (RFEval's injected reasoning);
    the generated text excludes it. A backend that cannot continue a reply refuses a non-empty one.
    """

    messages: tuple[Mapping[str, str], ...]
    max_new_tokens: int = 512
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None
    choices: tuple[str, ...] = ()
    assistant_prefix: str = ""


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    choice_logprobs: Mapping[str, float] | None = None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """What every backend has; the methods of each capability are listed in the module docstring."""

    name: str
    capabilities: frozenset[Capability]

    def describe(self) -> dict[str, Any]: ...


class GenerationBackend(Backend, Protocol):
    """A backend with the ``generation`` capability (what judge and critic adapters use)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...


class ScoringBackend(Backend, Protocol):
    """A backend with ``sequence_scores`` (what the scalar adapter uses)."""

    @property
    def tokenizer(self) -> Any: ...

    @property
    def max_length(self) -> int: ...

    def prepare(self, capability: Capability) -> None: ...

    def sequence_scores_grouped(self, groups: Sequence[Sequence[Sequence[int]]]) -> list[list[float]]: ...


class LogprobBackend(Backend, Protocol):
    """A backend with ``token_logprobs`` (what the likelihood adapters use)."""

    @property
    def tokenizer(self) -> Any: ...

    @property
    def max_length(self) -> int: ...

    def prepare(self, capability: Capability) -> None: ...

    def token_logprobs_grouped(
        self, groups: Sequence[Sequence[Sequence[int]]], starts: Sequence[Sequence[int]]
    ) -> list[list[list[float]]]: ...


class PositionBackend(Backend, Protocol):
    """A backend with ``position_scores`` (what the process adapter uses); arrays are numpy."""

    @property
    def tokenizer(self) -> Any: ...

    def position_logits(
        self, seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
        token_ids: Sequence[int] | None = None, head: str = "causal-lm",
    ) -> list[Any]: ...

    def resolve_position_head(self, head: str) -> str: ...


def require(backend: Any, capability: Capability, *, needed_by: str = "") -> None:
    """Raise :class:`BackendRefused` unless ``backend`` declares ``capability``.

    >>> class Chat:
    ...     name, capabilities = "openai", frozenset({"generation"})
    >>> require(Chat(), "generation")
    >>> require(Chat(), "token_logprobs", needed_by="--kind likelihood")
    Traceback (most recent call last):
    rmbench.errors.BackendRefused: the openai backend cannot give log-probabilities of given tokens (token_logprobs), which --kind likelihood needs; it offers: generation
    """
    offered = frozenset(getattr(backend, "capabilities", frozenset()))
    if capability in offered:
        return
    name = getattr(backend, "name", type(backend).__name__)
    raise BackendRefused(
        f"the {name} backend cannot {CAPABILITY_MEANING[capability]} ({capability}), which "
        f"{needed_by or 'this evaluator'} needs; it offers: {', '.join(c for c in CAPABILITIES if c in offered) or 'nothing'}",
        hint="docs/backends.md lists the model kinds each backend runs",
    )
