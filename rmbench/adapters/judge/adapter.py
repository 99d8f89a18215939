"""A generative judge over any :class:`~rmbench.backends.GenerationBackend`.

The adapter renders a prompt template (:mod:`rmbench.adapters.judge.prompts`) for every question a mode asks
(:mod:`rmbench.adapters.judge.modes`), sends *all* requests of a chunk to the backend at once (so the
backend can sort and batch globally), parses each reply (:mod:`rmbench.adapters.judge.parse`) and returns
one :class:`Prediction` per example with a ``scores["judge"]`` block::

    {"mode": "pairwise", "swap": "both", "parser": "strict", "asks": [
        {"key": "pair:chosen_first", "pair": "pair", "order": "chosen_first", "verdict": "A",
         "how": "strict-first-line", "text": "A", "probs": {"A": 0.81, "B": 0.19},
         "picked": "chosen", "p_chosen": 0.81},
        {"key": "pair:chosen_second", ...}]}

Unparseable replies are explicit: ``verdict`` is ``None``, the prediction is marked ``invalid`` and
the grader applies the run's invalid policy. A request the backend could not answer (a server that
kept failing) is not a reply: its record keeps the server's ``error`` text, the prediction carries
``error`` and the item is stored as an error, never graded (:mod:`rmbench.results.item_errors`). With ``retries = N`` (``--unparseable retry:N``) an
unparseable reply is asked again up to N times, sampled at ``retry_temperature`` with a seed derived
from (run seed, item id, question, attempt); earlier replies are kept.

``probs``: when the template asks for the verdict first and the backend reports first-token
``choice_logprobs``, the verdict probabilities normalised over the choices (``P(A)``, ``P(YES)``;
case variants such as ``Yes``/``yes`` are added to their choice). Ratings store no probabilities
(``"1"`` and ``"10"`` share a first token in most tokenizers).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rmbench.adapters.judge.modes import (
    DEFAULT_PROMPTS,
    JUDGE_MODES,
    SWAP_POLICIES,
    Answer,
    Ask,
    JudgeMode,
    assemble,
    build_asks,
    mode_for,
)
from rmbench.adapters.judge.parse import PARSERS, Verdict, parse_choice, parse_rating
from rmbench.adapters.judge.prompts import PromptTemplate, load_prompt
from rmbench.backends import Generation, GenerationBackend, GenerationRequest
from rmbench.datatypes import Example, Prediction
from rmbench.errors import UserError
from rmbench.grading.policies import INVALID_POLICIES
from rmbench.stats.seeds import derived_seed

UNPARSEABLE_POLICIES = (*INVALID_POLICIES, "retry:N")


def parse_unparseable(value: str) -> tuple[str | None, int]:
    """``--unparseable`` -> (invalid policy or None to keep the run's, number of retries).

    >>> parse_unparseable("half")
    ('half', 0)
    >>> parse_unparseable("retry:2")
    (None, 2)
    """
    if value in INVALID_POLICIES:
        return value, 0
    head, _, n = value.partition(":")
    if head == "retry" and n.isdigit() and int(n) >= 1:
        return None, int(n)
    raise UserError(f"--unparseable '{value}': expected one of {', '.join(UNPARSEABLE_POLICIES)} (N >= 1)")


@dataclass(frozen=True)
class JudgeSettings:
    """How the judge is asked and read; everything here is recorded in the run summary.

    ``max_new_tokens`` defaults to 32 for templates that ask for the verdict first and 512 for
    templates that reason first. ``modes`` (given by the runner: the modes its items use) lets
    ``describe()`` name the exact templates before any item is scored.
    """

    mode: str = "auto"
    swap: str = "both"
    prompt: str | None = None
    parser: str = "strict"
    retries: int = 0
    retry_temperature: float = 0.7
    max_new_tokens: int | None = None
    seed: int = 0
    context_chars: int = 1500
    modes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in JUDGE_MODES:
            raise UserError(f"--judge-mode '{self.mode}': expected one of {', '.join(JUDGE_MODES)}")
        if self.swap not in SWAP_POLICIES:
            raise UserError(f"--swap '{self.swap}': expected one of {', '.join(SWAP_POLICIES)}")
        if self.parser not in PARSERS:
            raise UserError(f"--parser '{self.parser}': expected one of {', '.join(PARSERS)}")
        if self.retries < 0 or not self.retry_temperature > 0:
            raise UserError("retries must be >= 0 and the retry temperature > 0")


class JudgeAdapter:
    """An LLM judge: prompts in, verdicts out, over any generation backend."""

    kind = "judge"

    def __init__(self, backend: GenerationBackend, settings: JudgeSettings, model_id: str = "") -> None:
        self.backend = backend
        self.settings = settings
        self.model_id = model_id
        self._templates: dict[str, PromptTemplate] = {}
        if settings.prompt is not None:
            self._templates["*"] = load_prompt(settings.prompt)

    # ------------------------------------------------------------------------------ templates

    def template_for(self, mode: JudgeMode) -> PromptTemplate:
        """The user's ``--prompt`` if given, else the mode's built-in template."""
        if "*" in self._templates:
            return self._templates["*"]
        if mode not in self._templates:
            self._templates[mode] = load_prompt(DEFAULT_PROMPTS[mode])
        return self._templates[mode]

    def describe(self) -> dict[str, Any]:
        """The backend's description (model id, weights hash, dtype, ...) plus the judge settings and
        the template's name and sha256 (``prompt``; ``prompt_sha256`` is part of the run identity)."""
        s = self.settings
        backend = dict(self.backend.describe())
        out: dict[str, Any] = {
            **backend,
            "id": self.model_id or backend.get("id", ""),
            "kind": "judge",
            "judge": {k: v for k, v in asdict(s).items() if k != "modes"},
        }
        if s.prompt is not None:
            templates = {"*": self._templates["*"]}
        elif s.modes:
            templates = {m: self.template_for(m) for m in s.modes}  # type: ignore[arg-type]
        else:
            templates = {}
        if len(templates) == 1:
            tpl = next(iter(templates.values()))
            out["prompt"] = tpl.describe()
            out["prompt_sha256"] = tpl.sha256
        elif templates:  # auto mode on a kind with two natural modes: each item uses one of these
            out["prompts"] = {m: t.describe() for m, t in templates.items()}
            out["prompt_sha256"] = hashlib.sha256("".join(t.sha256 for t in templates.values()).encode()).hexdigest()
        return out

    # -------------------------------------------------------------------------------- scoring

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        """One prediction per example; all requests of the chunk go to the backend together."""
        s = self.settings
        plans: list[tuple[JudgeMode, list[Ask]]] = []
        flat: list[tuple[int, int]] = []
        requests: list[GenerationRequest] = []
        for e_idx, ex in enumerate(examples):
            mode = mode_for(s.mode, ex)
            asks = build_asks(mode, ex, s.swap, s.seed, s.context_chars)  # type: ignore[arg-type]
            plans.append((mode, asks))
            for a_idx, ask in enumerate(asks):
                flat.append((e_idx, a_idx))
                requests.append(self._request(mode, ask))
        generations = self._generate(requests)
        answers = [self._answer(plans[e][0], plans[e][1][a], g) for (e, a), g in zip(flat, generations, strict=True)]
        answers = self._retry(examples, plans, flat, requests, answers)
        by_example: list[list[Answer]] = [[] for _ in examples]
        for (e_idx, _), ans in zip(flat, answers, strict=True):
            by_example[e_idx].append(ans)
        recorded = {"swap": s.swap, "parser": s.parser, "template": None}
        preds = []
        for ex, (mode, asks), group in zip(examples, plans, by_example, strict=True):
            tpl = self.template_for(mode)
            preds.append(assemble(mode, ex, asks, group, {**recorded, "template": tpl.name}))
        return preds

    def _request(self, mode: JudgeMode, ask: Ask, temperature: float = 0.0, seed: int | None = None) -> GenerationRequest:
        tpl = self.template_for(mode)
        content = tpl.render(**ask.values)
        max_new = self.settings.max_new_tokens or (32 if tpl.verdict == "first" else 512)
        choices = _choice_variants(ask.choices) if tpl.verdict == "first" and ask.choices and len(ask.choices) <= 9 else ()
        return GenerationRequest(
            messages=({"role": "user", "content": content},), max_new_tokens=max_new,
            temperature=temperature, seed=seed, choices=choices,
        )

    def _generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if not requests:
            return []
        out = self.backend.generate(requests)
        if len(out) != len(requests):
            raise RuntimeError(f"backend returned {len(out)} generations for {len(requests)} requests")
        return list(out)

    def _answer(self, mode: JudgeMode, ask: Ask, gen: Generation, earlier: Answer | None = None) -> Answer:
        tpl = self.template_for(mode)
        verdict: Verdict
        if gen.error is not None:
            verdict = Verdict(None, "backend-error")
        elif ask.choices:
            verdict = parse_choice(gen.text, ask.choices, parser=self.settings.parser, position=tpl.verdict)  # type: ignore[arg-type]
        else:
            verdict = parse_rating(gen.text, parser=self.settings.parser, position=tpl.verdict)  # type: ignore[arg-type]
        probs = _normalised(gen.choice_logprobs, ask.choices) if ask.choices else None
        tokens = gen.prompt_tokens + gen.completion_tokens
        if earlier is None:
            return Answer(gen.text, verdict.value, verdict.how, 1, probs, gen.finish_reason, tokens, error=gen.error)
        return Answer(
            gen.text, verdict.value, verdict.how, earlier.attempts + 1, earlier.probs, gen.finish_reason,
            earlier.tokens + tokens, (*earlier.texts, earlier.text), error=gen.error,
        )

    def _retry(
        self, examples: Sequence[Example], plans: Sequence[tuple[JudgeMode, list[Ask]]],
        flat: Sequence[tuple[int, int]], requests: Sequence[GenerationRequest], answers: list[Answer],
    ) -> list[Answer]:
        """Re-ask unparseable questions up to ``retries`` times with seeded sampling (backend errors are
        not re-asked here: they are stored as errors and asked again, unchanged, when the run resumes)."""
        for attempt in range(1, self.settings.retries + 1):
            todo = [k for k, a in enumerate(answers) if a.verdict is None and a.error is None]
            if not todo:
                break
            again = []
            for k in todo:
                e_idx, a_idx = flat[k]
                mode, asks = plans[e_idx]
                seed = derived_seed(self.settings.seed, examples[e_idx].id, asks[a_idx].key, attempt)
                again.append(self._request(mode, asks[a_idx], self.settings.retry_temperature, seed))
            for k, gen in zip(todo, self._generate(again), strict=True):
                e_idx, a_idx = flat[k]
                answers[k] = self._answer(plans[e_idx][0], plans[e_idx][1][a_idx], gen, earlier=answers[k])
        return answers


def _choice_variants(choices: Sequence[str]) -> tuple[str, ...]:
    """Choices plus their capitalised and lower-case spellings (``YES``, ``Yes``, ``yes``)."""
    out: dict[str, None] = {}
    for c in choices:
        for v in (c, c.capitalize(), c.lower()) if len(c) > 1 else (c,):
            out.setdefault(v, None)
    return tuple(out)


def _normalised(logprobs: Mapping[str, float] | None, choices: Sequence[str]) -> dict[str, float] | None:
    """P(choice) normalised over the choices, adding up spelling variants with distinct first tokens.

    Variants of one choice that report the identical log-probability share their first token and
    are counted once. Returns None when the backend gave no log-probabilities.
    """
    if not logprobs:
        return None
    mass: dict[str, float] = {}
    for c in choices:
        seen: set[float] = set()
        total = 0.0
        for v in _choice_variants([c]):
            lp = logprobs.get(v)
            if lp is None or not math.isfinite(lp) or lp in seen:
                continue
            seen.add(lp)
            total += math.exp(lp)
        mass[c] = total
    z = sum(mass.values())
    if z <= 0:
        return None
    return {c: m / z for c, m in mass.items()}
