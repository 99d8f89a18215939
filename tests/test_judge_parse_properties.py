"""Property-based tests (hypothesis) for the judge's verdict parsers (:mod:`rmbench.adapters.judge.parse`).

The example tables in ``test_judge_parse`` pin known replies; these properties hold for any text:
the parsers never raise, return only a listed choice (or a grade in range), strict answers only when
its line states the verdict, lenient reads everything strict reads the same way, and negations,
questions and refusals are never read as verdicts.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rmbench.adapters.judge.parse import parse_choice, parse_rating

CHOICE_SETS = [("A", "B"), ("A", "B", "TIE"), ("YES", "NO"), ("1", "2", "3", "4")]
WORDS = [
    "A", "B", "a", "b", "TIE", "YES", "no", "Yes", "1", "2", "3", "4", "7", "10", "-3", "7/10", "Reply", "Response",
    "Output", "Verdict:", "Answer:", "Rating:", "[[", "]]", "[[A]]", "[[B]]", "**", "(", ")", "is", "better", "not",
    "neither", "nor", "cannot", "decide", "between", "and", "the", "correct", "incorrect", "?", ".", ",", "\n",
    "\n\n", "<think>", "</think>", "I", "think", "choose", "over", "rather", "than", "−",
]  # fmt: skip

choice_sets = st.sampled_from(CHOICE_SETS)
parsers = st.sampled_from(["strict", "lenient"])
positions = st.sampled_from(["first", "last"])
# Free text plus text built from the words the rules look for, so every rule gets exercised.
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=30).map(" ".join),
)


def verdict_line(text: str, position: str) -> str:
    """The line strict reads: the first or last non-empty line outside ``<think>`` blocks."""
    body = re.sub(r"<think>.*?(</think>|$)", "", text, flags=re.S | re.I)
    lines = [ln for ln in body.splitlines() if ln.strip(" \t*_`'\"“”‘’#>")]
    return lines[0] if position == "first" else lines[-1]


@settings(max_examples=300, deadline=None)
@given(text=texts, choices=choice_sets, parser=parsers, position=positions)
def test_parse_choice_never_raises_and_returns_a_listed_choice(
    text: str, choices: tuple[str, ...], parser: str, position: str
) -> None:
    verdict = parse_choice(text, choices, parser=parser, position=position)  # type: ignore[arg-type]
    assert verdict.value is None or verdict.value in choices
    assert isinstance(verdict.how, str) and verdict.how
    assert (verdict.value is None) == (verdict.how == "unparseable")


@settings(max_examples=300, deadline=None)
@given(text=texts, choices=choice_sets, position=positions)
def test_strict_answers_only_when_its_line_states_the_verdict(
    text: str, choices: tuple[str, ...], position: str
) -> None:
    verdict = parse_choice(text, choices, parser="strict", position=position)  # type: ignore[arg-type]
    if verdict.value is None:
        return
    line = verdict_line(text, position)
    token = re.compile(r"(?<![0-9A-Za-z])" + re.escape(verdict.value) + r"(?![0-9A-Za-z])", re.I)
    assert token.search(line), (text, verdict)
    assert not re.search(re.escape(verdict.value) + r"[\s*_`'\")\]]*\?", line, re.I), (text, verdict)
    assert verdict.how == f"strict-{position}-line"


@settings(max_examples=300, deadline=None)
@given(text=texts, choices=choice_sets, position=positions)
def test_lenient_reads_whatever_strict_reads_the_same_way(
    text: str, choices: tuple[str, ...], position: str
) -> None:
    strict = parse_choice(text, choices, parser="strict", position=position)  # type: ignore[arg-type]
    if strict.value is not None:
        assert parse_choice(text, choices, parser="lenient", position=position) == strict  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(text=texts, parser=parsers, position=positions, high=st.sampled_from([5, 10]))
def test_parse_rating_never_raises_and_stays_in_range(text: str, parser: str, position: str, high: int) -> None:
    verdict = parse_rating(text, low=1, high=high, parser=parser, position=position)  # type: ignore[arg-type]
    if verdict.value is not None:
        assert 1 <= float(verdict.value) <= high
        assert verdict.value in text
    rating = parse_rating(text, high=high, parser="strict", position=position)  # type: ignore[arg-type]
    if rating.value is not None:
        assert parse_rating(text, high=high, parser="lenient", position=position) == rating  # type: ignore[arg-type]


NEGATED = [
    "Not {a}", "not {a}.", "Neither {a} nor {b} is correct.", "Neither {a} nor {b}",
    "I cannot decide between {a} and {b}.", "I can't decide between Reply {a} and Reply {b}",
    "I am unable to choose between {a} and {b}.", "There is no clear winner between {a} and {b}.",
    "{a} is not better than {b}, and {b} is not better than {a}.", "Reply {a} isn't correct.", "{a}?",
    "Is it {a}?", "Verdict: {a}?", "I refuse to pick {a} or {b}.", "It is too close to call: {a} or {b}.",
]  # fmt: skip
DECOR = ["{}", "**{}**", "*{}*", "`{}`", "({})", "Response {}"]


@settings(max_examples=300, deadline=None)
@given(
    template=st.sampled_from(NEGATED), choices=choice_sets, data=st.data(), parser=parsers, position=positions,
    decor=st.sampled_from(DECOR), lower=st.booleans(),
)  # fmt: skip
def test_negations_questions_and_refusals_never_parse(
    template: str, choices: tuple[str, ...], data: st.DataObject, parser: str, position: str, decor: str, lower: bool
) -> None:
    a, b = data.draw(st.permutations(choices))[:2]
    if lower:
        a, b = a.lower(), b.lower()
    text = template.format(a=decor.format(a), b=decor.format(b))
    verdict = parse_choice(text, choices, parser=parser, position=position)  # type: ignore[arg-type]
    assert verdict.value is None, (text, verdict)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 10), form=st.sampled_from(["-{}", "−{}", "Rating: -{}", "I'd say -{}/10.", "Score -{}"]),
    parser=parsers,
)  # fmt: skip
def test_negative_ratings_never_parse(n: int, form: str, parser: str) -> None:
    assert parse_rating(form.format(n), parser=parser).value is None  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    choices=choice_sets, data=st.data(), position=positions,
    form=st.sampled_from(["{}", "**{}**", "[[{}]]", "Verdict: {}", "{}.", "Final verdict: [[{}]]"]),
)  # fmt: skip
def test_strict_reads_the_requested_format(
    choices: tuple[str, ...], data: st.DataObject, position: str, form: str
) -> None:
    choice = data.draw(st.sampled_from(choices))
    line = form.format(choice)
    text = f"{line}\nSome explanation." if position == "first" else f"Some reasoning.\n{line}"
    if position == "first" and form.startswith("Final"):
        return  # "Final verdict: [[X]]" is the reason-first format
    assert parse_choice(text, choices, parser="strict", position=position).value == choice  # type: ignore[arg-type]
