"""Preference sides stored as whole conversations (HH transcripts, chat message lists), end to end.

The shared turns become the prompt, the last assistant turn of each side its response, and turns
where the sides differ stay with their side: scalar and likelihood rewards score each side after
its own history, and a judge is shown it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rmbench.adapters.judge.modes import build_asks
from rmbench.adapters.responses import conversations_of
from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.datatypes import PairwiseExample

U = "user"
A = "assistant"

HH_ROWS = [
    # one shared question; chosen is longer
    {"chosen": "\n\nHuman: What is 2+2?\n\nAssistant: It is 4.", "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 5"},
    # the sides differ in an earlier assistant turn; rejected's response is longer
    {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a color\n\nAssistant: Blue",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Go away\n\nHuman: Name a color\n\nAssistant: No, I refuse to.",
    },
    # no leading blank lines (as some HH copies store it)
    {"chosen": "Human: Tell a joke\n\nAssistant: Why did the chicken cross the road?", "rejected": "Human: Tell a joke\n\nAssistant: No."},
]  # fmt: skip


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _examples(data: Path, **overrides: Any) -> list[PairwiseExample]:
    over = {"source": {"local": {"files": [str(data)]}}, **overrides}
    return load_examples(load_task("pairs", overrides=over).spec, None).examples  # type: ignore[return-value]


def test_hh_transcripts_split_into_shared_prompt_and_per_side_history(tmp_path: Path) -> None:
    first, second, third = _examples(_jsonl(tmp_path / "hh.jsonl", HH_ROWS), options={"format": "hh"})
    assert first.prompt == (_msg(U, "What is 2+2?"),) and (first.chosen, first.rejected) == ("It is 4.", "5")
    assert first.chosen_context == first.rejected_context == ()
    assert second.prompt == (_msg(U, "Hi"),)
    assert second.chosen_context == (_msg(A, "Hello!"), _msg(U, "Name a color"))
    assert second.rejected_context == (_msg(A, "Go away"), _msg(U, "Name a color"))
    assert second.side_prompt("rejected") == (_msg(U, "Hi"), _msg(A, "Go away"), _msg(U, "Name a color"))
    assert third.prompt == (_msg(U, "Tell a joke"),) and third.rejected == "No."


def test_shared_prompt_pairs_keep_their_content_hash() -> None:
    """Empty per-side contexts are not part of the hash: fingerprints of existing runs do not move."""
    ex = PairwiseExample(id="1", subset="all", prompt="q", chosen="a", rejected="b")
    assert "chosen_context" not in ex.to_dict() and ex.content_hash() == "281a370e244f5920"


def test_message_lists_with_a_repeated_prompt_column(tmp_path: Path) -> None:
    """OpenAI message lists (UltraFeedback-style: the prompt column repeats the first user turn)."""
    rows = [{
        "prompt": "Plan a trip",
        "chosen": [_msg(U, "Plan a trip"), _msg(A, "Where to?"), _msg(U, "Rome"), _msg(A, "Day 1: Colosseum")],
        "rejected": [_msg(U, "Plan a trip"), _msg(A, "No."), _msg(U, "Rome"), _msg(A, "Fine.")],
    }]  # fmt: skip
    (ex,) = _examples(_jsonl(tmp_path / "m.jsonl", rows), options={"format": "messages"})
    assert ex.prompt == (_msg(U, "Plan a trip"),)
    assert ex.chosen_context == (_msg(A, "Where to?"), _msg(U, "Rome")) and ex.chosen == "Day 1: Colosseum"
    assert ex.rejected_context == (_msg(A, "No."), _msg(U, "Rome")) and ex.rejected == "Fine."


def test_custom_transcript_markers_from_yaml_only(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "t.jsonl", [{"good": "<|user|> hi <|bot|> hello", "bad": "<|user|> hi <|bot|> go"}])
    task = tmp_path / "tasks" / "my-chat.yaml"
    task.parent.mkdir()
    task.write_text(
        "name: my-chat\nversion: 1\ndescription: chat pairs\nexample_kind: pairwise\n"
        f"source: {{local: {{files: [{data}]}}}}\n"
        "fields: {chosen: good, rejected: bad}\n"
        "options: {format: transcript, markers: {user: '<|user|>', assistant: '<|bot|>'}}\n",
        encoding="utf-8",
    )
    (ex,) = load_examples(load_task(str(task)).spec, None).examples
    assert ex.prompt == (_msg(U, "hi"),) and (ex.chosen, ex.rejected) == ("hello", "go")


def test_bad_transcripts_name_file_line_and_field(tmp_path: Path) -> None:
    from rmbench.errors import RecordError

    rows = [HH_ROWS[0], {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q"}]
    with pytest.raises(RecordError, match=r"bad\.jsonl:2: field 'chosen/rejected': the rejected conversation must end"):
        _examples(_jsonl(tmp_path / "bad.jsonl", rows), options={"format": "hh"})
    with pytest.raises(RecordError, match=r"bad2\.jsonl:1: field 'chosen': text before the first role marker"):
        _examples(_jsonl(tmp_path / "bad2.jsonl", [{"chosen": "oops\n\nHuman: q", "rejected": "x"}]),
                  options={"format": "hh"})


def test_scalar_and_likelihood_score_each_side_after_its_own_history(tmp_path: Path) -> None:
    _, second, _ = _examples(_jsonl(tmp_path / "hh.jsonl", HH_ROWS), options={"format": "hh"})
    (chosen_prompt, chosen), (rejected_prompt, rejected) = conversations_of(second, "scalar")
    assert chosen_prompt[1] == _msg(A, "Hello!") and chosen == "Blue"
    assert rejected_prompt[1] == _msg(A, "Go away") and rejected == "No, I refuse to."


def test_a_judge_is_shown_each_sides_history(tmp_path: Path) -> None:
    _, second, _ = _examples(_jsonl(tmp_path / "hh.jsonl", HH_ROWS), options={"format": "hh"})
    ask = build_asks("pairwise", second, "none", 0)[0]
    assert ask.values["question"] == "Hi"
    assert ask.values["response_a"] == "[assistant]\nHello!\n\n[user]\nName a color\n\n[assistant]\nBlue"
    assert ask.values["response_b"].endswith("[assistant]\nGo away\n\n[user]\nName a color\n\n[assistant]\nNo, I refuse to.")


def _direct_score(model: Any, tokenizer: Any, messages: list[dict[str, str]]) -> float:
    """The reward of a conversation computed by hand: chat template, one forward, the score head."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        return float(model(**ids).logits[0, 0])


def test_hh_file_runs_end_to_end_with_cli_flags_only(tiny_rm_dir: Path, tmp_path: Path) -> None:
    """``rmbench run --task pairs --data-file hh.jsonl --option format=hh``: each side's reward equals
    the tiny reward model's score of that side's whole conversation, computed here by hand."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rmbench.cli.commands import app

    data = _jsonl(tmp_path / "hh.jsonl", HH_ROWS)
    out = tmp_path / "run"
    args = ["run", "--task", "pairs", "--model", str(tiny_rm_dir), "--data-file", str(data), "--option", "format=hh",
            "--out", str(out), "--n-bootstrap", "200", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    items = {it["id"]: it for it in map(json.loads, (out / "items.jsonl").read_text().splitlines())}
    tokenizer = AutoTokenizer.from_pretrained(tiny_rm_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_rm_dir).eval()
    conversations = {
        "2": (
            [_msg(U, "Hi"), _msg(A, "Hello!"), _msg(U, "Name a color"), _msg(A, "Blue")],
            [_msg(U, "Hi"), _msg(A, "Go away"), _msg(U, "Name a color"), _msg(A, "No, I refuse to.")],
        ),
        "3": ([_msg(U, "Tell a joke"), _msg(A, "Why did the chicken cross the road?")],
              [_msg(U, "Tell a joke"), _msg(A, "No.")]),
    }  # fmt: skip
    expected_acc = []
    for item_id, (chosen, rejected) in conversations.items():
        c, r = _direct_score(model, tokenizer, chosen), _direct_score(model, tokenizer, rejected)
        assert items[item_id]["scores"]["chosen"] == pytest.approx(c, abs=1e-4)
        assert items[item_id]["scores"]["rejected"] == pytest.approx(r, abs=1e-4)
        assert items[item_id]["metrics"]["accuracy"] == float(c > r)
        expected_acc.append(float(c > r))
    summary = json.loads((out / "summary.json").read_text())
    overall = summary["results"]["overall"]
    assert overall["metrics"]["accuracy"]["value"] == pytest.approx(
        (sum(expected_acc) + items["1"]["metrics"]["accuracy"]) / 3
    )
    # the length baseline prefers the longer response: right on pairs 1 and 3, wrong on pair 2
    assert overall["baselines"]["length"]["accuracy"]["value"] == pytest.approx(2 / 3)


def test_likelihood_reward_scores_each_side_after_its_own_history(tiny_lm_dir: Path, tmp_path: Path) -> None:
    """The likelihood of a side with its own history equals that of the same response in a pair whose
    shared prompt is that whole history (the adapter renders ``side_prompt``, not ``prompt``)."""
    from rmbench.adapters.build import build_adapter

    _, second, _ = _examples(_jsonl(tmp_path / "hh.jsonl", HH_ROWS), options={"format": "hh"})
    adapter = build_adapter(str(tiny_lm_dir), "likelihood")
    flat_c = PairwiseExample(id="c", subset="all", prompt=second.side_prompt("chosen"), chosen=second.chosen,
                             rejected=second.rejected)  # fmt: skip
    flat_r = PairwiseExample(id="r", subset="all", prompt=second.side_prompt("rejected"), chosen=second.chosen,
                             rejected=second.rejected)  # fmt: skip
    got, ref_c, ref_r = adapter.score([second, flat_c, flat_r])
    assert got.scores["chosen"] == pytest.approx(ref_c.scores["chosen"], abs=1e-4)
    assert got.scores["rejected"] == pytest.approx(ref_r.scores["rejected"], abs=1e-4)
    assert ref_c.scores["rejected"] != pytest.approx(ref_r.scores["rejected"], abs=1e-4)  # the history matters
