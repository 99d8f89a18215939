"""Run options in typed groups (rmbench.config): checked once from their types, and the same run identity
as the flat ``RunConfig`` they replaced, so run directories written before still resume.

``fixtures/config_pins.json`` was written by the flat ``RunConfig`` (before the groups): for each case,
the options, the manifest's ``config`` block and the default run directory. ``fixtures/run_dirs/
llmbar-random-flat-config`` is a real run directory that code wrote (``rmbench run --task llmbar
--bundled --limit 2 --model baseline:random --kind baseline --seed 4 --tie-policy half --n-bootstrap 50``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rmbench.cli.commands import app
from rmbench.config import (
    FLAT_NAMES,
    CriticOptions,
    DataOptions,
    EngineOptions,
    JudgeOptions,
    PolicyOptions,
    ProcessOptions,
    RunConfig,
)
from rmbench.errors import UserError
from rmbench.results.manifest import config_block
from rmbench.runner import default_run_dir, run

FIXTURES = Path(__file__).parent / "fixtures"
PINS = json.loads((FIXTURES / "config_pins.json").read_text(encoding="utf-8"))


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"path"}:
        return Path(value["path"])
    if isinstance(value, list):
        return tuple(value)
    return value


@pytest.mark.parametrize("case", sorted(PINS))
def test_config_block_and_run_folder_are_those_of_the_flat_config(case: str) -> None:
    """The keys and values run.json's ``config`` holds (the run identity) and the default folder name."""
    pin = PINS[case]
    options = {k: _decode(v) for k, v in pin["options"].items()}
    cfg = RunConfig.from_flat(**options)
    assert json.loads(json.dumps(config_block(cfg, "wrong"))) == pin["config"]
    assert str(default_run_dir(cfg, options["task"])) == pin["run_dir"]


def test_a_run_directory_of_the_flat_config_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(FIXTURES / "run_dirs" / "llmbar-random-flat-config", out)
    before = json.loads((out / "summary.json").read_text())
    cfg = RunConfig(
        model="baseline:random", kind="baseline", out=out,
        data=DataOptions(task="llmbar", bundled=True, limit=2),
        policy=PolicyOptions(seed=4, tie_policy="half", n_bootstrap=50),
    )  # fmt: skip
    outcome = run(cfg)
    assert (outcome.scored_now, outcome.reused) == (0, 2)
    assert outcome.summary["results"] == before["results"]
    with pytest.raises(UserError, match="different configuration"):
        run(RunConfig.from_flat(task="llmbar", model="baseline:random", kind="baseline", out_dir=out, use_bundled=True,
                                limit=2, seed=5, tie_policy="half", n_bootstrap=50))


@pytest.mark.parametrize(("build", "message"), [
    (lambda: EngineOptions(dtype="float8"), "--dtype 'float8': expected one of auto, float32, bfloat16, float16"),
    (lambda: EngineOptions(backend="tgi"), "--backend 'tgi': expected one of transformers, vllm, openai"),
    (lambda: EngineOptions(max_batch_size=0), "--max-batch-size 0: must be at least 1"),
    (lambda: EngineOptions(threads=1.5), "--threads 1.5: expected a whole number"),
    (lambda: PolicyOptions(tie_policy="maybe"), "--tie-policy 'maybe': expected one of wrong, half, exclude"),
    (lambda: PolicyOptions(max_consecutive_errors=-1), "--max-consecutive-errors -1: must be at least 0"),
    (lambda: PolicyOptions(seed=True), "--seed True: expected a whole number"),
    (lambda: JudgeOptions(mode="duel"), "--judge-mode 'duel': expected one of auto, pairwise"),
    (lambda: JudgeOptions(parser="loose"), "--parser 'loose'"),
    (lambda: ProcessOptions(head="value"), "--prm-head 'value': expected one of auto, causal-lm, token-cls"),
    (lambda: ProcessOptions(aggregation="max"), "--aggregation 'max': expected one of min, last, product, mean"),
    (lambda: ProcessOptions(threshold=float("inf")), "--threshold inf: must be a finite number"),
    (lambda: CriticOptions(samples=0), "--critic-samples 0: must be at least 1"),
    (lambda: CriticOptions(temperature=-1.0), "--critic-temperature -1.0: must be 0 or more"),
    (lambda: DataOptions(task=""), "--task: empty task name"),
    (lambda: DataOptions(task="t", limit=0), "--limit 0: must be at least 1"),
    (lambda: RunConfig(model="m", data=DataOptions(task="t"), kind="reward"), "--kind 'reward': expected one of"),
])  # fmt: skip
def test_each_group_checks_its_options_from_their_types(build: Any, message: str) -> None:
    with pytest.raises(UserError) as info:
        build()
    assert message in str(info.value)


def test_from_flat_maps_every_flat_name_and_refuses_others() -> None:
    cfg = RunConfig.from_flat(task="t", model="m", judge_mode="pairwise", prm_head="token-cls", critic_samples=3,
                              out_dir=Path("o"), task_overrides={"a": 1}, use_bundled=True, scores_file=Path("s"))
    assert (cfg.judge.mode, cfg.process.head, cfg.critic.samples) == ("pairwise", "token-cls", 3)
    assert (cfg.out, cfg.data.overrides, cfg.data.bundled, cfg.scores) == (Path("o"), {"a": 1}, True, Path("s"))
    assert len(FLAT_NAMES) == 67  # flat RunConfig fields, RFEval's judge_model and unfinished, vLLM (5), score_cache, shard + executor (5), token_budget_auto
    with pytest.raises(TypeError, match="head"):
        RunConfig.from_flat(task="t", model="m", head="auto")  # grouped names are not flat names


def test_run_help_shows_the_option_panels() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    panels = [line.strip("╭─ ").split(" ─")[0] for line in result.output.splitlines() if line.startswith("╭─")]
    assert panels == ["Options", "Data", "Model & engine", "Policies & statistics", "Judge", "Process & critic",
                      "Output", "Executor"]
