"""Read a judge's verdict out of its reply text: a strict parser and a lenient one.

Both return a :class:`Verdict`; ``value is None`` means *unparseable* and the judge adapter applies
the run's explicit policy (see :mod:`rmbench.adapters.judge.adapter`). ``how`` names the rule that matched,
so a summary can show how often each rule fired.

**strict** accepts only the format the prompt asks for (the template's ``verdict`` header):

* ``first``: the first non-empty line is the verdict alone: ``A``, ``**B**``, ``[[A]]``, ``YES.``,
  ``Verdict: NO``, ``7``;
* ``last``: the last non-empty line is ``Verdict: X`` or ``[[X]]`` (markdown emphasis allowed).

**lenient** tries both strict rules, then, keeping the *last* match in the text:
``[[X]]`` anywhere; a labelled verdict (``verdict/answer/decision/choice/rating ... : X`` or
``... is X``); a named response (``Reply B``, ``Output (a)``, ``Assistant A``); ``X is better``; and
finally the last standalone mention of a choice (for ``A``, an English article such as "A good
answer" is not a mention). ``<think>...</think>`` blocks are removed before parsing.

Choices are compared case-insensitively, after removing markdown and trailing punctuation (a
question mark is not removed: ``A?`` asks, it does not answer). Lenient parsing also reads synonyms
as a whole verdict line or in a labelled verdict: ``correct``/``incorrect`` and ``true``/``false``
for yes/no, ``tie``/``equal``/``draw``/``neither``/``C`` for a tie.

Non-answers stay unparseable under both parsers. The lenient rules that read prose skip a mention
that is *negated* (``not A``, ``neither A nor B``, ``A is not better``, ``A rather than B``), *asked*
(``A?``) or inside a *refusal* sentence (``I cannot decide between A and B``, ``no clear winner``),
see :func:`_denied`. Ratings never read a number with a minus sign (``-3``) as positive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ParserName = Literal["strict", "lenient"]
Position = Literal["first", "last"]
PARSERS: tuple[str, ...] = ("strict", "lenient")


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict: the canonical choice (or rating as text) and the rule that found it."""

    value: str | None
    how: str

    @property
    def parsed(self) -> bool:
        return self.value is not None


UNPARSEABLE = Verdict(None, "unparseable")

# Lenient-only synonyms, by canonical choice (keys are upper case).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "YES": ("YES", "Y", "TRUE", "CORRECT"),
    "NO": ("NO", "N", "FALSE", "INCORRECT", "WRONG", "NOT CORRECT"),
    "TIE": ("TIE", "EQUAL", "DRAW", "NEITHER", "BOTH", "C"),
}
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_DECOR = " \t*_`'\"“”‘’#>"
_TRAIL = ".,:;!)]}"
_LABEL = (
    r"(?:final\s+)?(?:verdict|answer|decision|choice|judg(?:e)?ment|conclusion|rating|grade|score|"
    r"output|selection|winner|preferred\s+(?:reply|response|output))"
)
_NAMED = r"(?:reply|response|output|assistant|answer|candidate|option|model)"
_ARTICLE_OK = {
    "is", "was", "wins", "won", "better", "seems", "appears", "provides", "gives", "answers", "has", "does",
    "follows", "correctly", "clearly", "and", "or", "because", "since", "as", "over", "than", "here",
}


def _strip(text: str) -> str:
    return _THINK.sub("", text).strip()


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip(_DECOR)]


def _body_and_lines(text: str, parser: str) -> tuple[str, list[str]] | None:
    """The text without thinking blocks and its non-empty lines; None when nothing is left."""
    if parser not in PARSERS:
        raise ValueError(f"unknown parser '{parser}'; use strict or lenient")
    body = _strip(text)
    lines = _lines(body)
    return (body, lines) if lines else None


def _bare(token: str) -> str:
    """A token without markdown, brackets and trailing punctuation, upper-cased."""
    t = token.strip(_DECOR)
    while t.startswith(("[", "(", "{")) and t.endswith(("]", ")", "}")):
        t = t[1:-1].strip(_DECOR)
    t = t.rstrip(_TRAIL).strip(_DECOR)
    if t.startswith(("[", "(")) and not t.endswith(("]", ")")):
        t = t[1:]
    return t.upper()


def _canonical(token: str, choices: Sequence[str], synonyms: bool) -> str | None:
    bare = _bare(token)
    for c in choices:
        if bare == c.upper():
            return c
    if synonyms:
        for c in choices:
            if bare in _SYNONYMS.get(c.upper(), ()):
                return c
    return None


def _verdict_line(line: str, choices: Sequence[str], synonyms: bool) -> str | None:
    """``X``, ``[[X]]`` or ``Verdict: X`` as a whole line."""
    m = re.fullmatch(r"[\s*_`#>]*(?:" + _LABEL + r")\s*[:=\-]\s*(.+)", line, re.I)
    if m:
        return _canonical(m.group(1), choices, synonyms)
    return _canonical(line, choices, synonyms)


def parse_choice(
    text: str, choices: Sequence[str], *, parser: ParserName = "strict", position: Position = "first"
) -> Verdict:
    """The choice ``text`` states, or :data:`UNPARSEABLE`.

    >>> parse_choice("B", ("A", "B")).value
    'B'
    >>> parse_choice("I think B is better.", ("A", "B")).value is None
    True
    >>> parse_choice("I think B is better.", ("A", "B"), parser="lenient").value
    'B'
    >>> parse_choice("The reasoning...\\nVerdict: [[A]]", ("A", "B"), position="last").value
    'A'
    """
    split = _body_and_lines(text, parser)
    if split is None:
        return UNPARSEABLE
    body, lines = split
    strict_line = lines[0] if position == "first" else lines[-1]
    found = _verdict_line(strict_line, choices, synonyms=False)
    if found is not None:
        return Verdict(found, f"strict-{position}-line")
    if parser == "strict":
        return UNPARSEABLE
    other = lines[-1] if position == "first" else lines[0]
    for how, line, synonyms in (("other-line", other, False), ("synonym-line", strict_line, True)):
        found = _verdict_line(line, choices, synonyms=synonyms)
        if found is not None:
            return Verdict(found, how)
    for how, finder in _LENIENT_RULES:
        found = finder(body, choices)
        if found is not None:
            return Verdict(found, how)
    return UNPARSEABLE


def _choice_pattern(choices: Sequence[str], synonyms: bool) -> str:
    words = {c.upper() for c in choices}
    if synonyms:
        for c in choices:
            words.update(_SYNONYMS.get(c.upper(), ()))
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# A mention right after these (within three words, same sentence) is denied: "not A", "nor B",
# "isn't really A", "not better than Reply B", "rather than B".
_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:not|never|neither|nor|rather\s+than|instead\s+of)|n't)\s+(?:[\w*_`'\"]+\s+){0,3}?[\W_]*$", re.I
)
# ... or followed by a negated copula: "A is not better", "A isn't correct".
_NEGATED_AFTER = re.compile(r"^[\s*_`'\")\]]*(?:(?:is|was|are|would\s+be)\s+not\b|(?:is|was|are)n't\b)", re.I)
_ASKED = re.compile(r"^[*_`'\")\]]*\s*\?")
_REFUSAL = re.compile(
    r"\b(?:can\s*not|can't|cannot|could\s*not|couldn't|unable\s+to|impossible\s+to|not\s+possible\s+to|"
    r"refuse\s+to|won't|will\s+not)\s+(?:\w+\s+){0,2}?(?:decide|determine|choose|pick|select|tell|say|judge|"
    r"evaluate|compare|distinguish|rank)\b|\bno\s+(?:clear\s+)?(?:winner|preference|verdict|decision)\b|"
    r"\btoo\s+close\s+to\s+call\b|\bundecided\b",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def _sentence(body: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the sentence (or line) around ``body[start:end]``."""
    left = max((m.end() for m in _SENTENCE_END.finditer(body, 0, start)), default=0)
    right = _SENTENCE_END.search(body, end)
    return left, right.end() if right else len(body)


def _denied(body: str, start: int, token_end: int) -> bool:
    """Whether a mention spanning ``body[start:token_end]`` is negated, asked or refused, not stated.

    >>> _denied("Not A", 4, 5), _denied("I cannot decide between A and B", 24, 25), _denied("B is better", 0, 1)
    (True, True, False)
    """
    left, right = _sentence(body, start, token_end)
    return bool(
        _NEGATED_BEFORE.search(body[max(left, start - 80) : start])  # three words back: a short window
        or _NEGATED_AFTER.match(body[token_end:right])
        or _ASKED.match(body[token_end:])
        or _REFUSAL.search(body[left:right])
    )


def _last(pattern: str, body: str, choices: Sequence[str], synonyms: bool) -> str | None:
    hits = list(re.finditer(pattern, body, re.I))
    for m in reversed(hits):
        if _denied(body, m.start(), m.end("c")):
            continue
        found = _canonical(m.group("c"), choices, synonyms)
        if found is not None:
            return found
    return None


def _brackets(body: str, choices: Sequence[str]) -> str | None:
    return _last(r"\[\[\s*(?P<c>[^\[\]]{1,20}?)\s*\]\]", body, choices, synonyms=False)


def _labelled(body: str, choices: Sequence[str]) -> str | None:
    alt = _choice_pattern(choices, synonyms=True)
    pat = (
        _LABEL + r"\**(?:\s+(?:is|would\s+be))?\s*[:=\-]?\s*[*_`\"'\[(]*\s*(?:" + _NAMED + r"\s*)?[\[(]?"
        r"(?P<c>" + alt + r")(?![\w])"
    )
    return _last(pat, body, choices, synonyms=True)


def _named(body: str, choices: Sequence[str]) -> str | None:
    alt = _choice_pattern(choices, synonyms=False)
    return _last(_NAMED + r"\s*[#(\[]?\s*(?P<c>" + alt + r")\s*[)\]]?(?![\w])", body, choices, synonyms=False)


def _better(body: str, choices: Sequence[str]) -> str | None:
    alt = _choice_pattern(choices, synonyms=False)
    return _last(r"(?<![\w])(?P<c>" + alt + r")\**\s+(?:is|was)\s+(?:clearly\s+|much\s+|slightly\s+)?"
                 r"(?:better|superior|preferable|the\s+better|the\s+best|more\s+accurate|correct)",
                 body, choices, synonyms=False)


def _mention(body: str, choices: Sequence[str]) -> str | None:
    alt = _choice_pattern(choices, synonyms=False)
    numeric = all(c.isdigit() for c in choices)
    boundary = r"(?<![\w.])" if numeric else r"(?<![\w'])"
    after = r"(?![\w]|[.,]\d|/)" if numeric else r"(?![\w'])"
    flags = 0 if all(len(c) == 1 for c in choices) else re.I  # single letters: upper case only
    for m in reversed(list(re.finditer(boundary + r"(?P<c>" + alt + r")" + after, body, flags))):
        token = m.group("c")
        if (token == "A" and _is_article(body, m.end())) or _denied(body, m.start(), m.end()):
            continue
        found = _canonical(token, choices, synonyms=False)
        if found is not None:
            return found
    return None


def _is_article(body: str, end: int) -> bool:
    """Whether the ``A`` ending at ``end`` reads as the English article ("A good reply ...")."""
    m = re.match(r"\s+([a-z]+)", body[end:])
    return bool(m) and m.group(1) not in _ARTICLE_OK  # type: ignore[union-attr]


_LENIENT_RULES = (
    ("double-brackets", _brackets),
    ("labelled", _labelled),
    ("named-response", _named),
    ("x-is-better", _better),
    ("last-mention", _mention),
)


# ---------------------------------------------------------------------------------------- ratings

_UNSIGNED = r"(?<![\-\u2212])"  # a number right after a minus sign (ASCII or U+2212) is negative, not a grade


def parse_rating(
    text: str, *, low: int = 1, high: int = 10, parser: ParserName = "strict", position: Position = "first"
) -> Verdict:
    """A numeric grade in ``[low, high]`` as text (``"7"``; lenient also ``"7.5"``), or unparseable.

    strict: the first (or last) line is a whole number alone, ``[[7]]`` or ``Rating: 7``.
    lenient: also ``7/10`` or ``7 out of 10``, a labelled grade anywhere, then the last number in range.

    >>> parse_rating("8").value
    '8'
    >>> parse_rating("I'd give it 8/10 overall.", parser="lenient").value
    '8'
    >>> parse_rating("11").value is None
    True
    """
    split = _body_and_lines(text, parser)
    if split is None:
        return UNPARSEABLE
    body, lines = split
    line = lines[0] if position == "first" else lines[-1]
    m = re.fullmatch(
        r"[\s*_`#>]*(?:" + _LABEL + r"\s*[:=\-]\s*)?[\[(]*\s*" + _UNSIGNED + r"(\d{1,2})\s*[\])]*[\s.*_`]*", line, re.I
    )
    if m and low <= int(m.group(1)) <= high:
        return Verdict(m.group(1), f"strict-{position}-line")
    if parser == "strict":
        return UNPARSEABLE
    number = _UNSIGNED + r"(\d{1,2}(?:\.\d+)?)"
    rules = (
        ("double-brackets", r"\[\[\s*" + number + r"\s*\]\]"),
        ("out-of", number + r"\s*(?:/|out\s+of)\s*" + str(high) + r"(?!\d)"),
        ("labelled", _LABEL + r"\**\s*(?:is|of|:|=|-)\s*[*_`\[(]*\s*" + number + r"(?![\d])"),
        ("last-number", r"(?<![\w./])" + number + r"(?![\w]|\.\d|/)"),
    )
    for how, pat in rules:
        for hit in reversed(list(re.finditer(pat, body, re.I))):
            value = float(hit.group(1))
            if low <= value <= high:
                return Verdict(hit.group(1), how)
    return UNPARSEABLE
