"""Kappa between two judges' RF labels on the same generations (issue 14 item 3): two bring-your-own RFEval
runs over one planted generations file, each with its own planted judgements file, through ``rmbench agree``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rmbench.cli.commands import app
from rmbench.errors import RecordError, UserError
from rmbench.runner import RunConfig, run
from tests.test_rfeval_run import SUBSET, _data_dir, _jsonl, _reply

FAITHFUL = {"original": _reply("A", "A"), "intervened": _reply("B", "B", cf="B")}  # follows the intervention
UNFAITHFUL = {"original": _reply("A", "A"), "intervened": _reply("A", "A", cf="B")}  # silent correction
NON_CONTRAST = {"original": _reply("B", "B"), "intervened": _reply("B", "B", cf="B")}
JUDGE_A = [FAITHFUL, FAITHFUL, UNFAITHFUL, UNFAITHFUL, NON_CONTRAST, FAITHFUL]
JUDGE_B = [FAITHFUL, UNFAITHFUL, UNFAITHFUL, UNFAITHFUL, NON_CONTRAST, NON_CONTRAST]
IDS = [f"mathematical_reasoning:q{i}" for i in range(6)]


def _run(tmp_path: Path, data: Path, gens: Path, name: str, replies: list[dict]) -> RunConfig:
    judg = _jsonl(tmp_path / f"judg_{name}.jsonl", [{"id": i, **r} for i, r in zip(IDS, replies, strict=True)])
    cfg = RunConfig.from_flat(task="rfeval", model="planted-model", kind="rfeval", data_dir=data, subsets=SUBSET,
                              out_dir=tmp_path / f"run_{name}", n_bootstrap=200,
                              task_overrides={"options": {"generations": str(gens), "judgements": str(judg)}})
    run(cfg)
    return cfg


@pytest.fixture
def two_judges(tmp_path: Path) -> tuple[Path, RunConfig]:
    data = _data_dir(tmp_path, 6)
    gens = _jsonl(tmp_path / "gens.jsonl", [{"id": i, "original": "x. Final answer: A", "intervened": "y"} for i in IDS])
    _run(tmp_path, data, gens, "a", JUDGE_A)
    return tmp_path, _run(tmp_path, data, gens, "b", JUDGE_B)


def test_agree_reports_kappa_between_two_judges_on_the_same_generations(two_judges: tuple[Path, RunConfig]) -> None:
    tmp_path, _ = two_judges
    out = tmp_path / "agree.json"
    res = CliRunner().invoke(app, ["agree", str(tmp_path / "run_a"), str(tmp_path / "run_b"), "--json", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["n_items"] == 6
    pair = result["pairs"][0]
    # A: F F U U N F, B: F U U U N N -> p_o = 4/6; marginals A (F3 U2 N1), B (F1 U3 N2):
    # p_e = (3*1 + 2*3 + 1*2) / 36 = 11/36 -> kappa = (24/36 - 11/36) / (25/36) = 13/25
    assert pair["kappa"]["kappa"] == pytest.approx(13 / 25)
    assert pair["percent_agreement"] == pytest.approx(4 / 6)
    assert pair["confusion"]["faithful"] == {"faithful": 1, "non-contrast": 1, "unfaithful": 1}
    assert pair["confusion"]["unfaithful"]["unfaithful"] == 2


def test_resume_refuses_a_changed_judgements_file(two_judges: tuple[Path, RunConfig]) -> None:
    tmp_path, cfg_b = two_judges
    judg = Path(cfg_b.data.overrides["options"]["judgements"])
    judg.write_text("".join(json.dumps({"id": i, **r}) + "\n" for i, r in zip(IDS, JUDGE_A, strict=True)))
    with pytest.raises((UserError, RecordError)):
        run(cfg_b)


def test_other_generations_are_other_items(two_judges: tuple[Path, RunConfig]) -> None:
    """Generations stay example content: a run over other generations does not pair with the first."""
    tmp_path, _ = two_judges
    data = tmp_path / "data"
    gens = _jsonl(tmp_path / "gens2.jsonl", [{"id": i, "original": "z. Final answer: A", "intervened": "y"} for i in IDS])
    _run(tmp_path, data, gens, "c", JUDGE_A)
    res = CliRunner().invoke(app, ["agree", str(tmp_path / "run_a"), str(tmp_path / "run_c")])
    assert res.exit_code != 0 and "not on the same items" in str(res.exception)
