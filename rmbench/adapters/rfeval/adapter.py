"""The two RFEval stages over any generation backend: generate (original and intervened), then judge.

For each example (:class:`~rmbench.datatypes.RFEvalExample`):

1. **Generation.** The original run renders ``prompts/rfeval_generate.j2`` as the user turn and lets
   the model answer. The intervened run sends the same turn with ``assistant_prefix = r_prime``: the
   backend renders the chat template with ``add_generation_prompt`` and appends ``r_prime`` as the
   start of the assistant's reply, and the model continues from it. A template whose generation
   prompt opens a think block (``<think>``) puts ``r_prime`` inside it. A generation that stopped at
   EOS or a stop string is ``finished``; one cut at ``max_new_tokens`` is not.
2. **Judging.** Each finished output is split into parts (:mod:`~rmbench.adapters.rfeval.components`)
   and shown to the judge (``rfeval_judge_original.j2`` / ``rfeval_judge_intervened.j2``); the reply is
   parsed strictly (:mod:`~rmbench.adapters.rfeval.judgement`). Unfinished outputs are not judged
   (``unfinished = "skip"``, as the authors do) unless ``unfinished = "judge"``. With ``retries = N``
   an unparseable reply is asked again up to N times at ``retry_temperature`` with a derived seed.

Generations and replies given in files (:mod:`~rmbench.adapters.rfeval.provided`) replace the model's;
a backend is built only when some example needs it, so a run over files loads no model.

``scores["rfeval"]`` of each prediction::

    {"original": {"source": "model", "text": ..., "finished": true, "finish_reason": "stop"},
     "intervened": {...},                       # text = what the model wrote after r_prime
     "judge": {"original": {"source": "judge", "replies": [...], "judgement": {...} | null,
                            "error": null | "why the last reply was unparseable"},
               "intervened": {...}}}             # source "skipped" for unfinished outputs

and ``scores["label"]`` is the item's RF class (``faithful``, ``unfaithful``, ``non-contrast``,
``unjudged``), which ``rmbench agree`` compares between judges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rmbench.adapters.judge.prompts import PromptTemplate, load_prompt, render_messages
from rmbench.adapters.rfeval.components import split_output
from rmbench.adapters.rfeval.judgement import Judgement, Unparseable, parse_judgement
from rmbench.adapters.rfeval.metrics import outcome
from rmbench.adapters.rfeval.provided import SIDES
from rmbench.backends import Generation, GenerationBackend, GenerationRequest
from rmbench.datatypes import Example, Prediction, RFEvalExample
from rmbench.errors import UserError

BackendFactory = Callable[[], GenerationBackend]
UNFINISHED_POLICIES = ("skip", "judge")


@dataclass(frozen=True)
class RFEvalSettings:
    """How both stages run; recorded in the summary. ``max_new_tokens`` bounds each generation and
    ``judge_max_new_tokens`` each judge reply (tokens)."""

    max_new_tokens: int = 1024
    judge_max_new_tokens: int = 1024
    retries: int = 0
    retry_temperature: float = 0.7
    unfinished: Literal["skip", "judge"] = "skip"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.unfinished not in UNFINISHED_POLICIES:
            raise UserError(f"--unfinished '{self.unfinished}': expected skip or judge")


class RFEvalAdapter:
    """Generation and judging for RFEval (see the module docstring)."""

    kind = "rfeval"

    def __init__(self, generator: BackendFactory, judge: BackendFactory | None, settings: RFEvalSettings,
                 model_id: str = "", judge_id: str = "") -> None:
        self._factories: dict[str, BackendFactory | None] = {"generator": generator, "judge": judge}
        self._built: dict[str, GenerationBackend] = {}
        self.settings = settings
        self.model_id, self.judge_id = model_id, judge_id or model_id
        self.templates: dict[str, PromptTemplate] = {
            "generate": load_prompt("rfeval_generate"),
            "original": load_prompt("rfeval_judge_original"),
            "intervened": load_prompt("rfeval_judge_intervened"),
        }

    def _backend(self, role: str) -> GenerationBackend:
        """The generator or the judge backend, built on first use (the judge is the generator when
        no judge model was given)."""
        if role == "judge" and self._factories["judge"] is None:
            role = "generator"
        if role not in self._built:
            factory = self._factories[role]
            assert factory is not None
            self._built[role] = factory()
        return self._built[role]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "model": self.model_id, "judge_model": self.judge_id,
            "rfeval": asdict(self.settings),
            "prompts": {name: t.describe() for name, t in self.templates.items()},
        }  # fmt: skip

    # ------------------------------------------------------------------------------ stages

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        exs = [e for e in examples if isinstance(e, RFEvalExample)]
        if len(exs) != len(examples):
            raise UserError("--kind rfeval scores RFEval examples only (task example_kind: rfeval)")
        gens, errors, tokens = self._generate(exs)
        judged = self._judge(exs, gens, errors, tokens)
        preds = []
        for i in range(len(exs)):
            block = {**{side: gens[i, side] for side in SIDES}, "judge": judged.get(i, {})}
            invalid = any(j.get("judgement") is None and j.get("source") in ("judge", "file")
                          for j in block["judge"].values())
            preds.append(Prediction(scores={"rfeval": block, "label": rf_label(block)}, tokens=tokens.get(i, 0),
                                    invalid=invalid, error=errors.get(i)))
        return preds

    def _generate(self, exs: Sequence[RFEvalExample]) -> tuple[dict[tuple[int, str], dict[str, Any]], dict[int, str], dict[int, int]]:
        gens: dict[tuple[int, str], dict[str, Any]] = {}
        asks: list[tuple[tuple[int, str], GenerationRequest]] = []
        for i, ex in enumerate(exs):
            given = ex.provided.get("generations", {})
            messages = render_messages(self.templates["generate"], {"question": ex.question, "options": list(ex.options)})
            for side in SIDES:
                if side in given:
                    gens[i, side] = {"source": "file", **given[side]}
                    continue
                prefix = ex.r_prime if side == "intervened" else ""
                asks.append(((i, side), GenerationRequest(messages, max_new_tokens=self.settings.max_new_tokens,
                                                          assistant_prefix=prefix)))
        errors: dict[int, str] = {}
        tokens: dict[int, int] = {}
        outs = self._backend("generator").generate([r for _, r in asks]) if asks else []
        for (key, _), g in zip(asks, outs, strict=True):
            gens[key] = _generation_record(g)
            tokens[key[0]] = tokens.get(key[0], 0) + g.prompt_tokens + g.completion_tokens
            if g.error is not None:
                errors[key[0]] = f"generation ({key[1]}): {g.error}"
        return gens, errors, tokens

    def _judge(self, exs: Sequence[RFEvalExample], gens: Mapping[tuple[int, str], Mapping[str, Any]],
               errors: dict[int, str], tokens: dict[int, int]) -> dict[int, dict[str, dict[str, Any]]]:
        out: dict[int, dict[str, dict[str, Any]]] = {}
        pending: list[tuple[int, str, tuple[dict[str, str], ...]]] = []
        for i, ex in enumerate(exs):
            if i in errors:
                continue
            out[i] = {}
            given = ex.meta.get("judgements", {})  # not hashed: see converters/rfeval.py
            for side in SIDES:
                if side in given:
                    out[i][side] = _read_reply(given[side], ex, side, {"source": "file", "replies": [given[side]]})
                elif not gens[i, side]["finished"] and self.settings.unfinished == "skip":
                    out[i][side] = {"source": "skipped", "reason": "unfinished generation", "judgement": None}
                else:
                    pending.append((i, side, self._judge_messages(ex, side, gens[i, side]["text"])))
                    out[i][side] = {"source": "judge", "replies": [], "judgement": None, "error": None}
        for attempt in range(self.settings.retries + 1):
            todo = [(i, side, m) for i, side, m in pending if out[i][side]["judgement"] is None]
            if not todo:
                break
            requests = [self._judge_request(m, exs[i].id, side, attempt) for i, side, m in todo]
            for (i, side, _), g in zip(todo, self._backend("judge").generate(requests), strict=True):
                tokens[i] = tokens.get(i, 0) + g.prompt_tokens + g.completion_tokens
                if g.error is not None:
                    errors[i] = f"judge ({side}): {g.error}"
                    continue
                record = out[i][side]
                record["replies"].append(g.text)
                out[i][side] = _read_reply(g.text, exs[i], side, record)
        return out

    def _judge_messages(self, ex: RFEvalExample, side: str, text: str) -> tuple[dict[str, str], ...]:
        parts = split_output(text)
        values: dict[str, Any] = {
            "question": ex.question, "options": list(ex.options), "answer_key": ex.answer,
            "stance_set": list(ex.stance_set), "reasoning": parts.reasoning, "explanation": parts.explanation,
            "answer": parts.answer,
        }  # fmt: skip
        if side == "intervened":
            values["counterfactual"] = ex.r_prime
        return render_messages(self.templates[side], values)

    def _judge_request(self, messages: tuple[dict[str, str], ...], item: str, side: str, attempt: int) -> GenerationRequest:
        if attempt == 0:
            return GenerationRequest(messages, max_new_tokens=self.settings.judge_max_new_tokens)
        key = f"{self.settings.seed}|{item}|{side}|{attempt}".encode()
        seed = int.from_bytes(hashlib.sha256(key).digest()[:4], "big")
        return GenerationRequest(messages, max_new_tokens=self.settings.judge_max_new_tokens,
                                 temperature=self.settings.retry_temperature, seed=seed)


def _generation_record(g: Generation) -> dict[str, Any]:
    record: dict[str, Any] = {"source": "model", "text": g.text, "finished": g.finish_reason == "stop",
                              "finish_reason": g.finish_reason}
    if g.extra.get("truncated_tokens"):
        record["prompt_truncated_tokens"] = g.extra["truncated_tokens"]
    return record


def _read_reply(reply: Any, ex: RFEvalExample, side: str, record: dict[str, Any]) -> dict[str, Any]:
    try:
        judgement = parse_judgement(reply, ex.stance_set, intervened=side == "intervened")
    except Unparseable as exc:
        return {**record, "judgement": None, "error": str(exc)}
    return {**record, "judgement": judgement.to_dict(), "error": None}


def judgements_of(block: Mapping[str, Any]) -> tuple[Judgement | None, Judgement | None]:
    """(original, intervened) judgements stored in a ``scores["rfeval"]`` block (None: not judged/parsed)."""
    judge = block.get("judge", {})
    found = []
    for side in SIDES:
        d = judge.get(side, {}).get("judgement")
        found.append(Judgement.from_dict(d) if d is not None else None)
    return found[0], found[1]


def rf_label(block: Mapping[str, Any]) -> str:
    """The item's RF class: faithful / unfaithful (contrast items), non-contrast, or unjudged."""
    o = outcome(*judgements_of(block))
    if o.contrast is None:
        return "unjudged"
    if not o.contrast:
        return "non-contrast"
    return "faithful" if o.rf else "unfaithful"
