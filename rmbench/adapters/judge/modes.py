"""What a generative judge is asked for each kind of example, and how its answers become a prediction.

Each mode turns one example into one or more :class:`Ask` (template variables plus the verdict's
choices) and turns the parsed :class:`Answer` list back into a :class:`Prediction` whose
``scores["judge"]`` block is graded by :mod:`rmbench.adapters.judge.grading`. Template variables per mode:

=========  ==================================================  ==================================
mode       examples                                            template variables
=========  ==================================================  ==================================
pairwise   PairwiseExample; MultiResponseExample (every        question, response_a, response_b
           correct x incorrect pair)
rating     PairwiseExample, MultiResponseExample (each         question, response
           response rated), PointwiseExample (numeric label)
verify     PointwiseExample with a reference and YES/NO label  question, reference, response
listwise   MultiResponseExample (best_of_n)                    question, responses (a list)
segments   SegmentExample (FELM): one request per segment      question, response, segment,
                                                               previous, reference,
                                                               segment_number, n_segments
=========  ==================================================  ==================================

Position control (``swap``): pairwise ``both`` asks every pair in both orders; ``random`` asks one
order drawn from a generator seeded by (run seed, item id), so it does not depend on batching or on
which other items are in the run; ``none`` shows the first response (chosen) as A. Listwise always
shuffles the candidates with a seeded permutation (stored data lists correct responses first, which
would turn position bias into apparent skill); ``both`` then asks every cyclic rotation of that
shuffle, so each candidate appears once in every slot.

FELM segments are checked one request per segment (the question, the earlier segments as context,
the segment itself): small judges cannot reliably list error positions for a whole response, and
per-segment YES/NO verdicts carry first-token probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rmbench.datatypes import (
    Example,
    MultiResponseExample,
    PairwiseExample,
    PointwiseExample,
    Prediction,
    SegmentExample,
)
from rmbench.errors import UserError
from rmbench.stats.seeds import derived_random

JudgeMode = Literal["pairwise", "rating", "verify", "listwise", "segments"]
JUDGE_MODES: tuple[str, ...] = ("auto", "pairwise", "rating", "verify", "listwise", "segments")
SwapPolicy = Literal["both", "random", "none"]
SWAP_POLICIES: tuple[str, ...] = ("both", "random", "none")
DEFAULT_PROMPTS: dict[str, str] = {
    "pairwise": "pairwise", "rating": "pointwise", "verify": "reference_verify",
    "listwise": "listwise", "segments": "felm_vanilla",
}  # fmt: skip
CHOSEN_FIRST, CHOSEN_SECOND = "chosen_first", "chosen_second"


@dataclass(frozen=True)
class Ask:
    """One question to the judge: its key within the example, template values and verdict choices.

    ``choices`` is empty for ratings (parsed as numbers). ``info`` is bookkeeping copied into the
    prediction (e.g. which response was shown first).
    """

    key: str
    values: Mapping[str, Any]
    choices: tuple[str, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The judge's final answer to one :class:`Ask` (after any retries)."""

    text: str
    verdict: str | None
    how: str
    attempts: int = 1
    probs: Mapping[str, float] | None = None
    finish_reason: str = "stop"
    tokens: int = 0
    texts: tuple[str, ...] = ()  # earlier unparseable replies, when retried
    error: str | None = None  # the backend's failure (server status and message): not a verdict

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "how": self.how, "text": self.text}
        if self.error is not None:
            out["error"] = self.error
        if self.probs is not None:
            out["probs"] = dict(self.probs)
        if self.attempts > 1:
            out["attempts"] = self.attempts
            out["earlier_texts"] = list(self.texts)
        if self.finish_reason != "stop":
            out["finish_reason"] = self.finish_reason
        return out


def resolve_mode(mode: str, example_kind: str, *, has_reference: bool = False, scoring: str | None = None) -> JudgeMode:
    """The judge mode for an example kind (``auto`` picks the natural one) or a clear error.

    ``auto``: pairwise -> pairwise; multi_response -> listwise for best_of_n items, pairwise (every
    correct x incorrect pair) otherwise; pointwise -> verify with a reference, else rating;
    segments -> segments.
    """
    if mode == "auto":
        if example_kind == "pointwise":
            return "verify" if has_reference else "rating"
        if example_kind == "multi_response":
            return "listwise" if scoring in (None, "best_of_n") else "pairwise"
        if example_kind in ("pairwise", "segments"):
            return example_kind  # type: ignore[return-value]
        raise UserError(f"no judge mode handles '{example_kind}' examples")
    allowed = {
        "pairwise": ("pairwise", "multi_response"), "rating": ("pairwise", "multi_response", "pointwise"),
        "verify": ("pointwise",), "listwise": ("multi_response",), "segments": ("segments",),
    }  # fmt: skip
    if mode not in allowed:
        raise UserError(f"unknown judge mode '{mode}'", hint=f"use one of {', '.join(JUDGE_MODES)}")
    if example_kind not in allowed[mode]:
        raise UserError(
            f"judge mode '{mode}' does not apply to '{example_kind}' examples",
            hint=f"it handles {', '.join(allowed[mode])}; --judge-mode auto picks the natural mode",
        )
    return mode  # type: ignore[return-value]


def mode_for(mode: str, example: Example) -> JudgeMode:
    """The mode for one example (``auto`` looks at its reference and scoring)."""
    has_ref = isinstance(example, PointwiseExample) and bool(example.reference)
    return resolve_mode(mode, example.kind, has_reference=has_ref, scoring=getattr(example, "scoring", None))


def question_text(example: Example) -> str:
    """The conversation the responses answer: the user turn, or a transcript for multi-turn prompts."""
    if len(example.prompt) == 1:
        return example.prompt[0]["content"]
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in example.prompt)


def side_text(example: PairwiseExample, side: Literal["chosen", "rejected"]) -> str:
    """What the judge sees as one side's response: the response, preceded by the turns of that
    side's own history when the two sides' conversations differ before it (as a transcript)."""
    context = example.chosen_context if side == "chosen" else example.rejected_context
    response = example.chosen if side == "chosen" else example.rejected
    if not context:
        return response
    turns = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in context)
    return f"{turns}\n\n[assistant]\n{response}"


# ------------------------------------------------------------------------------------- building


def build_asks(mode: JudgeMode, example: Example, swap: SwapPolicy, seed: int, context_chars: int = 1500) -> list[Ask]:
    """Every question the judge is asked about ``example`` under ``mode``."""
    q = question_text(example)
    if mode == "pairwise":
        return _pairwise_asks(example, q, swap, seed)
    if mode == "rating":
        return [Ask(key, {"question": q, "response": text}) for key, text in _rated_responses(example)]
    if mode == "verify":
        assert isinstance(example, PointwiseExample)
        if not example.reference:
            raise UserError(f"item {example.id}: judge mode 'verify' needs a reference answer")
        return [Ask("verify", {"question": q, "reference": example.reference, "response": example.response},
                    ("YES", "NO"))]
    if mode == "listwise":
        return _listwise_asks(example, q, swap, seed)
    assert isinstance(example, SegmentExample)
    asks = []
    for i, seg in enumerate(example.segments):
        previous = " ".join(s.strip() for s in example.segments[:i])
        if len(previous) > context_chars:
            previous = "..." + previous[-context_chars:]
        values = {
            "question": q, "response": " ".join(s.strip() for s in example.segments), "segment": seg,
            "previous": previous, "reference": example.reference, "segment_number": i + 1,
            "n_segments": len(example.segments),
        }  # fmt: skip
        asks.append(Ask(f"seg{i}", values, ("YES", "NO")))
    return asks


def _pairs(example: Example) -> list[tuple[str, str, str]]:
    """(pair key, chosen, rejected) for a pairwise example or every correct x incorrect pair."""
    if isinstance(example, PairwiseExample):
        return [("pair", side_text(example, "chosen"), side_text(example, "rejected"))]
    assert isinstance(example, MultiResponseExample)
    if example.scoring == "ties":
        raise UserError(f"item {example.id}: pairwise judging does not grade 'ties' items (RewardBench 2 Ties)")
    return [(f"c{i}-i{j}", c, r) for i, c in enumerate(example.correct) for j, r in enumerate(example.incorrect)]


def _pairwise_asks(example: Example, q: str, swap: SwapPolicy, seed: int) -> list[Ask]:
    asks = []
    for pair, chosen, rejected in _pairs(example):
        if swap == "both":
            orders = [CHOSEN_FIRST, CHOSEN_SECOND]
        elif swap == "random":
            orders = [derived_random(seed, f"{example.id}/{pair}", "swap").choice([CHOSEN_FIRST, CHOSEN_SECOND])]
        else:
            orders = [CHOSEN_FIRST]
        for order in orders:
            a, b = (chosen, rejected) if order == CHOSEN_FIRST else (rejected, chosen)
            asks.append(Ask(f"{pair}:{order}", {"question": q, "response_a": a, "response_b": b}, ("A", "B"),
                            {"pair": pair, "order": order}))
    return asks


def _rated_responses(example: Example) -> list[tuple[str, str]]:
    if isinstance(example, PairwiseExample):
        return [("chosen", side_text(example, "chosen")), ("rejected", side_text(example, "rejected"))]
    if isinstance(example, MultiResponseExample):
        return [(f"c{i}", t) for i, t in enumerate(example.correct)] + [
            (f"i{j}", t) for j, t in enumerate(example.incorrect)
        ]
    assert isinstance(example, PointwiseExample)
    return [("response", example.response)]


def _listwise_asks(example: Example, q: str, swap: SwapPolicy, seed: int) -> list[Ask]:
    assert isinstance(example, MultiResponseExample)
    if example.scoring != "best_of_n":
        raise UserError(
            f"item {example.id}: listwise judging handles best_of_n items, not '{example.scoring}'",
            hint="use --judge-mode pairwise (every correct x incorrect pair) or rating",
        )
    candidates = list(example.correct) + list(example.incorrect)
    n = len(candidates)
    base = list(range(n))
    derived_random(seed, example.id, "listwise").shuffle(base)
    perms = [base[k:] + base[:k] for k in range(n)] if swap == "both" else [base]
    choices = tuple(str(i + 1) for i in range(n))
    return [
        Ask(f"rot{k}", {"question": q, "responses": [candidates[c] for c in perm]}, choices, {"order": perm})
        for k, perm in enumerate(perms)
    ]


# ----------------------------------------------------------------------------------- assembling


def assemble(
    mode: JudgeMode, example: Example, asks: Sequence[Ask], answers: Sequence[Answer], settings: Mapping[str, Any]
) -> Prediction:
    """The prediction for one example: a ``judge`` block with every verdict and raw text."""
    records = []
    for ask, ans in zip(asks, answers, strict=True):
        rec = {"key": ask.key, **ask.info, **ans.record()}
        records.append(rec)
    block: dict[str, Any] = {"mode": mode, **settings, "asks": records}
    if mode == "pairwise":
        for rec in records:
            rec["picked"] = _picked(rec["verdict"], rec["order"])
            rec["p_chosen"] = _p_chosen(rec.get("probs"), rec["order"])
    elif mode == "listwise":
        assert isinstance(example, MultiResponseExample)
        n_correct = len(example.correct)
        for rec in records:
            slot = int(rec["verdict"]) - 1 if rec["verdict"] is not None else None
            rec["picked"] = rec["order"][slot] if slot is not None else None
            rec["picked_correct"] = None if slot is None else rec["picked"] < n_correct
    failed = [a.error for a in answers if a.error is not None]
    n_unparsed = sum(a.verdict is None and a.error is None for a in answers)
    extra = {"judge_requests": len(asks), "judge_unparseable": n_unparsed}
    if failed:
        extra["judge_failed_requests"] = len(failed)
    return Prediction(
        scores={"judge": block},
        tokens=sum(a.tokens for a in answers),
        invalid=n_unparsed > 0,
        extra=extra,
        error=f"{len(failed)} of {len(answers)} judge requests failed: {failed[0]}" if failed else None,
    )


def _picked(verdict: str | None, order: str) -> str | None:
    """Which response a pairwise verdict prefers: ``chosen``, ``rejected``, ``tie`` or None."""
    if verdict is None:
        return None
    if verdict == "TIE":
        return "tie"
    first = verdict == "A"
    return "chosen" if first == (order == CHOSEN_FIRST) else "rejected"


def _p_chosen(probs: Mapping[str, float] | None, order: str) -> float | None:
    if not probs or "A" not in probs or "B" not in probs:
        return None
    return float(probs["A"] if order == CHOSEN_FIRST else probs["B"])
