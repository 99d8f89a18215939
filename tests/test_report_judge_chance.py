"""The judge report compares the judge with chance by its interval: below, above, or not distinguishable.

Each case is a real run (``rmbench.runner.run`` on the ``pairs`` task) against the HTTP stand-in
server of ``test_openai_backend`` playing a judge that is always right, always wrong, or right on
every other item; the sentence is checked in ``report.md`` and in the terminal view. The lenient
run also checks that the summary counts which parser rule read each reply.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_openai_backend import Reply, StandInServer, completion, prompt_of

from rmbench.adapters.judge.report import chance_verdict
from rmbench.reports.run_report import render_terminal
from rmbench.runner import RunConfig, run

N_ITEMS = 20


def judge_of(right: Callable[[int], bool], say: Callable[[str], str] = lambda letter: letter) -> Callable[..., Reply]:
    """A responder that picks the GOOD reply on items where ``right(i)``, the BAD one elsewhere."""

    def respond(body: dict[str, Any], before: int) -> Reply:
        prompt = prompt_of(body)
        item = int(prompt.split("Question ")[1].split("?")[0])
        good_first = prompt.index("GOOD") < prompt.index("BAD")
        letter = "A" if good_first == right(item) else "B"
        return Reply(body=completion(say(letter)))

    return respond


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"id": f"q{i:02d}", "prompt": f"Question {i}?", "chosen": f"GOOD {i}", "rejected": f"BAD {i} " + "x" * (i % 3)}
        for i in range(N_ITEMS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def start() -> Iterator[Callable[[Callable[..., Reply]], StandInServer]]:
    servers: list[StandInServer] = []

    def serve(responder: Callable[..., Reply]) -> StandInServer:
        servers.append(StandInServer(responder))
        return servers[-1]

    yield serve
    for s in servers:
        s.close()


def judged(server: StandInServer, data: Path, out: Path, parser: str = "strict") -> dict[str, Any]:
    cfg = RunConfig.from_flat(
        task="pairs", model="stand-in-model", kind="judge", backend="openai", api_base=server.base_url,
        task_overrides={"source": {"local": {"files": [str(data)]}}}, out_dir=out, n_bootstrap=200,
        parser=parser,
    )  # fmt: skip
    return run(cfg).summary


def terminal_text(summary: dict[str, Any]) -> str:
    console = Console(width=100, record=True, force_terminal=False)
    console.print(render_terminal(summary, width=100))
    return console.export_text()


@pytest.mark.parametrize(
    ("right", "expected", "not_expected"),
    [
        (lambda i: False, "below chance", "above chance"),
        (lambda i: True, "above chance", "below chance"),
        (lambda i: i % 2 == 0, "not distinguishable from chance", "above chance"),
    ],
    ids=["always-wrong", "always-right", "half-right"],
)
def test_chance_sentence_follows_the_interval(
    start: Callable[[Callable[..., Reply]], StandInServer], pairs_file: Path, tmp_path: Path,
    right: Callable[[int], bool], expected: str, not_expected: str,
) -> None:  # fmt: skip
    summary = judged(start(judge_of(right)), pairs_file, tmp_path / "run")
    report = (tmp_path / "run" / "report.md").read_text()
    chance_line = next(line for line in report.splitlines() if "random choice scores 50%" in line)
    assert expected in chance_line and not_expected not in chance_line, chance_line
    terminal = " ".join(terminal_text(summary).split())  # rich wraps long lines
    assert f"this judge is {expected}" in terminal and not_expected not in terminal, terminal


def test_chance_verdict_needs_an_interval() -> None:
    assert chance_verdict({"value": 0.0, "low": 0.0, "high": 0.0}) == "**below chance**"
    assert chance_verdict({"value": 1.0, "low": None, "high": None}).startswith("without an interval")
    assert chance_verdict({"value": 0.2, "low": 0.1, "high": 0.4}, unparsed=0.3).endswith("count against it)")
    assert chance_verdict({"value": 0.5, "low": 0.5, "high": 0.5}) == "**not distinguishable from chance**"


def test_lenient_rule_counts_are_in_the_summary_and_report(
    start: Callable[[Callable[..., Reply]], StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    def prose(letter: str) -> str:
        return {"A": "A", "B": "I think Reply B is better."}[letter]

    summary = judged(start(judge_of(lambda i: True, prose)), pairs_file, tmp_path / "run", parser="lenient")
    rules = summary["results"]["verdict_rules"]
    assert rules == {"named-response": N_ITEMS, "strict-first-line": N_ITEMS}
    report = (tmp_path / "run" / "report.md").read_text()
    assert "replies read by parser rule: `named-response` 20, `strict-first-line` 20" in report
