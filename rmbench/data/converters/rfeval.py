"""RFEval records -> :class:`~rmbench.datatypes.RFEvalExample` (one example per instance).

Upstream schema (six task files of RFEval, Apache-2.0): ``task``, ``id``, ``question``, ``options``
(a list of option texts, a string of ``"A: ..."`` lines, or null), ``answer`` (``"D: 3"``, a bare
value such as ``"3"``, or null for code generation), ``content`` (source metadata; ``source`` names
the upstream dataset), ``r_prime`` (the counterfactual reasoning to inject) and ``explanation``
(what the intervention changed).

Stance set, as the authors derive it: option letters when there are options (``A``, ``B``, ...),
else ``correct`` / ``incorrect``; ``I don't know`` always last. The gold stance is the answer's
option letter, or ``correct`` for sets without options.

* id ``<task>:<id>`` (ids repeat across task files); subset = the task file's label; the cluster is
  the instance.
* options ``generations`` / ``judgements``: JSON-lines files brought from elsewhere
  (:mod:`rmbench.adapters.rfeval.provided`); their sides are attached to the matching examples:
  generations in ``provided`` (example content: hashed, so other generations are other items),
  judge replies in ``meta["judgements"]`` (the judge, not the example: left out of the content hash so
  two judges' runs over the same generations pair by id in ``rmbench agree``; the file's digest is in
  the run's identity instead, :func:`rmbench.adapters.rfeval.config.judgements_digest`).
"""

from __future__ import annotations

import re
from typing import Any

from rmbench.adapters.rfeval.provided import read_provided
from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_text
from rmbench.data.sources import Record
from rmbench.datatypes import RFEvalExample
from rmbench.errors import UserError

OPTIONS: dict[str, Any] = {"generations": None, "judgements": None}
UNKNOWN = "I don't know"
_LETTER_LINE = re.compile(r"(?m)^\s*([A-Z])\s*:\s*(.*)$")


def _options(ctx: ConvertContext) -> dict[str, Any]:
    unknown = sorted(set(ctx.options) - set(OPTIONS))
    if unknown:
        raise UserError(f"task '{ctx.spec.name}': unknown option(s) {unknown} for the rfeval converter",
                        hint=f"allowed: {', '.join(OPTIONS)}")
    return {**OPTIONS, **ctx.options}


def option_lines(options: Any) -> tuple[str, ...]:
    """Options as ``"A: text"`` lines (a list is lettered; a string keeps its own ``X: ...`` lines).

    >>> option_lines(["0", "1"])
    ('A: 0', 'B: 1')
    >>> option_lines("A: yes\\nB: no")
    ('A: yes', 'B: no')
    >>> option_lines(None)
    ()
    """
    if isinstance(options, list) and options:
        return tuple(f"{chr(65 + i)}: {str(o).strip()}" for i, o in enumerate(options))
    if isinstance(options, str):
        return tuple(f"{m.group(1)}: {m.group(2).strip()}" for m in _LETTER_LINE.finditer(options))
    return ()


def stance_set(lines: tuple[str, ...]) -> tuple[str, ...]:
    """The judge's stance set: option letters (in order, once each), else correct / incorrect; then I don't know.

    >>> stance_set(("A: 0", "B: 1"))
    ('A', 'B', "I don't know")
    >>> stance_set(())
    ('correct', 'incorrect', "I don't know")
    """
    letters = tuple(dict.fromkeys(line.split(":", 1)[0] for line in lines))
    return (letters or ("correct", "incorrect")) + (UNKNOWN,)


def gold_stance(answer: str, lines: tuple[str, ...]) -> str | None:
    """The stance of a correct final answer: the answer's leading option letter, or ``correct``.

    >>> gold_stance("D: 3", ("A: 0", "B: 1", "C: 2", "D: 3"))
    'D'
    >>> gold_stance("3", ())
    'correct'
    """
    if not lines:
        return "correct"
    m = re.match(r"\s*([A-Z])\b", answer)
    return m.group(1) if m and any(line.startswith(m.group(1) + ":") for line in lines) else None


def _provided(ctx: ConvertContext, opts: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    if "provided" not in ctx.state:
        ctx.state["provided"] = {
            what: read_provided(opts[what], what) if opts[what] else {} for what in ("generations", "judgements")
        }
    return ctx.state["provided"]  # type: ignore[no-any-return]


def convert(record: Record, ctx: ConvertContext) -> RFEvalExample:
    """One RFEval instance -> one example (see the module docstring)."""
    opts = _options(ctx)
    upstream_id = str(ctx.get(record, "id", types=(str, int)))
    task = read_text(ctx, record, "task")
    lines = option_lines(record.data.get("options"))
    if record.data.get("options") not in (None, "", []) and not lines:
        raise ctx.fail(record, "options given but no 'A: ...' lines found", field="options")
    answer = record.data.get("answer")
    answer = "" if answer is None else str(answer)
    gold = gold_stance(answer, lines)
    if gold is None:
        raise ctx.fail(record, f"answer {answer!r} names no option letter of {[x[0] for x in lines]}", field="answer")
    example_id = f"{task}:{upstream_id}"
    files = _provided(ctx, opts)
    provided = {"generations": files["generations"][example_id]} if example_id in files["generations"] else {}
    content = record.data.get("content")
    meta: dict[str, Any] = {"source": content.get("source")} if isinstance(content, dict) else {}
    if example_id in files["judgements"]:
        meta["judgements"] = files["judgements"][example_id]
    return RFEvalExample(
        id=example_id,
        subset=record.subset or task,
        prompt=({"role": "user", "content": read_text(ctx, record, "question")},),
        question=read_text(ctx, record, "question"),
        options=lines,
        answer=answer,
        stance_set=stance_set(lines),
        gold_stance=gold,
        r_prime=read_text(ctx, record, "r_prime"),
        intervention=str(record.data.get("explanation") or ""),
        provided=provided,
        meta=meta,
    )
