"""Backends know how a model runs (device, dtype, batching, engine) and nothing about tasks.

Each backend is the only module that imports its engine (torch/transformers, vllm, an HTTP client).
A backend offers a few batched methods and may refuse one with :class:`rmbench.errors.BackendRefused`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


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


class GenerationBackend(Protocol):
    """What judge and critic adapters need from any backend (transformers, vLLM, OpenAI-compatible)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    def describe(self) -> dict[str, Any]: ...
