"""Critic mode: a generative judge reads the numbered steps and names the earliest wrong one.

The prompt (``prompts/critic_first_error.j2`` by default, loaded with :mod:`rmbench.adapters.judge.prompts`) shows
the problem and the steps as ``<paragraph_0>...</paragraph_0>``, ``<paragraph_1>...`` and asks for
the index of the earliest wrong paragraph, or ``-1`` when all are right, in a final ``\\boxed{k}``.

Parsing is strict (:func:`parse_first_error`): the **last** ``\\boxed{...}`` of the reply must hold a
bare integer in ``-1 .. n_steps - 1``. Anything else is *unparseable*, with a reason
(``no_boxed``, ``not_an_integer``, ``out_of_range``, ``error``); nothing is guessed from the text.

With ``samples > 1`` the model is sampled that many times (``temperature``, seeds ``seed``,
``seed + 1``, ...) and the parseable answers vote; a tie goes to the answer seen first (sample order).
With one sample decoding is greedy. An item with no parseable answer is *invalid*: the run's
``--invalid-policy`` decides its accuracy (``wrong`` by default) and the summary counts it.
The per-item metric ``unparseable`` is the fraction of the item's samples that could not be parsed,
so the report shows the unparseable rate with an interval.

Prediction keys: ``first_error`` (the voted index, ``None`` for -1), ``answers`` (each sample's
parsed index or ``None``), ``reasons`` (why a sample was unparseable), ``votes``, ``unparseable``,
and ``raw`` (every reply's text, kept for audit).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rmbench.backends import Generation, GenerationBackend, GenerationRequest, require
from rmbench.datatypes import Example, Prediction, StepwiseExample
from rmbench.errors import UserError

_BOXED = re.compile(r"\\boxed\s*\{([^{}]*)\}")
_INTEGER = re.compile(r"^\s*(-?\d+)\s*$")


def parse_first_error(text: str, n_steps: int) -> tuple[int | None, str | None]:
    """(index, None) from the last ``\\boxed{k}`` of ``text``, or (None, reason) when unparseable.

    ``k`` must be a bare integer in ``-1 .. n_steps - 1``; ``-1`` ("no wrong step") is returned as
    ``-1`` so that it differs from "unparseable".

    >>> parse_first_error("Paragraph 2 divides by zero. \\\\boxed{2}", 4)
    (2, None)
    >>> parse_first_error("all fine \\\\boxed{-1}", 4)
    (-1, None)
    >>> parse_first_error("\\\\boxed{1} no wait \\\\boxed{3}", 4)
    (3, None)
    >>> parse_first_error("the answer is 2", 4), parse_first_error("\\\\boxed{two}", 4), parse_first_error("\\\\boxed{7}", 4)
    ((None, 'no_boxed'), (None, 'not_an_integer'), (None, 'out_of_range'))
    """
    found = _BOXED.findall(text)
    if not found:
        return None, "no_boxed"
    m = _INTEGER.match(found[-1])
    if not m:
        return None, "not_an_integer"
    k = int(m.group(1))
    if not -1 <= k < n_steps:
        return None, "out_of_range"
    return k, None


def majority(answers: Sequence[int | None]) -> int | None:
    """The most frequent parsed answer; ties go to the one seen first; ``None`` if nothing parsed.

    >>> majority([2, None, -1, 2]), majority([3, 1, 1, 3]), majority([None, None])
    (2, 3, None)
    """
    parsed = [a for a in answers if a is not None]
    if not parsed:
        return None
    counts = Counter(parsed)
    best = max(counts.values())
    return next(a for a in parsed if counts[a] == best)


@dataclass(frozen=True)
class CriticSettings:
    """Sampling and prompt settings; recorded in the run summary under ``model.critic``."""

    prompt: str = "critic_first_error"
    samples: int = 1
    temperature: float = 0.7
    seed: int = 0
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise UserError(f"--critic-samples must be at least 1, got {self.samples}")
        if self.samples > 1 and self.temperature <= 0:
            raise UserError("majority vote over several samples needs a temperature > 0")
        if self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")


class CriticAdapter:
    """First-error prediction by a generative judge; see the module docstring."""

    kind = "critic"

    def __init__(self, backend: GenerationBackend, settings: CriticSettings | None = None,
                 model_id: str | None = None) -> None:
        from rmbench.adapters.judge.prompts import load_prompt

        self.backend = backend
        self.settings = settings or CriticSettings()
        self.template = load_prompt(self.settings.prompt)
        missing = {"problem", "steps"} - set(self.template.variables)
        if missing:
            raise UserError(f"critic prompt '{self.template.name}' must use the variables problem and steps",
                            hint=f"missing: {', '.join(sorted(missing))}")
        self.model_id = model_id

    def describe(self) -> dict[str, Any]:
        info = dict(self.backend.describe())
        critic = asdict(self.settings)
        critic.update(
            template=self.template.describe(), parse="last \\boxed{k}, k an integer in -1..n_steps-1",
            vote="majority of parseable samples, ties to the first seen" if self.settings.samples > 1 else "single greedy reply",
            unparseable="an item with no parseable sample is invalid (run's invalid policy)",
        )
        info.update(id=self.model_id or info.get("model"), kind=self.kind, critic=critic)
        return info

    def requests(self, ex: StepwiseExample) -> list[GenerationRequest]:
        """The generation requests of one example (one per sample)."""
        text = self.template.render(problem=ex.prompt_text, steps=list(ex.steps))
        messages = ({"role": "user", "content": text},)
        s = self.settings
        if s.samples == 1:
            return [GenerationRequest(messages=messages, max_new_tokens=s.max_new_tokens, temperature=0.0, seed=s.seed)]
        return [GenerationRequest(messages=messages, max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                                  seed=s.seed + j) for j in range(s.samples)]

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        """One prediction per stepwise example, all requests sent to the backend in one batch."""
        reqs: list[GenerationRequest] = []
        for ex in examples:
            if not isinstance(ex, StepwiseExample):
                raise UserError(f"the critic adapter scores stepwise examples, not '{ex.kind}'")
            reqs += self.requests(ex)
        gens = self.backend.generate(reqs)
        if len(gens) != len(reqs):
            raise RuntimeError(f"backend returned {len(gens)} generations for {len(reqs)} requests")
        n = self.settings.samples
        return [self._predict(ex, gens[k * n : (k + 1) * n]) for k, ex in enumerate(examples)]  # type: ignore[arg-type]

    def _predict(self, ex: StepwiseExample, gens: Sequence[Generation]) -> Prediction:
        answers: list[int | None] = []
        reasons: list[str | None] = []
        for g in gens:
            if g.error is not None or g.finish_reason == "error":
                answers.append(None)
                reasons.append("error")
                continue
            k, why = parse_first_error(g.text, len(ex.steps))
            answers.append(k)
            reasons.append(why)
        voted = majority(answers)
        bad = sum(a is None for a in answers)
        return Prediction(
            scores={
                "first_error": None if voted in (None, -1) else voted,
                "answers": answers,
                "reasons": reasons,
                "votes": {str(k): v for k, v in Counter(a for a in answers if a is not None).items()},
                "unparseable": bad / len(answers),
                "raw": [g.text for g in gens],
            },
            tokens=sum(g.prompt_tokens + g.completion_tokens for g in gens),
            invalid=voted is None,
        )


def build_critic_adapter(backend: Any, settings: CriticSettings | None = None, model_id: str | None = None) -> CriticAdapter:
    """A :class:`CriticAdapter` over a backend with the ``generation`` capability."""
    require(backend, "generation", needed_by="critic mode")
    return CriticAdapter(backend, settings, model_id=model_id)
