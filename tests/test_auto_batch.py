"""``--token-budget auto`` (issue 17 item 5): probe the largest token budget that fits, back off on
out-of-memory, record the choice in run.json, and score exactly as a fixed budget does.

The memory limit is real: ``rmbench run`` runs in a subprocess whose address space is capped with
``resource.setrlimit(RLIMIT_AS)`` a fixed amount above what the process holds once torch, transformers,
rmbench and the model's modules are imported (the driver loads the tiny model once before capping, so
lazy imports are not counted). A 65536-token probe batch of 256-token rows needs ~256 MiB of attention
scores alone, so with a 200 MiB cap it genuinely fails to allocate (torch raises "can't allocate memory")
and the probe halves the budget until a batch runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DRIVER = textwrap.dedent('''
    import gc, resource, sys
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from rmbench.cli.commands import main

    cap_mib, model = int(sys.argv[1]), sys.argv[2]
    AutoTokenizer.from_pretrained(model)  # import the lazy modules before the cap
    AutoModelForSequenceClassification.from_pretrained(model)
    gc.collect()
    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + cap_mib * 2**20, size + cap_mib * 2**20))
    sys.argv = ["rmbench", *sys.argv[3:]]
    main()
''')
CAP_MIB = 200


def _run(tmp_path: Path, model: Path, out: Path, budget: str, cap_mib: int | None) -> subprocess.CompletedProcess[str]:
    args = ["run", "--task", "llmbar", "--model", str(model), "--kind", "scalar", "--limit", "3", "--max-length", "256",
            "--token-budget", budget, "--n-bootstrap", "50", "--quiet", "--data-dir", os.environ["RMBENCH_DATA_DIR"],
            "--out", str(out)]
    if cap_mib is None:
        cmd = [sys.executable, "-m", "rmbench.cli", *args]
    else:
        driver = tmp_path / "capped.py"
        driver.write_text(DRIVER)
        cmd = [sys.executable, str(driver), str(cap_mib), str(model), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _scores(run_dir: Path) -> dict[str, dict[str, float]]:
    lines = (run_dir / "items.jsonl").read_text().splitlines()
    return {item["id"]: item["scores"] for item in map(json.loads, lines)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")
def test_auto_budget_backs_off_under_a_memory_cap_and_scores_as_a_fixed_budget(tmp_path: Path, tiny_rm_dir: Path) -> None:
    auto = _run(tmp_path, tiny_rm_dir, tmp_path / "auto", "auto", CAP_MIB)
    assert auto.returncode == 0, auto.stderr[-2000:]
    model = json.loads((tmp_path / "auto" / "run.json").read_text())["model"]
    probe = model["heads"]["seq-cls"]["token_budget_probe"]
    outcomes = [t["outcome"] for t in probe["tried"]]
    assert probe["start"] == 65536 and outcomes[0] == "out of memory", probe  # the cap really bit
    assert outcomes[-1] == "fits" and set(outcomes[:-1]) == {"out of memory"}, probe
    assert probe["chosen"] == probe["tried"][-1]["budget"] < 65536
    assert model["token_budget"] == probe["chosen"]  # the budget the run used, in run.json

    fixed = _run(tmp_path, tiny_rm_dir, tmp_path / "fixed", str(probe["chosen"]), None)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert _scores(tmp_path / "auto") == _scores(tmp_path / "fixed")  # fp32: the same batches, the same bits
    assert len(_scores(tmp_path / "auto")) == 15


def test_token_budget_must_be_a_number_or_auto(tmp_path: Path, tiny_rm_dir: Path) -> None:
    bad = _run(tmp_path, tiny_rm_dir, tmp_path / "bad", "lots", None)
    assert bad.returncode == 2
    assert "--token-budget 'lots': expected a whole number of tokens or auto" in bad.stderr + bad.stdout
