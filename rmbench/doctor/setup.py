"""The set-up checks a run records, and the "Set-up" section of ``report.md``.

``rmbench run`` records the cheap checks (chat template, BOS, pad token, dtype on the device, score
head) in ``run.json``'s model description as ``setup`` (:func:`with_setup`, called once the model is
loaded; probes of the tokenizer only, no forward pass). Truncation comes from the run's own counts.
The measured batching checks run only when asked: ``rmbench doctor ... --out RUN_DIR`` writes
``RUN_DIR/setup.json`` (:data:`SETUP_FILE`), which ``report.md`` shows too (``rmbench run`` on resume
and ``rmbench report`` read it). Import-light: no torch at import time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmbench.doctor.checks import CheckResult

SETUP_FILE = "setup.json"


def run_checks(adapter: Any, model_info: Mapping[str, Any]) -> list[CheckResult]:
    """The cheap checks of a loaded adapter (none for adapters without a chat tokenizer: baselines,
    precomputed scores, judges)."""
    from rmbench.doctor.device import cpu_has_native_bf16, dtype_check, head_check
    from rmbench.doctor.tokens import bos_check, pad_check, template_check

    chat = getattr(adapter, "chat", None)
    tokenizer = getattr(chat, "tokenizer", None)
    if tokenizer is None or not model_info.get("dtype"):
        return []
    device = str(model_info.get("device", ""))
    dtype = str(model_info["dtype"])
    native = cpu_has_native_bf16() if device.startswith("cpu") and dtype == "bfloat16" else None
    backend = getattr(adapter, "backend", None) or getattr(adapter, "policy", None)
    config = getattr(backend, "hf_config", None)
    heads = model_info.get("heads") or {}
    classifier = heads.get("seq-cls")
    model_pad = getattr(config, "pad_token_id", None)
    if model_pad is None:
        model_pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    pools_from_mask = classifier is None or str(classifier.get("pooling", "")).startswith("last real token")
    out = [template_check(tokenizer), bos_check(tokenizer, None),
           pad_check(tokenizer, model_pad, None, pools_from_mask=pools_from_mask), dtype_check(dtype, device, native)]
    if classifier is not None:
        out.append(head_check(classifier.get("randomly_initialised", []), config, allow_random=True))
    return out


def with_setup(adapter: Any, model_info: Mapping[str, Any]) -> dict[str, Any]:
    """``model_info`` (an adapter's ``describe()``) with ``setup``: the cheap checks, when there are any."""
    checks = run_checks(adapter, model_info)
    return {**model_info, "setup": [c.to_dict() for c in checks]} if checks else dict(model_info)


def read_setup(run_dir: Path) -> dict[str, Any] | None:
    """``RUN_DIR/setup.json`` written by ``rmbench doctor --out``, or None."""
    path = Path(run_dir) / SETUP_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def setup_lines(summary: Mapping[str, Any], measured: Mapping[str, Any] | None = None) -> list[str]:
    """The "Set-up" section: the run's recorded checks, its truncation count, and the checks of
    ``rmbench doctor --out`` (``measured``, the setup.json payload) when present. Empty when the run
    recorded none and no doctor ran (older runs, baselines)."""
    recorded = [CheckResult.from_dict(c) for c in (summary.get("model") or {}).get("setup") or []]
    doctor = [CheckResult.from_dict(c) for c in (measured or {}).get("checks", [])]
    if not recorded and not doctor:
        return []
    overall = summary["results"]["overall"]
    truncated = overall.get("truncated") or 0
    recorded.append(CheckResult(
        "truncation", "warn" if truncated else "pass",
        f"{truncated} of {overall.get('n_items', '?')} items had a sequence cut"
        + (f" ({overall.get('truncated_sequences')} sequences)" if truncated else ""),
        "raise --max-length up to the model's limit" if truncated else ""))
    lines = ["", "## Set-up", "", "| check | status | value | advice |", "|---|---|---|---|"]
    lines += [f"| {_cell(c.name)} | {c.status} | {_cell(c.value)} | {_cell(c.advice)} |" for c in recorded]
    if doctor:
        what = (f"`rmbench doctor` on {measured.get('n_items')} items of {measured.get('task')}, "  # type: ignore[union-attr]
                f"dtype {measured.get('dtype')}")  # type: ignore[union-attr]
        lines += ["", f"Measured by {what}:", "", "| check | status | value | advice |", "|---|---|---|---|"]
        lines += [f"| {_cell(c.name)} | {c.status} | {_cell(c.value)} | {_cell(c.advice)} |" for c in doctor]
    else:
        lines += ["", "Batching and padding effects are not measured during a run: "
                  "`rmbench doctor MODEL --out RUN_DIR` adds them here."]
    return lines
