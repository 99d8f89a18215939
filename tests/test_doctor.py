"""``rmbench doctor`` on real tiny models: measured batching flips, BOS, chat template, truncation, dtype,
exit codes, and the "Set-up" section of report.md.

The tiny seq-cls model (random weights, SmolLM2's tokenizer and template) flips no decision of the
bundled LLMBar sample in bfloat16: its chosen/rejected margins are far above bf16 rounding. The flip test
therefore uses near-tied pairs built from the same real items (each response prefixed with "Sure. " or
"Yes. "), where bf16 rounding does flip decisions, and counts those flips independently with plain
transformers forwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rmbench.doctor.checks import CheckResult
from rmbench.doctor.diagnose import DoctorOptions, diagnose

SAMPLE = Path(__file__).parents[1] / "rmbench" / "samples" / "llmbar_natural_sample.json"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True,
                          timeout=600, env=ENV)


def _by_name(checks: list[Any]) -> dict[str, Any]:
    return {(c["name"] if isinstance(c, dict) else c.name): c for c in checks}


def _near_tied_pairs(path: Path) -> Path:
    rows = json.loads(SAMPLE.read_text())
    lines = [json.dumps({"id": f"p{i}", "prompt": r["input"], "chosen": "Sure. " + r["output_1"],
                         "rejected": "Yes. " + r["output_1"]}) for i, r in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _plain_flips(model_dir: Path, pairs: Path, dtype: str, batch: int) -> int:
    """Flipped decisions between batch 1 and right-padded batches of ``batch`` (sample order), computed
    with plain transformers: the chat template rendered to text, the pooled hidden state of each row's
    last real token through the score head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=getattr(torch, dtype)).eval()
    seqs = []
    for line in pairs.read_text().splitlines():
        row = json.loads(line)
        for side in ("chosen", "rejected"):
            text = tok.apply_chat_template([{"role": "user", "content": row["prompt"]},
                                            {"role": "assistant", "content": row[side]}], tokenize=False)
            seqs.append(tok(text, add_special_tokens=False)["input_ids"])

    def scores(size: int) -> list[float]:
        out: list[float] = []
        for k in range(0, len(seqs), size):
            chunk = seqs[k : k + size]
            width = max(len(s) for s in chunk)
            ids = torch.tensor([s + [model.config.pad_token_id] * (width - len(s)) for s in chunk])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk])
            with torch.inference_mode():
                hidden = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
                pooled = hidden[torch.arange(len(chunk)), mask.sum(1) - 1]
                out += model.score(pooled)[:, 0].float().tolist()
        return out

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the doctor runs with one thread (OMP_NUM_THREADS=1): the same kernels
    try:
        one, many = scores(1), scores(batch)
    finally:
        torch.set_num_threads(threads)

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    return sum(sign(one[k] - one[k + 1]) != sign(many[k] - many[k + 1]) for k in range(0, len(seqs), 2))


def test_bf16_flips_are_reported_and_equal_an_independent_count(tiny_rm_dir: Path, tmp_path: Path) -> None:
    pairs = _near_tied_pairs(tmp_path / "near.jsonl")
    report = tmp_path / "doctor.json"
    proc = _cli("doctor", str(tiny_rm_dir), "--task", "pairs", "--data-file", str(pairs), "--dtype", "bfloat16",
                "--n", "40", "--threads", "1", "--json", str(report))
    assert proc.returncode == 0, proc.stderr[-2000:]  # bf16 flips warn, they do not fail
    checks = _by_name(json.loads(report.read_text())["checks"])
    measured = checks["batch 8, right padding vs batch 1 (bfloat16)"]
    flips = int(re.search(r"(\d+) of 40 decisions flipped", measured["value"]).group(1))
    expected = _plain_flips(tiny_rm_dir, pairs, "bfloat16", 8)
    assert expected > 0, "the near-tied pairs should flip in bfloat16"
    assert flips == expected
    assert measured["status"] == "warn"
    fp32 = [c for name, c in checks.items() if name.endswith("vs batch 1 (float32)")]
    assert len(fp32) == 3 and all(c["status"] == "pass" and " 0 of 40 decisions flipped" in c["value"] for c in fp32)
    warns = sum(c["status"] == "warn" for c in checks.values())
    assert "rmbench doctor" in proc.stdout and f"warn {warns}, fail 0" in proc.stdout  # the table and its tally


def _tiny_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _checks(model: Path, **kw: Any) -> dict[str, CheckResult]:
    return _by_name(diagnose(DoctorOptions(model=str(model), n=kw.pop("n", 3), device="cpu", **kw)))


def test_duplicated_bos_is_flagged(tiny_rm_dir: Path, tmp_path: Path) -> None:
    model = _tiny_copy(tiny_rm_dir, tmp_path / "bos")
    tj = json.loads((model / "tokenizer.json").read_text())  # the tokenizer now adds its BOS to every text
    bos = {"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}
    tj["post_processor"] = {
        "type": "TemplateProcessing", "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}},
    }
    (model / "tokenizer.json").write_text(json.dumps(tj))
    bos_row = _checks(model)["BOS token"]
    assert bos_row.status == "warn" and "duplicated BOS" in bos_row.value
    assert "6 of 6 sequences start with one BOS" in bos_row.value  # rmbench itself scores one
    assert _checks(tiny_rm_dir)["BOS token"].status == "pass"


def test_missing_chat_template_is_flagged(tiny_rm_dir: Path, tmp_path: Path) -> None:
    model = _tiny_copy(tiny_rm_dir, tmp_path / "notemplate")
    (model / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((model / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.warns(UserWarning, match="no chat template"):
        row = _checks(model)["chat template"]
    assert row.status == "warn" and row.value.startswith("none")
    assert _checks(tiny_rm_dir)["chat template"].status == "pass"


def test_truncation_count_equals_the_over_long_sequences(tiny_rm_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_rm_dir)
    rows = json.loads(SAMPLE.read_text())[:5]
    lengths = [len(tok.apply_chat_template([{"role": "user", "content": r["input"]},
                                            {"role": "assistant", "content": r[side]}], tokenize=True,
                                           return_dict=True)["input_ids"])
               for r in rows for side in ("output_1", "output_2")]
    limit = sorted(lengths)[4]  # about half the sequences are longer
    over = sum(n > limit for n in lengths)
    row = _checks(tiny_rm_dir, n=5, max_length=limit)[f"truncation at {limit}"]
    assert 0 < over < 10
    assert row.status == "warn" and row.value.startswith(f"{over} of 10 sequences exceed it")


def test_float16_on_cpu_warns(tiny_rm_dir: Path) -> None:
    checks = _checks(tiny_rm_dir, n=2, dtype="float16")
    assert checks["dtype on device"].status == "warn"
    assert "bfloat16" in checks["dtype on device"].advice
    assert checks["batching (float16)"].status == "info"  # not measured: rmbench refuses it on CPU


def test_random_head_fails_with_exit_code_1(tiny_lm_dir: Path, tmp_path: Path) -> None:
    """A causal LM loaded as a reward model: the head rmbench refuses is a failed check, exit code 1."""
    out = tmp_path / "d.json"
    proc = _cli("doctor", str(tiny_lm_dir), "--n", "2", "--json", str(out))
    assert proc.returncode == 1, proc.stderr[-2000:]
    payload = json.loads(out.read_text())
    head = _by_name(payload["checks"])["score head"]
    assert payload["status"] == "fail" and head["status"] == "fail" and "no trained reward head" in head["value"]
    assert _cli("doctor", str(tiny_lm_dir), "--n", "0").returncode == 2  # a usage error


def test_report_gets_a_set_up_section(tiny_rm_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _cli("run", "--model", str(tiny_rm_dir), "--task", "llmbar", "--bundled", "--limit", "2", "--kind",
                "scalar", "--n-bootstrap", "50", "--out", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    setup = json.loads((run / "run.json").read_text())["model"]["setup"]
    assert {c["name"] for c in setup} >= {"chat template", "BOS token", "pad token", "dtype on device", "score head"}
    report = (run / "report.md").read_text()
    assert "## Set-up" in report and "| chat template | pass |" in report and "| truncation | pass |" in report
    assert "rmbench doctor MODEL --out RUN_DIR" in report
    proc = _cli("doctor", str(tiny_rm_dir), "--n", "2", "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "setup.json").read_text())["checks"]
    assert "Measured by `rmbench doctor`" in (run / "report.md").read_text()
    proc = _cli("report", str(run))  # recomputing the report keeps the measured checks
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "packed (rmbench) vs batch 1 (float32) | pass" in (run / "report.md").read_text()


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    """oneDNN's own check says yes on any AVX-512 CPU (it emulates bf16, ~6x slower than float32 here);
    the CPU flags say whether the instructions exist."""
    from rmbench.backends.transformers.device import cpu_native_bf16

    assert cpu_native_bf16("flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n") is False
    assert cpu_native_bf16("flags\t\t: fpu avx512f avx512_bf16\n") is True
    assert cpu_native_bf16("flags\t\t: fpu amx_bf16 amx_tile\n") is True
    assert cpu_native_bf16("Features\t: fp asimd sve bf16\n") is True  # Arm
    assert cpu_native_bf16("processor\t: 0\n") is None  # no flags line: unknown
