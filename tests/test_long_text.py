"""Huge texts cost memory in proportion to the model's context, and absurd records are refused.

A 5 MB response used to take 1.4 GB in the tokenizer and a 50 MB one aborted the process; text is now
cut by characters before tokenizing (keeping every token truncation keeps) and a field over 10 million
characters is refused with the file, line and field.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.data.text_limits import MAX_FIELD_CHARS, TextLimit, chars_per_token
from rmbench.errors import RecordError

PROMPT = [{"role": "user", "content": "Write a long essay about rivers."}]


@pytest.fixture(scope="module")
def tokenizer(smollm2_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def _long_response(n_words: int) -> str:
    words = ["river", "delta", "estuary,", "the", "current", "flows", "towards", "sea.\n", "α", "🙂"]
    return " ".join(words[(i * 7) % len(words)] + str(i % 13) for i in range(n_words))


@pytest.mark.parametrize("side", ["left", "right"])
def test_character_cut_keeps_every_token_truncation_keeps(tokenizer, side: str) -> None:  # type: ignore[no-untyped-def]
    from rmbench.adapters.chat import ChatRenderer

    max_length = 40
    limited = ChatRenderer(tokenizer, TextLimit(max_length, side))  # type: ignore[arg-type]
    full = ChatRenderer(tokenizer)
    response = _long_response(3000)
    assert len(response) > TextLimit(max_length).char_budget(tokenizer)  # long enough to be cut

    a, b = limited.scoring_ids(PROMPT, response), full.scoring_ids(PROMPT, response)
    assert len(a) < len(b) and limited.counts["char_cut"] == 1
    assert (a[-max_length:] == b[-max_length:]) if side == "left" else (a[:max_length] == b[:max_length])

    sa, sb = limited.likelihood_span(PROMPT, response), full.likelihood_span(PROMPT, response)
    if side == "left":  # the kept window is all response: the same tokens, all scored
        assert sa.ids[-max_length:] == sb.ids[-max_length:]
    else:  # the prompt and the start of the response are kept
        assert sa.ids[:max_length] == sb.ids[:max_length] and sa.start == sb.start
    assert limited.counts["boundary_merges"] == full.counts["boundary_merges"]


def test_short_text_is_untouched(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from rmbench.adapters.chat import ChatRenderer

    limited, full = ChatRenderer(tokenizer, TextLimit(4096)), ChatRenderer(tokenizer)
    assert limited.scoring_ids(PROMPT, "A short answer.") == full.scoring_ids(PROMPT, "A short answer.")
    assert "char_cut" not in limited.counts
    assert 10 <= chars_per_token(tokenizer) <= 200  # SmolLM2: 81 (a run of spaces after a newline)


def test_a_field_over_the_hard_cap_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    data = tmp_path / "prefs.jsonl"
    ok = {"prompt": "q", "chosen": "a", "rejected": "b"}
    huge = {"prompt": "q", "chosen": "x" * (MAX_FIELD_CHARS + 1), "rejected": "b"}
    data.write_text(json.dumps(ok) + "\n" + json.dumps(huge) + "\n")
    r = CliRunner().invoke(app, ["run", "--quiet", "--model", "baseline:length", "--kind", "baseline",
                                 "--task", "pairs", "--data-file", str(data), "--out", str(tmp_path / "run")])
    assert isinstance(r.exception, RecordError)
    assert f"{data}:2: field 'chosen'" in str(r.exception) and "10,000,000" in str(r.exception)


_SCRIPT = """
import json, resource, sys
from rmbench.cli.commands import app
folder, data, out = sys.argv[1:4]
try:
    app(["run", "--quiet", "--model", folder, "--task", "pairs", "--data-file", data, "--out", out,
         "--n-bootstrap", "50", "--no-baselines"], standalone_mode=False)
finally:
    print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _peak_rss_mb(folder: Path, response: str, tmp: Path) -> float:
    tmp.mkdir()
    data = tmp / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "Say something.", "chosen": response, "rejected": "Short."}) + "\n")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(folder), str(data), str(tmp / "run")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["max_rss_mb"])


def test_five_megabyte_response_finishes_in_bounded_memory(tiny_rm_dir: Path, tmp_path: Path) -> None:
    big = _long_response(800_000)
    assert len(big) > 5_000_000
    small_peak = _peak_rss_mb(tiny_rm_dir, "A short answer.", tmp_path / "small")
    big_peak = _peak_rss_mb(tiny_rm_dir, big, tmp_path / "big")
    assert big_peak - small_peak < 400, (small_peak, big_peak)  # measured: +65 MB; +1,000 MB before the cut
    [item] = [json.loads(line) for line in (tmp_path / "big" / "run" / "items.jsonl").read_text().splitlines()]
    assert item["extra"]["truncated"] == 1
