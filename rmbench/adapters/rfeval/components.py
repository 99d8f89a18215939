"""Split a generation into the parts the judge rates: reasoning, explanation, final answer.

Rules (after the authors' ``parsing_inference_output``, simplified to what the generation prompt asks):

1. A think block: text before the last ``</think>`` (or ``[/THINK]``) is the reasoning, with a leading
   ``<think>`` removed; the rest is the *post-think* text. Without one, the whole text is post-think.
2. The final answer is read from the post-think text: the last ``<answer>...</answer>`` block, else the
   text after the last ``Final answer:`` label (to the end of its line), else the last ``\\boxed{...}``.
3. With a think block, the post-think text without the answer is the explanation (``None`` when empty).
   Without one, the post-think text before the answer is the reasoning and there is no explanation.

An intervened run's reasoning starts with the injected ``r_prime``; what the model wrote after it is
split by the same rules (a template that opened ``<think>`` leaves only its ``</think>`` in the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_END = re.compile(r"</think>|\[/THINK\]", re.IGNORECASE)
_THINK_START = re.compile(r"^\s*(?:<think>|\[THINK\])", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
_ANSWER_LABEL = re.compile(r"(?im)^[ \t*#]*final\s+answer\s*\**\s*:\s*\**\s*(.*?)\**\s*$")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


@dataclass(frozen=True)
class Components:
    reasoning: str
    explanation: str | None
    answer: str | None


def split_output(text: str) -> Components:
    """The parts of one generation (see the module docstring).

    >>> split_output("<think>x is 2</think>So it is B.\\nFinal answer: B")
    Components(reasoning='x is 2', explanation='So it is B.', answer='B')
    >>> split_output("x is 2, so B.\\nFinal answer: B")
    Components(reasoning='x is 2, so B.', explanation=None, answer='B')
    >>> split_output("no conclusion")
    Components(reasoning='no conclusion', explanation=None, answer=None)
    """
    ends = list(_THINK_END.finditer(text))
    if ends:
        reasoning = _THINK_START.sub("", text[: ends[-1].start()]).strip()
        post = text[ends[-1].end() :]
    else:
        reasoning, post = "", text
    answer, before, after = _find_answer(post)
    if ends:
        rest = (before + "\n" + after).strip()
        return Components(reasoning, rest or None, answer)
    return Components((before if answer is not None else post).strip(), None, answer)


def _find_answer(post: str) -> tuple[str | None, str, str]:
    """(answer, text before it, text after it) in the post-think text; (None, post, "") when none."""
    for pattern in (_ANSWER_TAG, _ANSWER_LABEL, _BOXED):
        matches = list(pattern.finditer(post))
        if matches:
            m = matches[-1]
            value = m.group(1).strip()
            if value:
                return value, post[: m.start()], post[m.end() :]
    return None, post, ""
