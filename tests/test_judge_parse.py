"""Verdict parsing: the strict parser takes only the requested format, the lenient one reads prose."""

from __future__ import annotations

import pytest

from rmbench.adapters.judge.parse import parse_choice, parse_rating

AB = ("A", "B")
ABT = ("A", "B", "TIE")
YN = ("YES", "NO")

# (reply, strict verdict, lenient verdict) for prompts that ask for the verdict first
PAIRWISE_FIRST = [
    ("A", "A", "A"),
    ("B", "B", "B"),
    ("B.", "B", "B"),
    ("**A**", "A", "A"),
    ("[[B]]", "B", "B"),
    ("Verdict: A", "A", "A"),
    ("b", "B", "B"),
    ("A\n\nReply A answers the question directly while B drifts off topic.", "A", "A"),
    ("<think>Reply A looks wrong, B is right.</think>\nB", "B", "B"),
    ("Reply B", None, "B"),
    ("Reply B is better because it follows the word limit.", None, "B"),
    ("Output (a) is better.", None, "A"),
    ("The better response is Response A.", None, "A"),
    ("After comparing both, my final answer is: **B**", None, "B"),
    ("A is better because it is concise.", None, "A"),
    ("A good reply should mention Paris. Reply B does.", None, "B"),
    ("Assistant B provides a more accurate answer.", None, "B"),
    ("I'm ready to help. What can", None, None),
    ("Both replies are fine.", None, None),
    ("", None, None),
    ("   \n  ", None, None),
]


@pytest.mark.parametrize(("reply", "strict", "lenient"), PAIRWISE_FIRST)
def test_pairwise_verdict_first(reply: str, strict: str | None, lenient: str | None) -> None:
    assert parse_choice(reply, AB, parser="strict", position="first").value == strict
    assert parse_choice(reply, AB, parser="lenient", position="first").value == lenient


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ("Reply A misses the constraint. Reply B keeps it.\nVerdict: B", "B", "B"),
        ("Looking at both...\n\n**Verdict:** A", "A", "A"),
        ("Reasoning here.\n[[A]]", "A", "A"),
        ("Reasoning here.\nFinal verdict: [[B]]", "B", "B"),
        ("[[A]] is my pick.\nI explained it above.", None, "A"),
        ("Reply A is clearly better.\nThat is all.", None, "A"),
    ],
)
def test_pairwise_verdict_last(reply: str, strict: str | None, lenient: str | None) -> None:
    assert parse_choice(reply, AB, parser="strict", position="last").value == strict
    assert parse_choice(reply, AB, parser="lenient", position="last").value == lenient


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [("TIE", "TIE", "TIE"), ("tie.", "TIE", "TIE"), ("They are equal, so a tie.", None, "TIE"), ("C", None, "TIE")],
)
def test_tie_choice(reply: str, strict: str | None, lenient: str | None) -> None:
    assert parse_choice(reply, ABT, parser="strict").value == strict
    assert parse_choice(reply, ABT, parser="lenient").value == lenient


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ("YES", "YES", "YES"),
        ("Yes.", "YES", "YES"),
        ("no", "NO", "NO"),
        ("NO\nThe candidate never states a number.", "NO", "NO"),
        ("Answer: yes", "YES", "YES"),
        ("The candidate answer is not correct.", None, "NO"),
        ("The answer is correct.", None, "YES"),
        ("It gives no final answer. Verdict: NO", None, "NO"),
        ("The candidate's answer is incorrect because 6 is not 8.", None, "NO"),
        ("Sure! Let me check the steps first", None, None),
    ],
)
def test_yes_no(reply: str, strict: str | None, lenient: str | None) -> None:
    assert parse_choice(reply, YN, parser="strict").value == strict
    assert parse_choice(reply, YN, parser="lenient").value == lenient


def test_strict_rejects_echo_of_the_instructions() -> None:
    echo = "YES if the candidate answer is correct"
    assert parse_choice(echo, YN, parser="strict").value is None


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ("3", "3", "3"),
        ("Reply 2", None, "2"),
        ("The best reply is Reply 4.", None, "4"),
        ("I choose #1 because it is correct.", None, "1"),
        ("5", None, None),  # only four replies
        ("Reply 2 has 3.5 errors", None, "2"),
    ],
)
def test_listwise_numbers(reply: str, strict: str | None, lenient: str | None) -> None:
    choices = ("1", "2", "3", "4")
    assert parse_choice(reply, choices, parser="strict").value == strict
    assert parse_choice(reply, choices, parser="lenient").value == lenient


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ("8", "8", "8"),
        ("10", "10", "10"),
        ("Rating: 7", "7", "7"),
        ("[[9]]", "9", "9"),
        ("I would rate it 8/10.", None, "8"),
        ("The score is 6 out of 10", None, "6"),
        ("Grade: 7.5 overall", None, "7.5"),
        ("11", None, None),
        ("0", None, None),
        ("It has 12 mistakes, so 4", None, "4"),
    ],
)
def test_ratings(reply: str, strict: str | None, lenient: str | None) -> None:
    assert parse_rating(reply, parser="strict").value == strict
    assert parse_rating(reply, parser="lenient").value == lenient


def test_rule_names_are_reported() -> None:
    assert parse_choice("A", AB).how == "strict-first-line"
    assert parse_choice("Reply B", AB, parser="lenient").how == "named-response"
    assert parse_choice("nothing", AB, parser="lenient").how == "unparseable"


def test_unknown_parser_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_choice("A", AB, parser="fuzzy")  # type: ignore[arg-type]


# ------------------------------------------------------------ non-answers stay unparseable (issue 10.5)


@pytest.mark.parametrize(
    ("reply", "choices"),
    [
        ("Neither A nor B is correct", AB),
        ("Neither A nor B is correct.", ABT),
        ("Not A", AB),
        ("not B.", AB),
        ("I cannot decide between A and B", AB),
        ("I can't decide between Reply A and Reply B.", AB),
        ("I am unable to choose between A and B.", AB),
        ("There is no clear winner between A and B.", AB),
        ("A is not better than B, and B is not better than A.", AB),
        ("Reply A isn't correct.", AB),
        ("The candidate does not say YES", YN),
        ("I cannot determine whether the answer is YES or NO.", YN),
    ],
)
def test_lenient_never_reads_a_negation_or_refusal_as_a_verdict(reply: str, choices: tuple[str, ...]) -> None:
    for position in ("first", "last"):
        assert parse_choice(reply, choices, parser="lenient", position=position).value is None  # type: ignore[arg-type]
        assert parse_choice(reply, choices, parser="strict", position=position).value is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "lenient"),
    [
        ("B is better, not A.", "B"),
        ("I prefer Reply A rather than Reply B.", "A"),
        ("After some doubt I could not decide at first. Verdict: B", "B"),
        ("Reply A is wrong. Reply B is correct.", "B"),
    ],
)
def test_lenient_still_reads_verdicts_next_to_negations(reply: str, lenient: str) -> None:
    assert parse_choice(reply, AB, parser="lenient").value == lenient


@pytest.mark.parametrize("reply", ["A?", "B?", "Verdict: A?", "[[A]]?", "YES?"])
def test_a_question_is_not_a_verdict(reply: str) -> None:
    choices = YN if "YES" in reply else AB
    assert parse_choice(reply, choices, parser="strict").value is None
    assert parse_choice(reply, choices, parser="lenient").value is None


@pytest.mark.parametrize("reply", ["-3", "Rating: -3", "I'd say -3/10.", "−4", "Score -2"])
def test_negative_ratings_are_not_read_as_positive(reply: str) -> None:
    assert parse_rating(reply, parser="strict").value is None
    assert parse_rating(reply, parser="lenient").value is None
