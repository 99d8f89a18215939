"""A judge behind a flaky OpenAI-compatible server, end to end through ``rmbench run``.

The server is the real HTTP stand-in of ``test_openai_backend`` (stdlib ``http.server`` on
127.0.0.1; the real OpenAI API cannot be reached here). It plays a judge that is always right
(it answers the letter of the reply containing ``GOOD``) and can be switched to an outage (HTTP 503
with a message), a flaky mode (N times 503, then OK) or a broken gateway (HTTP 200 with a body that
is not a completion). ``rmbench`` runs as a separate process, exactly as a user starts it.

What must hold: a backend error is never a verdict. It is stored as an error with the server's text,
counted in no denominator, retried on the next run, and N consecutive failures abort the run with
the server's message (exit 2) while everything already scored stays saved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_openai_backend import Reply, StandInServer, completion, prompt_of

OUTAGE = "model overloaded: the judge is down for maintenance"


class FlakyJudge:
    """A responder: a perfect judge with switchable failure modes.

    ``mode``: ``up``; ``down`` (503 with :data:`OUTAGE`); ``flaky`` (503 for the first ``fail_first``
    attempts of each prompt); ``malformed`` (HTTP 200 whose body is not a completion);
    ``down_for`` (503 only for prompts containing one of the ``down_for`` markers).
    """

    def __init__(self) -> None:
        self.mode = "up"
        self.fail_first = 0
        self.down_for: tuple[str, ...] = ()

    def __call__(self, body: dict[str, Any], before: int) -> Reply:
        prompt = prompt_of(body)
        unavailable = Reply(503, {"error": {"message": OUTAGE}}, headers={"Retry-After": "0"})
        if self.mode == "down" or (self.mode == "flaky" and before < self.fail_first):
            return unavailable
        if self.mode == "down_for" and any(marker in prompt for marker in self.down_for):
            return unavailable
        if self.mode == "malformed":
            return Reply(body={"choices": [{"message": {"content": {"oops": 1}}}], "usage": 5})
        verdict = "A" if prompt.index("GOOD") < prompt.index("BAD") else "B"
        return Reply(body=completion(verdict))


@pytest.fixture
def judge_server() -> Iterator[tuple[FlakyJudge, StandInServer]]:
    judge = FlakyJudge()
    server = StandInServer(judge)
    yield judge, server
    server.close()


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"id": f"q{i}", "prompt": f"Question {i}?", "chosen": f"GOOD answer {i}", "rejected": f"BAD answer {i}"}
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def rmbench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": ""}
    code = "from rmbench.cli.commands import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def judge_run(server: StandInServer, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rmbench(
        "run", "--task", "pairs", "--data-file", str(data), "--kind", "judge", "--backend", "openai",
        "--api-base", server.base_url, "--model", "stand-in-model", "--out", str(out),
        "--n-bootstrap", "50", "--quiet", *extra,
    )  # fmt: skip


def items_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines() if line.strip()]


def sent_for(server: StandInServer, item: str) -> int:
    return sum(f"Question {item[1:]}?" in prompt_of(s.body) for s in server.seen)


def test_outage_aborts_with_the_servers_message_then_a_rerun_recovers(
    judge_server: tuple[FlakyJudge, StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    judge, server = judge_server
    out = tmp_path / "run"
    judge.mode = "down"
    result = judge_run(server, pairs_file, out)
    assert result.returncode == 2, result.stderr
    assert "HTTP 503" in result.stderr and OUTAGE in result.stderr and "Traceback" not in result.stderr
    assert "consecutive" in result.stderr
    stored = items_of(out)
    assert stored, "the failed items are recorded as errors"
    for item in stored:
        assert item["extra"]["error"] and item["metrics"] == {} and item["invalid"] == 0
    assert any(OUTAGE in item["extra"]["error"] for item in stored)
    assert not (out / "summary.json").exists() or json.loads((out / "summary.json").read_text())

    judge.mode = "up"
    seen_before = len(server.seen)
    result = judge_run(server, pairs_file, out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    overall = summary["results"]["overall"]
    assert overall["metrics"]["accuracy"]["value"] == 1.0 and overall["metrics"]["accuracy"]["n"] == 6
    assert summary["results"]["errors"]["n_items"] == 0
    assert len(server.seen) - seen_before == 12  # every item asked again, both orders


def test_a_partial_outage_is_reported_not_counted_and_retried_on_resume(
    judge_server: tuple[FlakyJudge, StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    judge, server = judge_server
    out = tmp_path / "run"
    judge.mode, judge.down_for = "down_for", ("Question 2?",)
    result = judge_run(server, pairs_file, out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    res = summary["results"]
    assert res["overall"]["metrics"]["accuracy"]["value"] == 1.0  # the failed item is not counted wrong
    assert res["overall"]["metrics"]["accuracy"]["n"] == 5 and res["overall"]["invalid"] == 0
    assert res["errors"]["n_items"] == 1 and res["errors"]["by_subset"] == {"all": 1}
    assert OUTAGE in res["errors"]["examples"][0]["error"]
    report = (out / "report.md").read_text()
    assert "backend errors" in report and "1 item" in report and OUTAGE in report
    assert "1 item failed at the backend" in result.stderr

    judge.mode = "up"
    asked_for_q2, asked_for_q0 = sent_for(server, "q2"), sent_for(server, "q0")
    result = judge_run(server, pairs_file, out)
    assert result.returncode == 0, result.stderr
    assert sent_for(server, "q2") - asked_for_q2 == 2  # the error item is pending again
    assert sent_for(server, "q0") == asked_for_q0  # graded items are reused
    res = json.loads((out / "summary.json").read_text())["results"]
    assert res["overall"]["metrics"]["accuracy"]["n"] == 6 and res["errors"]["n_items"] == 0


def test_503_a_few_times_then_ok_gives_the_right_verdicts(
    judge_server: tuple[FlakyJudge, StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    judge, server = judge_server
    judge.mode, judge.fail_first = "flaky", 2
    result = judge_run(server, pairs_file, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    res = json.loads((tmp_path / "run" / "summary.json").read_text())["results"]
    assert res["overall"]["metrics"]["accuracy"]["value"] == 1.0 and res["errors"]["n_items"] == 0
    assert len(server.seen) == 12 * 3


def test_a_malformed_200_body_is_an_error_not_a_verdict(
    judge_server: tuple[FlakyJudge, StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    judge, server = judge_server
    judge.mode = "malformed"
    out = tmp_path / "run"
    result = judge_run(server, pairs_file, out, "--max-consecutive-errors", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "malformed response" in result.stderr and "usage" in result.stderr
    assert all("malformed response" in it["extra"]["error"] for it in items_of(out))
    judge.mode = "up"
    assert judge_run(server, pairs_file, out).returncode == 0
    res = json.loads((out / "summary.json").read_text())["results"]
    assert res["overall"]["metrics"]["accuracy"]["value"] == 1.0


def test_abort_can_be_turned_off(
    judge_server: tuple[FlakyJudge, StandInServer], pairs_file: Path, tmp_path: Path
) -> None:
    judge, server = judge_server
    judge.mode = "down"
    out = tmp_path / "run"
    result = judge_run(server, pairs_file, out, "--max-consecutive-errors", "0")
    assert result.returncode == 0, result.stderr
    res = json.loads((out / "summary.json").read_text())["results"]
    assert res["errors"]["n_items"] == 6 and res["overall"]["n_items"] == 0
    assert res["overall"]["metrics"] == {} or res["overall"]["metrics"]["accuracy"]["value"] is None
    assert "6 items failed at the backend" in result.stderr



def test_consecutive_errors_count_across_chunks_and_reset_on_a_graded_item() -> None:
    from rmbench.datatypes import ItemResult
    from rmbench.errors import UserError
    from rmbench.results.item_errors import ConsecutiveErrors

    def item(i: int, error: str | None) -> ItemResult:
        return ItemResult(f"q{i}", "all", f"q{i}", "h", {}, {}, extra={"error": error} if error else {})

    streak = ConsecutiveErrors(3)
    streak.check([item(0, "HTTP 503: x"), item(1, "HTTP 503: x")])
    streak.check([item(2, None), item(3, "HTTP 503: x")])  # a graded item resets the count
    streak.check([item(4, "HTTP 503: y")])
    with pytest.raises(UserError, match="3 consecutive items.*HTTP 503: z"):
        streak.check([item(5, "HTTP 503: z")])
    ConsecutiveErrors(0).check([item(i, "HTTP 503") for i in range(50)])  # 0: never stops
    with pytest.raises(UserError, match="max-consecutive-errors"):
        ConsecutiveErrors(-1)
