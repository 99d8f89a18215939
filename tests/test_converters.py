"""Converters: the generic field mapping (task 'pairs'), the dataset converters, and bad records.

Malformed input must name file, line and field. Test data is written by the tests or lives in
``tests/fixtures`` (made-up rows in the upstream schemas); real rows come from the data folder.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rmbench.data.converters import get_finisher
from rmbench.data.examples import ExampleSet, load_examples
from rmbench.data.task import load_task
from rmbench.datatypes import MultiResponseExample, PairwiseExample
from rmbench.errors import RecordError, UserError

FIXTURES = Path(__file__).parent / "fixtures"

ROWS = [
    {"qid": "q1", "question": "Capital of France?", "good": "Paris.", "bad": "Lyon.", "topic": "geo"},
    {"qid": "q2", "question": "2 + 2?", "good": "4", "bad": "5", "topic": "math"},
    {"qid": "q3", "question": "Capital of Peru?", "good": "Lima.", "bad": "", "topic": "geo"},
]
MAPPING = {"id": "qid", "prompt": "question", "chosen": "good", "rejected": "bad", "subset": "topic"}


def _load(
    files: Sequence[Path] | Mapping[str, Path],
    fields: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    task: str = "pairs",
    **kwargs: Any,
) -> ExampleSet:
    """Load ``task`` with the CLI's overrides: absolute files (no data dir) and a column mapping."""
    listed: Any = (
        {k: str(v) for k, v in files.items()} if isinstance(files, Mapping) else [str(f) for f in files]
    )
    overrides: dict[str, Any] = {"source": {"local": {"files": listed}}}
    if fields is not None:
        overrides["fields"] = dict(fields)
    if options is not None:
        overrides["options"] = dict(options)
    return load_examples(load_task(task, overrides=overrides).spec, None, **kwargs)


def _load_with_converter(tmp_path: Path, converter: str, kind: str, files: Mapping[str, Path]) -> ExampleSet:
    """A user task file naming ``converter`` (a files map replaces a built-in task's, instead of merging)."""
    lines = [f"name: {converter}-check", "version: 1", "description: d", f"example_kind: {kind}",
             "source:", "  local:", "    files:", *(f"      {k}: {v}" for k, v in files.items()),
             f"converter: {converter}"]  # fmt: skip
    path = tmp_path / f"{converter}-check.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_examples(load_task(str(path)).spec, None)


def _jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _parquet(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), path)
    return path


def _record_error(excinfo: pytest.ExceptionInfo[UserError]) -> RecordError:
    assert isinstance(excinfo.value, RecordError), str(excinfo.value)
    return excinfo.value


# ------------------------------------------------------------------------- pairs: file formats


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_pairs_reads_every_format_with_a_column_mapping(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"prefs.{fmt}"
    if fmt == "jsonl":
        _jsonl(path, ROWS)
    elif fmt == "json":
        path.write_text(json.dumps(ROWS, indent=1), encoding="utf-8")
    elif fmt == "csv":
        _csv(path, ROWS)
    else:
        _parquet(path, ROWS)
    loaded = _load([path], MAPPING)
    assert [type(e) for e in loaded.examples] == [PairwiseExample] * 3
    assert [(e.id, e.subset, e.prompt_text, e.chosen, e.rejected) for e in loaded.examples] == [
        ("q1", "geo", "Capital of France?", "Paris.", "Lyon."),
        ("q2", "math", "2 + 2?", "4", "5"),
        ("q3", "geo", "Capital of Peru?", "Lima.", ""),  # an empty response is legal data
    ]
    assert loaded.source.kind == "local" and loaded.subsets == ["geo", "math"]


def test_pairs_defaults_same_named_columns_row_ids_and_subset_all(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p1", "chosen": "c1", "rejected": "r1"},
        {"prompt": "p2", "chosen": "c2", "rejected": "r2"},
    ]
    loaded = _load([_jsonl(tmp_path / "plain.jsonl", rows)])
    assert [(e.id, e.subset, e.cluster) for e in loaded.examples] == [("1", "all", "1"), ("2", "all", "2")]


def test_pairs_default_ids_stay_unique_across_files(tmp_path: Path) -> None:
    rows = [{"prompt": "p", "chosen": "c", "rejected": "r"}]
    loaded = _load([_jsonl(tmp_path / "a.jsonl", rows), _jsonl(tmp_path / "b.jsonl", rows)])
    assert [e.id for e in loaded.examples] == ["a:1", "b:1"]


def test_pairs_prompt_as_chat_messages_cluster_and_meta_fields(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Name a colour."},
            ],
            "chosen": "Blue.",
            "rejected": "Seven.",
            "group": "g1",
            "source": "made-up",
        }
    ]
    loaded = _load(
        [_jsonl(tmp_path / "chat.jsonl", rows)],
        {"prompt": "messages", "cluster": "group"},
        {"meta_fields": ["source"]},
    )
    (example,) = loaded.examples
    assert len(example.prompt) == 4 and example.prompt_text == "Name a colour."
    assert example.cluster == "g1" and example.meta == {"source": "made-up"}


def test_pairs_from_a_relative_path_in_a_data_dir(tmp_path: Path) -> None:
    _jsonl(tmp_path / "mine.jsonl", [{"prompt": "p", "chosen": "c", "rejected": "r"}])
    spec = load_task("pairs", overrides={"source": {"local": {"files": ["mine.jsonl"]}}}).spec
    assert len(load_examples(spec, tmp_path).examples) == 1


# ------------------------------------------------------------------------ pairs: label layout


JUDGEBENCH_ROWS = [
    {"pair_id": "j1", "question": "Q1", "response_A": "good", "response_B": "bad", "label": "A>B"},
    {"pair_id": "j2", "question": "Q2", "response_A": "bad", "response_B": "good", "label": "B>A"},
]
LABEL_FIELDS = {"id": "pair_id", "prompt": "question", "response_a": "response_A", "response_b": "response_B"}


def test_label_layout_judgebench_style(tmp_path: Path) -> None:
    loaded = _load(
        [_jsonl(tmp_path / "jb.jsonl", JUDGEBENCH_ROWS)],
        LABEL_FIELDS,
        {"label_values": {"A>B": "a", "B>A": "b"}},
    )
    assert [(e.id, e.chosen, e.rejected) for e in loaded.examples] == [
        ("j1", "good", "bad"),
        ("j2", "good", "bad"),
    ]
    assert [e.meta["chosen_position"] for e in loaded.examples] == ["a", "b"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_label_layout_numeric_labels_default_mapping_and_skip(fmt: str, tmp_path: Path) -> None:
    rows = [
        {"input": "P1", "output_1": "x", "output_2": "y", "label": 1},
        {"input": "P2", "output_1": "x", "output_2": "y", "label": 2},
        {"input": "P3", "output_1": "x", "output_2": "y", "label": 0},
    ]
    path = tmp_path / f"labels.{fmt}"
    {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[fmt](path, rows)
    fields = {"prompt": "input", "response_a": "output_1", "response_b": "output_2"}
    loaded = _load([path], fields, {"label_values": {"1": "a", "2": "b", "0": "skip"}})
    assert [(e.chosen, e.rejected) for e in loaded.examples] == [("x", "y"), ("y", "x")]
    assert loaded.records_read == 3 and loaded.records_skipped == 1
    # Without the option, 1 / 2 still mean A / B; the unknown 0 is an error naming its place.
    with pytest.raises(UserError) as info:
        _load([path], fields | {"label": "label"})
    err = _record_error(info)
    assert err.file == str(path) and err.field == "label" and "not in options.label_values" in str(err)


def test_label_layout_rejects_mixed_layouts(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="mix the preference layout"):
        _load([_jsonl(tmp_path / "x.jsonl", JUDGEBENCH_ROWS)], LABEL_FIELDS | {"chosen": "response_A"})


def test_label_values_must_be_a_b_or_skip(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="use 'a', 'b' or 'skip'"):
        _load(
            [_jsonl(tmp_path / "x.jsonl", JUDGEBENCH_ROWS)], LABEL_FIELDS, {"label_values": {"A>B": "first"}}
        )


# ------------------------------------------------------------------ pairs: bad mapping / records


def test_typo_in_field_mapping_suggests_the_field(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        _load([_jsonl(tmp_path / "x.jsonl", ROWS)], {"promt": "question"})
    assert "unknown field 'promt'" in str(info.value) and "did you mean 'prompt'" in str(info.value)


def test_typo_in_option_suggests_the_option(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'meta_fields'"):
        _load([_jsonl(tmp_path / "x.jsonl", ROWS)], MAPPING, {"meta_field": ["qid"]})


def test_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    rows = [dict(ROWS[0]), {k: v for k, v in ROWS[1].items() if k != "good"}]
    path = _jsonl(tmp_path / "x.jsonl", rows)
    with pytest.raises(UserError) as info:
        _load([path], MAPPING)
    err = _record_error(info)
    assert (err.file, err.line, err.field) == (str(path), 2, "good")
    assert str(err).startswith(f"{path}:2: field 'good': missing (record has: bad, qid, question, topic)")


def test_null_value_is_an_error_but_empty_string_is_not(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [dict(ROWS[2]), dict(ROWS[0], bad=None)])
    with pytest.raises(UserError) as info:
        _load([path], MAPPING)
    assert (_record_error(info).line, _record_error(info).field) == (2, "bad")


def test_ill_typed_value_names_the_type(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [dict(ROWS[0], good=42)])
    with pytest.raises(UserError, match=r"x\.jsonl:1: field 'good': expected str, got int"):
        _load([path], MAPPING)


def test_malformed_chat_prompt(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [{"prompt": [{"role": "user"}], "chosen": "c", "rejected": "r"}])
    with pytest.raises(UserError, match=r"x\.jsonl:1: field 'prompt': message 0 is not a"):
        _load([path])


def test_bad_json_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(UserError) as info:
        _load([path], MAPPING)
    err = _record_error(info)
    assert err.line == 2 and "invalid JSON" in str(err)


def test_record_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"x\.jsonl:2: expected an object/row, got list"):
        _load([path], MAPPING)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"empty\.jsonl: file holds no records"):
        _load([path], MAPPING)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"nope\.jsonl: data file not found"):
        _load([tmp_path / "nope.jsonl"], MAPPING)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [ROWS[0], ROWS[1], dict(ROWS[2], qid="q1")])
    with pytest.raises(UserError) as info:
        _load([path], MAPPING)
    assert f"{path}:3: duplicate item id 'q1' (first seen at {path}:1)" in str(info.value)
    assert "fields.id" in str(info.value)


def test_limit_applies_per_subset(tmp_path: Path) -> None:
    rows = [dict(ROWS[i % 3], qid=f"q{i}") for i in range(9)]  # geo, math, geo, geo, math, ...
    loaded = _load([_jsonl(tmp_path / "x.jsonl", rows)], MAPPING, limit=2)
    assert [(e.subset, e.id) for e in loaded.examples] == [
        ("geo", "q0"),
        ("math", "q1"),
        ("geo", "q2"),
        ("math", "q4"),
    ]


def test_generic_mapping_builds_best_of_n_examples(tmp_path: Path) -> None:
    rows = [{"q": "Pick the even number", "good": ["4"], "bad": ["3", "5", "7"]}]
    path = _jsonl(tmp_path / "bon.jsonl", rows)
    overrides = {
        "example_kind": "multi_response",
        "source": {"local": {"files": [str(path)]}},
        "fields": {"prompt": "q", "correct": "good", "incorrect": "bad"},
    }
    (example,) = load_examples(load_task("pairs", overrides=overrides).spec, None).examples
    assert isinstance(example, MultiResponseExample)
    assert (example.correct, example.incorrect, example.scoring) == (("4",), ("3", "5", "7"), "best_of_n")


# ----------------------------------------------------------------------------- RewardBench


def test_rewardbench_fixture_in_the_upstream_row_schema() -> None:
    loaded = _load([FIXTURES / "rewardbench_sample.jsonl"], task="rewardbench")
    assert Counter(e.subset for e in loaded.examples) == {
        "alpacaeval-easy": 3,
        "llmbar-natural": 2,
        "hep-python": 3,
    }
    first = loaded.examples[0]
    assert (first.id, first.meta) == (
        "1",
        {"chosen_model": "fixture-model-a", "rejected_model": "fixture-model-b"},
    )
    assert loaded.examples[-1].rejected == ""


def test_rewardbench_parquet_mirror_matches_jsonl(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "rewardbench_sample.jsonl").read_text().splitlines()]
    from_jsonl = _load([FIXTURES / "rewardbench_sample.jsonl"], task="rewardbench")
    from_parquet = _load([_parquet(tmp_path / "filtered.parquet", rows)], task="rewardbench")
    assert from_parquet.fingerprint == from_jsonl.fingerprint


def test_llmbar_converter_accepts_rewardbench_rows_and_skips_other_subsets() -> None:
    loaded = _load([FIXTURES / "rewardbench_sample.jsonl"], task="llmbar")
    assert [(e.id, e.subset) for e in loaded.examples] == [
        ("llmbar-natural:0", "llmbar-natural"),
        ("llmbar-natural:1", "llmbar-natural"),
    ]
    assert loaded.records_read == 8 and loaded.records_skipped == 6
    assert loaded.examples[0].meta["rewardbench_id"] == "101"


def test_llmbar_bad_label(tmp_path: Path) -> None:
    path = tmp_path / "bar.json"
    path.write_text(
        json.dumps([{"input": "i", "output_1": "a", "output_2": "b", "label": 3}]), encoding="utf-8"
    )
    with pytest.raises(UserError, match=r"bar\.json:1: field 'label': expected 1 or 2"):
        _load_with_converter(tmp_path, "llmbar", "pairwise", {"llmbar-natural": path})


def test_llmbar_record_of_unknown_shape(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "odd.jsonl", [{"question": "q"}])
    with pytest.raises(UserError, match=r"odd\.jsonl:1: neither an LLMBar record"):
        _load_with_converter(tmp_path, "llmbar", "pairwise", {"llmbar-natural": path})


# ---------------------------------------------------------------------------- RewardBench 2


def test_rewardbench2_real_rows_and_fixture(data_dir: Path) -> None:
    real = sorted((data_dir / "rewardbench2").glob("*.jsonl"))
    assert len(real) == 2
    loaded = _load([*real, FIXTURES / "rewardbench2_sample.jsonl"], task="rewardbench-2")
    assert Counter(e.subset for e in loaded.examples) == {
        "Ties": 10, "Precise IF": 2, "Factuality": 1, "Math": 1, "Safety": 1, "Focus": 2,
    }  # fmt: skip
    by_id = {e.id: e for e in loaded.examples}
    tied, ref = by_id["tied:41"], by_id["ref:41"]
    assert tied.scoring == ref.scoring == "ties" and tied.cluster == ref.cluster == "ties:41"
    assert (tied.meta["ties_role"], tied.meta["ties_prompt"], tied.meta["num_correct"]) == ("tied", 41, 16)
    assert (ref.meta["ties_role"], len(ref.correct), len(ref.incorrect)) == ("ref", 1, 22)
    assert "Konnichiwa" in tied.correct and ref.correct == ("Konnichiwa",)
    precise = by_id["561"]
    assert (precise.scoring, len(precise.correct), len(precise.incorrect), precise.cluster) == (
        "best_of_n",
        1,
        3,
        "561",
    )
    assert precise.meta["additional_metadata"]["instruction_id_list"] == ["format:thesis"]
    assert by_id["9006"].incorrect[1] == ""


def test_rewardbench2_parquet_mirror_keeps_lists(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "rewardbench2_sample.jsonl").read_text().splitlines()]
    from_parquet = _load([_parquet(tmp_path / "test.parquet", rows)], task="rewardbench-2")
    from_jsonl = _load([FIXTURES / "rewardbench2_sample.jsonl"], task="rewardbench-2")
    assert from_parquet.fingerprint == from_jsonl.fingerprint


def test_rewardbench2_count_mismatch_and_bad_ties_id(tmp_path: Path) -> None:
    row = json.loads((FIXTURES / "rewardbench2_sample.jsonl").read_text().splitlines()[0])
    path = _jsonl(tmp_path / "rb2.jsonl", [dict(row, num_incorrect=5)])
    with pytest.raises(UserError, match=r"rb2\.jsonl:1: field 'num_incorrect': is 5 but 'rejected' holds 3"):
        _load([path], task="rewardbench-2")
    path = _jsonl(tmp_path / "ties.jsonl", [dict(row, subset="Ties", id="tie-41")])
    with pytest.raises(UserError, match=r"ties\.jsonl:1: field 'id': Ties ids look like"):
        _load([path], task="rewardbench-2")


# ------------------------------------------------------------------------ RM-Bench, RewardMATH


def _rm_bench_row(**changes: Any) -> dict[str, Any]:
    row = {
        "id": 1,
        "subset": "alpacaeval",
        "prompt": "p",
        "chosen": ["a", "b", "c"],
        "rejected": ["x", "y", "z"],
    }
    return row | changes


def test_rm_bench_needs_three_styles(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps([_rm_bench_row(), _rm_bench_row(id=2, rejected=["x", "y"])]), encoding="utf-8")
    with pytest.raises(UserError, match=r"chat\.json:2: field 'rejected': expected 3 items, got 2"):
        _load_with_converter(tmp_path, "rm_bench", "multi_response", {"chat": path})


def test_rm_bench_hub_rows_take_the_subset_from_domain(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "hub.jsonl", [_rm_bench_row(domain="math"), _rm_bench_row(domain="chat")])
    loaded = _load([path], task="rm-bench")
    assert [(e.id, e.subset) for e in loaded.examples] == [("math:1", "math"), ("chat:1", "chat")]
    path = _jsonl(tmp_path / "bad.jsonl", [_rm_bench_row(domain="poetry")])
    with pytest.raises(UserError, match=r"bad\.jsonl:1: field 'domain': unknown domain 'poetry'"):
        _load([path], task="rm-bench")


def _rewardmath_rows(data_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((data_dir / "rewardmath" / "RewardMATH_direct.json").read_text())
    return rows


def test_rewardmath_problem_with_two_chosen_solutions(tmp_path: Path, data_dir: Path) -> None:
    rows = _rewardmath_rows(data_dir)
    rows[3] = dict(rows[3], solution_type="chosen")
    path = tmp_path / "direct.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(UserError) as info:
        _load({"rewardmath": path}, task="rewardmath")
    err = _record_error(info)
    assert (err.file, err.line, err.field) == (str(path), 1, "solution_type")
    assert "problem 0 has 2 chosen and 8 rejected" in str(err)


def test_rewardmath_inconsistent_problem_text(tmp_path: Path, data_dir: Path) -> None:
    rows = _rewardmath_rows(data_dir)
    rows[5] = dict(rows[5], problem="something else")
    path = tmp_path / "direct.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(
        UserError,
        match=rf"direct\.json:6: field 'problem': problem 0 has a different text here than at {path}:1",
    ):
        _load({"rewardmath": path}, task="rewardmath")


def test_finishers_belong_to_their_converter() -> None:
    assert get_finisher(load_task("rewardmath").spec) is not None
    assert get_finisher(load_task("rewardmath-pairwise").spec) is None
    assert get_finisher(load_task("pairs").spec) is None
