"""Process reward models: one probability per step, all steps read from ONE forward pass per solution.

How a solution becomes token ids and step positions:

* ``format="plain"``: ``problem + "\\n\\n" + step_1 + sep + step_2 + sep + ...``, tokenized with the
  tokenizer's own special tokens (e.g. BOS);
* ``format="chat"``: the problem as the user turn and ``step_1 + sep + step_2 + sep ...`` as the
  assistant turn, rendered by the tokenizer's chat template (which writes its own special tokens).

``sep`` is the step separator (``--step-separator``; default ``"\\n\\n"``; ``" ки\\n"`` for
Math-Shepherd-style tags, ``"<extra_0>"`` for Qwen2.5-Math-PRM). A step is read at the token holding
the separator's last non-whitespace character (its last character when the separator is all
whitespace), located through the tokenizer's character offsets of the *whole* text, so the ids are
exactly what the tokenizer gives for the full solution.

How the reading becomes a step score P(step correct):

* ``head="causal-lm"``: the logits of the two step tokens (``--step-tokens +,-``: good, bad) at that
  position; P = softmax over those two logits (the rest of the vocabulary is ignored);
* ``head="token-cls"``: a token-classification model's label logits at that position; P = softmax
  probability of ``good_label`` (sigmoid for a one-label head);
* ``head="auto"``: ``token-cls`` when the checkpoint's config declares a ``...ForTokenClassification``
  architecture, else ``causal-lm``.

Predictions for a ``StepwiseExample`` (read by :mod:`rmbench.adapters.steps.grading`): ``step_scores``,
``solution_score`` (``--aggregation min|last|product|mean``), ``threshold`` and ``first_error`` (the
first step scored below the threshold, ``None`` when there is none; see :mod:`rmbench.adapters.steps.thresholds`).
For a ``MultiResponseExample`` (best-of-N, e.g. RewardMATH) each response is split into steps on
``response_split`` (``"\\n\\n"``, how RewardMATH's steps are joined) and the aggregated solution
scores fill ``correct``/``incorrect``, so selection accuracy is graded like any reward model's. A step
lost to truncation (sequences are cut on the right, whatever ``--truncation-side`` says; ``describe``
records ``truncation_side: right``) makes the item invalid, and ``extra["truncated"]`` counts the item's
sequences that were cut.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from rmbench.adapters.steps.metrics import AGGREGATIONS, aggregate_steps, first_below
from rmbench.adapters.steps.thresholds import DEFAULT_THRESHOLD, ThresholdPolicy, fixed_threshold
from rmbench.backends import PositionBackend, require
from rmbench.datatypes import Example, MultiResponseExample, Prediction, StepwiseExample
from rmbench.errors import UserError


@dataclass(frozen=True)
class ProcessSettings:
    """How steps are marked and read; recorded in the run summary under ``model.process``."""

    step_separator: str = "\n\n"
    step_tokens: tuple[str, str] = ("+", "-")
    head: Literal["auto", "causal-lm", "token-cls"] = "auto"
    good_label: int = 1
    aggregation: str = "min"
    format: Literal["plain", "chat"] = "plain"
    response_split: str = "\n\n"

    def __post_init__(self) -> None:
        if not self.step_separator:
            raise UserError("the step separator must not be empty", hint="e.g. --step-separator '\\n\\n'")
        if self.aggregation not in AGGREGATIONS:
            raise UserError(f"unknown aggregation '{self.aggregation}'", hint=f"use one of {', '.join(AGGREGATIONS)}")
        if len(self.step_tokens) != 2 or self.step_tokens[0] == self.step_tokens[1]:
            raise UserError(f"--step-tokens needs two different tokens (good,bad), got {self.step_tokens}")
        if self.format not in ("plain", "chat"):
            raise UserError(f"unknown process format '{self.format}'", hint="use plain or chat")
        if self.head not in ("auto", "causal-lm", "token-cls"):
            raise UserError(f"unknown process head '{self.head}'", hint="use auto, causal-lm or token-cls")


def parse_step_tokens(text: str) -> tuple[str, str]:
    """``"+,-"`` -> ``("+", "-")``; tokens are taken verbatim (a leading space is kept)."""
    parts = text.split(",")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"--step-tokens '{text}': expected GOOD,BAD, e.g. '+,-'")
    return parts[0], parts[1]


def _anchor(separator: str) -> int:
    """Offset inside the separator of the character whose token is read."""
    stripped = separator.rstrip()
    return len(stripped) - 1 if stripped else len(separator) - 1


@dataclass(frozen=True)
class Encoded:
    """A solution's token ids and, per step, the index of the token that is read."""

    ids: list[int]
    positions: list[int]


class ProcessAdapter:
    """Step scores from a PRM, one forward pass per solution; see the module docstring."""

    kind = "process"

    def __init__(self, backend: PositionBackend, settings: ProcessSettings, threshold: ThresholdPolicy | None = None,
                 model_id: str | None = None) -> None:
        self.backend = backend
        self.settings = settings
        self.threshold = threshold or fixed_threshold(DEFAULT_THRESHOLD)
        self.model_id = model_id
        self.tokenizer = backend.tokenizer
        if not getattr(self.tokenizer, "is_fast", False):
            raise UserError("process scoring needs a fast tokenizer (character offsets locate the steps)")
        self.head = backend.resolve_position_head(settings.head)
        self.token_ids = self._step_token_ids() if self.head == "causal-lm" else None
        self._anchor = _anchor(settings.step_separator)

    # -------------------------------------------------------------------------------- setup
    def _step_token_ids(self) -> tuple[int, int]:
        ids = []
        for tok in self.settings.step_tokens:
            enc = list(self.tokenizer(tok, add_special_tokens=False)["input_ids"])
            if len(enc) != 1:
                direct = self.tokenizer.convert_tokens_to_ids(tok)
                unk = getattr(self.tokenizer, "unk_token_id", None)
                if not isinstance(direct, int) or direct == unk:
                    raise UserError(
                        f"step token {tok!r} is {len(enc)} tokens for this tokenizer; a step token must be one token",
                        hint="pick tokens the model was trained with, e.g. --step-tokens '+,-'",
                    )
                enc = [direct]
            ids.append(int(enc[0]))
        return ids[0], ids[1]

    def describe(self) -> dict[str, Any]:
        """Backend description plus the process settings and the threshold policy."""
        info = dict(self.backend.describe())
        process = asdict(self.settings)
        process.update(
            head=self.head, step_token_ids=list(self.token_ids) if self.token_ids else None,
            read_at="token holding the separator's last non-whitespace character",
            forward_passes="one per solution", truncation="right (a lost step makes the item invalid)",
            threshold=self.threshold.describe(),
        )
        info.update(id=self.model_id or info.get("model"), kind=self.kind, process=process, truncation_side="right")
        return info

    # ------------------------------------------------------------------------------ encoding
    def encode(self, prompt: Sequence[dict[str, str]], steps: Sequence[str]) -> Encoded:
        """Token ids of a solution and the read position of each step."""
        sep = self.settings.step_separator
        body, anchors = "", []
        for step in steps:
            body += step
            anchors.append(len(body) + self._anchor)
            body += sep
        if self.settings.format == "chat":
            messages = [dict(m) for m in prompt] + [{"role": "assistant", "content": body}]
            text = str(self.tokenizer.apply_chat_template(messages, tokenize=False))
            start = text.rfind(body)
            if start < 0:
                raise ValueError("the chat template rewrote the steps; use format 'plain'")
            special = False
        else:
            users = [m["content"] for m in prompt if m["role"] == "user"]
            head = (users[-1] if users else "") + "\n\n"
            text, start, special = head + body, len(head), True
        enc = self.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        return Encoded(ids, tokens_at(offsets, [start + a for a in anchors]))

    # ------------------------------------------------------------------------------- scoring
    def step_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """P(step correct) from the logits read at the steps (rows: steps)."""
        x = logits.astype(np.float64)
        if self.head == "causal-lm":
            return 1.0 / (1.0 + np.exp(x[:, 1] - x[:, 0]))
        if x.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-x[:, 0]))
        if not 0 <= self.settings.good_label < x.shape[1]:
            raise UserError(f"good label {self.settings.good_label} out of range for {x.shape[1]} labels")
        z = np.exp(x - x.max(axis=1, keepdims=True))
        return z[:, self.settings.good_label] / z.sum(axis=1)

    def score_solutions(
        self, prompts: Sequence[Sequence[dict[str, str]]], solutions: Sequence[Sequence[str]]
    ) -> tuple[list[list[float]], list[int]]:
        """Step scores for many solutions (NaN for a step that could not be read), batched by the
        backend, and the number of tokens of each solution's sequence."""
        encoded: list[Encoded | None] = []
        for prompt, steps in zip(prompts, solutions, strict=True):
            try:
                encoded.append(self.encode(prompt, steps) if steps else None)
            except ValueError:
                encoded.append(None)
        live = [i for i, e in enumerate(encoded) if e is not None]
        outs = self.backend.position_logits(
            [encoded[i].ids for i in live], [encoded[i].positions for i in live],  # type: ignore[union-attr]
            token_ids=self.token_ids, head=self.head,
        )
        result: list[list[float]] = [[math.nan] * max(len(s), 1) for s in solutions]
        for i, logits in zip(live, outs, strict=True):
            result[i] = [float(p) for p in self.step_probabilities(logits)]
        return result, [len(e.ids) if e is not None else 0 for e in encoded]

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        """One prediction per example (stepwise or multi-response), in order."""
        prompts: list[Sequence[dict[str, str]]] = []
        solutions: list[list[str]] = []
        owners: list[tuple[int, str]] = []  # (example index, "steps" | "correct" | "incorrect")
        for k, ex in enumerate(examples):
            if isinstance(ex, StepwiseExample):
                prompts.append(ex.prompt)
                solutions.append(list(ex.steps))
                owners.append((k, "steps"))
            elif isinstance(ex, MultiResponseExample):
                for group, texts in (("correct", ex.correct), ("incorrect", ex.incorrect)):
                    for text in texts:
                        prompts.append(ex.prompt)
                        solutions.append(self.split_response(text))
                        owners.append((k, group))
            else:
                raise UserError(f"the process adapter scores stepwise and multi-response examples, not '{ex.kind}'")
        scores, n_tokens = self.score_solutions(prompts, solutions)
        per_example: list[dict[str, list[list[float]]]] = [{} for _ in examples]
        tokens = [0] * len(examples)
        cut = [0] * len(examples)
        limit = getattr(self.backend, "max_length", None)
        for j, ((k, group), s) in enumerate(zip(owners, scores, strict=True)):
            per_example[k].setdefault(group, []).append(s)
            tokens[k] += n_tokens[j]
            cut[k] += int(isinstance(limit, int) and n_tokens[j] > limit)
        preds = [self._predict(ex, per_example[k], tokens[k]) for k, ex in enumerate(examples)]
        return [replace(p, extra={**p.extra, "truncated": c}) if c else p for p, c in zip(preds, cut, strict=True)]

    def split_response(self, text: str) -> list[str]:
        """A multi-response answer split into steps on ``response_split`` (empty parts dropped)."""
        return [p for p in text.split(self.settings.response_split) if p.strip()]

    def _predict(self, ex: Example, groups: dict[str, list[list[float]]], tokens: int) -> Prediction:
        how = self.settings.aggregation
        if isinstance(ex, StepwiseExample):
            steps = groups["steps"][0]
            ok = all(math.isfinite(s) for s in steps)
            return Prediction(
                scores={
                    "step_scores": steps,
                    "solution_score": aggregate_steps(steps, how) if ok else None,
                    "threshold": self.threshold.value,
                    "first_error": first_below(steps, self.threshold.value) if ok else None,
                },
                tokens=tokens, invalid=not ok,
            )
        agg = {g: [aggregate_steps(s, how) for s in groups.get(g, [])] for g in ("correct", "incorrect")}
        ok = all(math.isfinite(v) for vs in agg.values() for v in vs)
        return Prediction(
            scores={**agg, "step_scores": {g: groups.get(g, []) for g in ("correct", "incorrect")}},
            tokens=tokens, invalid=not ok,
        )


def tokens_at(offsets: Sequence[tuple[int, int]], chars: Sequence[int]) -> list[int]:
    """For each character index, the index of the token whose span holds it; when no span holds it
    (a character a tokenizer dropped), the last token starting before it. Special tokens without a
    span (offsets ``(0, 0)``) are never chosen.

    >>> tokens_at([(0, 0), (0, 3), (3, 5), (5, 6), (0, 0)], [4, 5, 2])
    [2, 3, 1]
    """
    real = [i for i, (s, e) in enumerate(offsets) if e > s]
    starts = [offsets[i][0] for i in real]
    out = []
    for c in chars:
        k = bisect.bisect_right(starts, c) - 1
        if k < 0:
            raise ValueError(f"no token covers character {c}")
        out.append(real[k])
    return out


def build_process_adapter(
    backend: Any, settings: ProcessSettings | None = None, threshold: ThresholdPolicy | None = None,
    model_id: str | None = None,
) -> ProcessAdapter:
    """A :class:`ProcessAdapter` over a backend with the ``position_scores`` capability; a
    transformers backend reads positions through its
    :class:`~rmbench.backends.transformers.positions.PositionScorer`."""
    scorer = backend
    if backend.name == "transformers" and "position_scores" not in backend.capabilities:
        from rmbench.backends.transformers.positions import PositionScorer

        scorer = PositionScorer(backend)
    require(scorer, "position_scores", needed_by="--kind process")
    return ProcessAdapter(scorer, settings or ProcessSettings(), threshold, model_id=model_id)
