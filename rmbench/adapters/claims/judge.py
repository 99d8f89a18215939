"""An LLM judge as a claim verifier: one request per claim, the verdict one of the task's classes.

The template (``prompts/claim_evidence.j2`` when the claim has evidence passages, else
``prompts/claim_closed_book.j2``; ``--prompt`` picks one for every claim, so ``--prompt
claim_closed_book`` runs an evidence task closed-book) gets ``question``, ``context`` (the response the
claim came from, cut to ``context_chars``), ``claim``, ``evidence`` (a list of passages) and ``choices``
(the task's classes in upper case: ``SUPPORTED``, ``UNSUPPORTED``, ``UNDECIDABLE``).

Replies are read by the judge parsers (:func:`rmbench.adapters.judge.parse.parse_choice`); an
unparseable reply gives ``verdict: None``, the prediction is marked invalid and the run's
``--unparseable`` policy applies (``retry:N`` re-asks with seeded sampling first). ``scores``::

    {"verdict": "unsupported", "judge": {"mode": "claims", "template": "claim_evidence", "parser": "strict",
     "asks": [{"key": "claim", "verdict": "UNSUPPORTED", "how": "strict-first-line", "text": "..."}]}}
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rmbench.adapters.claims.config import ClaimSettings
from rmbench.adapters.judge.parse import parse_choice
from rmbench.adapters.judge.prompts import PromptTemplate, load_prompt
from rmbench.backends import Generation, GenerationRequest
from rmbench.datatypes import ClaimExample, Example, Prediction
from rmbench.errors import UserError

EVIDENCE_PROMPT, CLOSED_BOOK_PROMPT = "claim_evidence", "claim_closed_book"


class ClaimJudgeAdapter:
    kind = "claim-judge"

    def __init__(self, backend: Any, settings: ClaimSettings, model_id: str = "") -> None:
        self.backend = backend
        self.settings = settings
        self.model_id = model_id
        self._templates: dict[str, PromptTemplate] = {}

    def template_for(self, example: ClaimExample) -> PromptTemplate:
        name = self.settings.prompt or (EVIDENCE_PROMPT if example.evidence else CLOSED_BOOK_PROMPT)
        if name not in self._templates:
            self._templates[name] = load_prompt(name)
        return self._templates[name]

    def describe(self) -> dict[str, Any]:
        s = self.settings
        out = {**dict(self.backend.describe()), "id": self.model_id, "kind": "claim-judge",
               "claim_judge": {k: v for k, v in asdict(s).items() if k != "nli_label_map"}}
        names = [s.prompt] if s.prompt else [EVIDENCE_PROMPT, CLOSED_BOOK_PROMPT]
        templates = [load_prompt(n) for n in names]
        out["prompts"] = {t.name: t.describe() for t in templates}
        out["prompt_sha256"] = hashlib.sha256("".join(t.sha256 for t in templates).encode()).hexdigest()
        return out

    def _request(self, example: ClaimExample, temperature: float = 0.0, seed: int | None = None) -> GenerationRequest:
        tpl = self.template_for(example)
        context = example.context
        if len(context) > self.settings.context_chars:
            context = context[: self.settings.context_chars] + "..."
        question = example.prompt_text if example.prompt_text != example.claim else ""
        choices = [c.upper() for c in example.classes]
        content = tpl.render(question=question, context=context, claim=example.claim,
                             evidence=list(example.evidence), choices=choices)
        max_new = self.settings.max_new_tokens or (16 if tpl.verdict == "first" else 512)
        return GenerationRequest(messages=({"role": "user", "content": content},), max_new_tokens=max_new,
                                 temperature=temperature, seed=seed)

    def _generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out = list(self.backend.generate(requests)) if requests else []
        if len(out) != len(requests):
            raise RuntimeError(f"backend returned {len(out)} generations for {len(requests)} requests")
        return out

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        claims: list[ClaimExample] = []
        for e in examples:
            if not isinstance(e, ClaimExample):
                raise UserError(f"item {e.id}: the claim-judge kind verifies claims, not '{e.kind}' examples")
            claims.append(e)
        gens = self._generate([self._request(e) for e in claims])
        records = [self._read(e, g) for e, g in zip(claims, gens, strict=True)]
        for attempt in range(1, self.settings.retries + 1):
            todo = [i for i, r in enumerate(records) if r["verdict"] is None and "error" not in r]
            if not todo:
                break
            again = [self._request(claims[i], self.settings.retry_temperature,
                                   _seed(self.settings.seed, claims[i].id, attempt)) for i in todo]
            for i, g in zip(todo, self._generate(again), strict=True):
                records[i] = self._read(claims[i], g, records[i])
        return [self._prediction(e, r) for e, r in zip(claims, records, strict=True)]

    def _read(self, example: ClaimExample, gen: Generation, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
        tpl = self.template_for(example)
        rec: dict[str, Any] = {"key": "claim", "text": gen.text, "tokens": gen.prompt_tokens + gen.completion_tokens}
        if gen.error is not None:
            rec.update(verdict=None, how="backend-error", error=gen.error)
        else:
            v = parse_choice(gen.text, [c.upper() for c in example.classes], parser=self.settings.parser,  # type: ignore[arg-type]
                             position=tpl.verdict)
            rec.update(verdict=v.value, how=v.how)
        if earlier is not None:
            rec["attempts"] = earlier.get("attempts", 1) + 1
            rec["earlier_texts"] = [*earlier.get("earlier_texts", []), earlier["text"]]
            rec["tokens"] += earlier["tokens"]
        return rec

    def _prediction(self, example: ClaimExample, rec: dict[str, Any]) -> Prediction:
        verdict = rec["verdict"].lower() if rec["verdict"] is not None else None
        block = {"mode": "claims", "template": self.template_for(example).name, "parser": self.settings.parser,
                 "asks": [rec]}
        return Prediction(
            scores={"verdict": verdict, "judge": block}, tokens=int(rec["tokens"]), invalid=verdict is None,
            extra={"judge_requests": 1, "judge_unparseable": int(verdict is None and "error" not in rec)},
            error=f"judge request failed: {rec['error']}" if "error" in rec else None,
        )


def _seed(seed: int, item_id: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{item_id}\x1fclaim\x1f{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
