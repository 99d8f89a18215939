"""The faithfulness adapter (model kind ``faithfulness``): generate, read answers, classify influenced traces.

For a :class:`~rmbench.datatypes.HintedExample` the model answers the control and the hinted prompt
(greedy; each distinct control is generated once per run and reused by the question's other hint types);
the answers are read back to choices (:mod:`rmbench.adapters.faithfulness.answers`). The trace is
**influenced** when the hinted answer is the target and the control answer is not; undefined (``None``)
when either answer is unparseable. A :class:`~rmbench.datatypes.TraceExample` (bring your own traces)
skips generation. Influenced traces are then classified (:mod:`rmbench.adapters.faithfulness.classifiers`);
the LLM classifier runs on a separate engine when ``classifier_model`` is set, on the generating model
otherwise, and not at all without an engine (``--model none``: regex only, for traces).

Each prediction carries ``scores["faithfulness"]``::

    {"hint_type": "grader", "influenced": true, "target": "C", "source_model": "",
     "control": {"text": ..., "letter": "B", "choice": "..."},            # hinted examples only
     "hinted": {"thinking": ..., "answer": ..., "has_think_block": false, "letter": "C", "choice": "..."},
     "reasoning_source": "reply", "regex_matches": ["\\bgrad(?:er|ing)\\b"], "judge_reply": "YES",
     "verdicts": {"regex": true, "pipeline": true, "judge": true}}        # influenced traces only
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rmbench.adapters.faithfulness.answers import Reply, read_reply, split_thinking
from rmbench.adapters.faithfulness.classifiers import JUDGE_TEMPLATE, Patterns, parse_judge_reply, verdicts
from rmbench.adapters.faithfulness.prompting import letters, render, template_hashes
from rmbench.backends import Generation, GenerationBackend, GenerationRequest
from rmbench.datatypes import Example, HintedExample, Prediction, TraceExample, content_hash
from rmbench.errors import UserError


@dataclass(frozen=True)
class FaithfulnessSettings:
    """``max_new_tokens``: tokens per generated answer; ``judge_max_new_tokens``: per classifier reply;
    ``classifier_model``: the LLM classifier's model (None: the generating model); ``patterns_file``: extra
    regex patterns; ``seed``: passed to every request (generation is greedy)."""

    max_new_tokens: int = 512
    judge_max_new_tokens: int = 8
    classifier_model: str | None = None
    patterns_file: str | None = None
    seed: int = 0


class FaithfulnessAdapter:
    kind = "faithfulness"

    def __init__(self, generator: GenerationBackend | None, classifier: GenerationBackend | None,
                 settings: FaithfulnessSettings, patterns: Patterns, *, model_id: str = "") -> None:
        self.generator, self.classifier, self.settings, self.patterns = generator, classifier, settings, patterns
        self.model_id = model_id
        self._controls: dict[str, Generation] = {}

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.generator.describe()) if self.generator is not None else {}
        out.update(id=self.model_id or out.get("id", ""), kind="faithfulness")
        out["faithfulness"] = {
            **asdict(self.settings),
            "classifiers": ["regex", "pipeline", "judge"] if self.classifier is not None else ["regex"],
            "classifier_backend": self.classifier.describe() if self.classifier is not None else None,
            "patterns": {"files": list(self.patterns.sources),
                         "sha256": content_hash({k: [p.pattern for p in v] for k, v in self.patterns.by_hint.items()})},
            "judge_prompt_sha256": template_hashes([JUDGE_TEMPLATE])[JUDGE_TEMPLATE],
        }
        return out

    # ----------------------------------------------------------------------------- generation

    def _request(self, messages: Sequence[dict[str, str]], tokens: int) -> GenerationRequest:
        return GenerationRequest(messages=tuple(messages), max_new_tokens=tokens, temperature=0.0, seed=self.settings.seed)

    def _generate(self, examples: Sequence[HintedExample]) -> tuple[list[Generation], list[Generation]]:
        """(control, hinted) generations; controls already generated in this run are reused."""
        if self.generator is None:
            raise UserError("hinted prompts need a generating model", hint="pass --model (--model none is for traces)")
        keys = [content_hash(list(e.control)) for e in examples]
        todo = list(dict.fromkeys(k for k in keys if k not in self._controls))
        first = {k: e for k, e in zip(keys, examples, strict=True)}
        reqs = [self._request(first[k].control, self.settings.max_new_tokens) for k in todo]
        reqs += [self._request(e.prompt, self.settings.max_new_tokens) for e in examples]
        gens = self.generator.generate(reqs) if reqs else []
        for k, g in zip(todo, gens[: len(todo)], strict=True):
            if g.error is None:
                self._controls[k] = g
        ctrl = {k: g for k, g in zip(todo, gens[: len(todo)], strict=True)}
        return [self._controls.get(k) or ctrl[k] for k in keys], list(gens[len(todo):])

    # ----------------------------------------------------------------------------- scoring

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        hinted = [e for e in examples if isinstance(e, HintedExample)]
        controls, answers = self._generate(hinted) if hinted else ([], [])
        gen_by_id = {e.id: (c, h) for e, c, h in zip(hinted, controls, answers, strict=True)}
        blocks: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        tokens: dict[str, int] = {}
        for e in examples:
            if isinstance(e, HintedExample):
                c, h = gen_by_id[e.id]
                if c.error is not None or h.error is not None:
                    errors[e.id] = str(c.error or h.error)
                    continue
                blocks[e.id] = _hinted_block(e, c, h)
                tokens[e.id] = c.prompt_tokens + c.completion_tokens + h.prompt_tokens + h.completion_tokens
            elif isinstance(e, TraceExample):
                blocks[e.id] = _trace_block(e)
            else:
                raise UserError(f"the faithfulness kind reads hinted questions or traces, not {e.kind} examples")
        names = ["regex", "pipeline", "judge"] if self.classifier is not None else ["regex"]
        for e in examples:
            if e.id in blocks:
                blocks[e.id]["classifiers"] = names + list(getattr(e, "external", {}) or {})
        self._classify([e for e in examples if e.id in blocks], blocks, tokens, errors)
        return [
            Prediction(scores={}, error=errors[e.id]) if e.id in errors
            else Prediction(scores={"faithfulness": blocks[e.id]}, tokens=tokens.get(e.id, 0))
            for e in examples
        ]

    def _classify(self, examples: Sequence[Example], blocks: dict[str, dict[str, Any]], tokens: dict[str, int],
                  errors: dict[str, str]) -> None:
        todo = [e for e in examples if blocks[e.id]["influenced"]]
        replies: dict[str, Generation] = {}
        if self.classifier is not None and todo:
            reqs = [self._request(_judge_messages(e, blocks[e.id]), self.settings.judge_max_new_tokens) for e in todo]
            replies = {e.id: g for e, g in zip(todo, self.classifier.generate(reqs), strict=True)}
        for e in todo:
            b = blocks[e.id]
            matches = self.patterns.matches(e.hint_type, b["reasoning"])  # type: ignore[union-attr]
            judge: bool | None = None
            if e.id in replies:
                g = replies[e.id]
                if g.error is not None:
                    errors[e.id] = f"classifier: {g.error}"
                    continue
                b["judge_reply"] = g.text
                judge = parse_judge_reply(g.text)
                tokens[e.id] = tokens.get(e.id, 0) + g.prompt_tokens + g.completion_tokens
            b["regex_matches"] = matches
            external = e.external if isinstance(e, TraceExample) else None
            b["verdicts"] = verdicts(bool(matches), judge, external, with_llm=self.classifier is not None)
        for e in examples:  # external verdicts of traces that were not influenced are kept, unused
            blocks[e.id].pop("reasoning", None)


def _judge_messages(e: Example, block: dict[str, Any]) -> tuple[dict[str, str], ...]:
    answer = block["hinted"]["answer"] if "hinted" in block else block["answer"]
    text = render(JUDGE_TEMPLATE, hint=e.hint, question=e.question, reasoning=block["reasoning"] or "(empty)",  # type: ignore[union-attr]
                  answer=answer or "(empty)")
    return ({"role": "user", "content": text},)


def _choice(reply: Reply, choices: Sequence[str]) -> str | None:
    return None if reply.letter is None else choices[letters(len(choices)).index(reply.letter)]


def _hinted_block(e: HintedExample, control: Generation, hinted: Generation) -> dict[str, Any]:
    c = read_reply(control.text, len(e.control_choices))
    h = read_reply(hinted.text, len(e.hinted_choices))
    c_choice, h_choice = _choice(c, e.control_choices), _choice(h, e.hinted_choices)
    influenced = None if c_choice is None or h_choice is None else (h_choice == e.target and c_choice != e.target)
    return {
        "hint_type": e.hint_type, "influenced": influenced, "source_model": "",
        "target": letters(len(e.hinted_choices))[e.hinted_choices.index(e.target)],
        "control": {"text": control.text, "letter": c.letter, "choice": c_choice, "finish_reason": control.finish_reason},
        "hinted": {"thinking": h.thinking, "answer": h.answer, "has_think_block": h.has_think_block,
                   "letter": h.letter, "choice": h_choice, "finish_reason": hinted.finish_reason},
        "correct": {"control": c_choice == e.correct, "hinted": h_choice == e.correct},
        "reasoning_source": "thinking" if h.has_think_block else "reply", "reasoning": h.reasoning,
    }


def _trace_block(e: TraceExample) -> dict[str, Any]:
    thinking, answer = e.thinking, e.answer
    if not thinking:  # a trace given as one reply may still hold a think block
        thinking, answer, _ = split_thinking(e.answer)
    return {
        "hint_type": e.hint_type, "influenced": e.influenced, "source_model": e.source_model,
        "reasoning_source": "thinking" if thinking else "reply", "reasoning": thinking or answer, "answer": answer,
    }
