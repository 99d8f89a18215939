"""Task YAML files: validation and its messages, discovery and shadowing, loading every built-in task."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from rmbench.data.converters import get_converter
from rmbench.data.examples import load_examples
from rmbench.data.task import BUILTIN_TASKS_DIR, discover_tasks, load_task, parse_task_file
from rmbench.errors import UserError

BUILTIN = sorted(p.stem for p in BUILTIN_TASKS_DIR.glob("*.yaml"))

MINIMAL = """\
name: {name}
version: 1
description: {description}
example_kind: pairwise
source:
  local:
    files: [mine.jsonl]
"""


@pytest.fixture(autouse=True)
def _no_user_task_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RMBENCH_TASKS_DIR", raising=False)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ built-in files


def test_builtin_tasks_are_there() -> None:
    expected = {"llmbar", "mtbench-human", "rm-bench", "rewardbench", "rewardbench-2", "rewardmath", "pairs"}
    assert expected <= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_task_validates(name: str) -> None:
    loaded = load_task(name)
    spec = loaded.spec
    assert spec.name == name and loaded.origin == "builtin"
    assert spec.version >= 1 and spec.description.strip()
    get_converter(spec)  # the named converter (or the generic one) resolves
    if name != "pairs":
        assert spec.citation and spec.homepage and spec.license
    for section, members in spec.scoring.sections.items():
        assert spec.subsets and set(members) <= set(spec.subsets), section
    hub = spec.source.hub
    if hub is not None and not re.fullmatch(r"[0-9a-f]{40}", hub.revision):
        assert re.search(r"\bpin", spec.notes or "", re.I), "an unpinned Hub revision needs a note"


# --------------------------------------------------------------------------- bad task files


def _error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        parse_task_file(path)
    assert info.value.exit_code == 2
    return str(info.value)


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "t", MINIMAL.format(name="t", description="d") + "colour: red\n")
    msg = _error(path)
    assert f"{path}:8: key 'colour': unknown key" in msg
    assert "allowed:" in msg  # nothing close: list the keys


def test_typo_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = MINIMAL.format(name="t", description="d").replace("description:", "descripton:")
    path = _write(tmp_path, "t", text)
    msg = _error(path)
    assert f"{path}:3: key 'descripton': unknown key (did you mean 'description'?)" in msg
    assert "key 'description': Field required" in msg


def test_nested_typo_key(tmp_path: Path) -> None:
    text = MINIMAL.format(name="t", description="d").replace("files:", "fles:")
    path = _write(tmp_path, "t", text)
    msg = _error(path)
    assert f"{path}:7: key 'source.local.fles': unknown key (did you mean 'files'?)" in msg


def test_missing_key_is_reported_at_the_mapping(tmp_path: Path) -> None:
    text = MINIMAL.format(name="t", description="d").replace("description: d\n", "")
    path = _write(tmp_path, "t", text)
    assert f"{path}:1: key 'description': Field required" in _error(path)


def test_wrong_type(tmp_path: Path) -> None:
    text = MINIMAL.format(name="t", description="d").replace("version: 1", "version: one")
    path = _write(tmp_path, "t", text)
    msg = _error(path)
    assert f"{path}:2: key 'version'" in msg and "integer" in msg


def test_wrong_literal_in_scoring(tmp_path: Path) -> None:
    text = MINIMAL.format(name="t", description="d") + "scoring:\n  tie_policy: coinflip\n"
    path = _write(tmp_path, "t", text)
    msg = _error(path)
    assert f"{path}:9: key 'scoring.tie_policy'" in msg and "'wrong'" in msg


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = _write(tmp_path, "t", "name: t\nversion: [1\n")
    assert re.search(rf"{re.escape(str(path))}:\d+: invalid YAML", _error(path))


def test_name_must_match_file_stem(tmp_path: Path) -> None:
    _write(tmp_path, "mine", MINIMAL.format(name="other", description="d"))
    with pytest.raises(UserError, match="key 'name' is 'other' but the file is named 'mine.yaml'"):
        load_task("mine", extra_dirs=[tmp_path])


def test_yaml_path_as_task_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "mine", MINIMAL.format(name="mine", description="d"))
    loaded = load_task(str(path))
    assert loaded.origin == "file" and loaded.spec.name == "mine"


# --------------------------------------------------------------------------------- discovery


def test_unknown_task_suggests_close_names() -> None:
    with pytest.raises(UserError) as info:
        load_task("llmbarr")
    assert "unknown task 'llmbarr'" in str(info.value)
    assert "did you mean 'llmbar'" in str(info.value)


def test_env_tasks_dir_shadows_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "env", "llmbar", MINIMAL.format(name="llmbar", description="my llmbar"))
    monkeypatch.setenv("RMBENCH_TASKS_DIR", str(tmp_path / "env"))
    loaded = load_task("llmbar")
    assert (loaded.origin, loaded.path, loaded.spec.description) == ("user", path, "my llmbar")


def test_extra_dirs_shadow_env_and_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "env", "llmbar", MINIMAL.format(name="llmbar", description="from env"))
    path = _write(tmp_path / "cli", "llmbar", MINIMAL.format(name="llmbar", description="from --tasks-dir"))
    monkeypatch.setenv("RMBENCH_TASKS_DIR", str(tmp_path / "env"))
    loaded = load_task("llmbar", extra_dirs=[tmp_path / "cli"])
    assert (loaded.path, loaded.spec.description) == (path, "from --tasks-dir")
    assert discover_tasks([tmp_path / "cli"])["rewardbench"][1] == "builtin"


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real installed distribution on sys.path: dist-info with entry_points.txt plus its module."""
    site = tmp_path / "site"
    tasks = site / "rmbench_plugin_tasks_demo"
    _write(tasks, "plugin-task", MINIMAL.format(name="plugin-task", description="from a plugin"))
    _write(tasks, "rewardmath", MINIMAL.format(name="rewardmath", description="plugin rewardmath"))
    (tasks / "__init__.py").write_text(
        "from pathlib import Path\n\nTASKS_DIR = Path(__file__).parent\n", encoding="utf-8"
    )
    dist = site / "rmbench_plugin_tasks_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rmbench-plugin-tasks-demo\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[rmbench.tasks]\ndemo = rmbench_plugin_tasks_demo:TASKS_DIR\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    return tasks


def test_entry_point_folder_is_discovered(installed_plugin: Path) -> None:
    loaded = load_task("plugin-task")
    assert loaded.origin == "entry-point:demo" and loaded.path == installed_plugin / "plugin-task.yaml"
    # entry points rank above the built-in folder ...
    assert load_task("rewardmath").spec.description == "plugin rewardmath"


def test_user_dir_shadows_entry_point(installed_plugin: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "mine", "plugin-task", MINIMAL.format(name="plugin-task", description="mine"))
    loaded = load_task("plugin-task", extra_dirs=[tmp_path / "mine"])
    assert (loaded.origin, loaded.path) == ("user", path)


# ---------------------------------------------------------------------- loading the real data

EXPECTED_COUNTS = {
    "llmbar": {
        "llmbar-natural": 100,
        "llmbar-adver-neighbor": 134,
        "llmbar-adver-GPTInst": 92,
        "llmbar-adver-GPTOut": 47,
        "llmbar-adver-manual": 46,
    },
    "mtbench-human": {"mtbench-human": 200},
    "rm-bench": {"chat": 129, "code": 228, "safety-refuse": 284, "safety-response": 157},
    "rewardmath": {"rewardmath": 2},
    "rewardmath-pairwise": {"rewardmath": 18},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_task_loads_real_data_with_upstream_counts(name: str, data_dir: Path) -> None:
    loaded = load_examples(load_task(name).spec, data_dir)
    assert Counter(e.subset for e in loaded.examples) == EXPECTED_COUNTS[name]
    assert loaded.records_skipped == 0
    assert loaded.source.kind == "local"
    assert len({e.id for e in loaded.examples}) == len(loaded.examples)


def test_llmbar_ids_labels_and_order(data_dir: Path) -> None:
    examples = load_examples(load_task("llmbar").spec, data_dir).examples
    first = examples[0]
    assert first.id == "llmbar-natural:0" and first.meta == {"label": 1, "chosen_position": "a"}
    assert first.prompt_text.startswith("Summarize the following content.")
    assert first.chosen.startswith("My girlfriend's visa")  # output_1, since label is 1
    gptout = next(e for e in examples if e.subset == "llmbar-adver-GPTOut")
    assert (
        gptout.meta["label"] == 2 and gptout.meta["chosen_position"] == "b" and gptout.chosen == "He didn't go to the party, instead staying at home."
    )


def test_rm_bench_style_matrix_and_meta(data_dir: Path) -> None:
    examples = load_examples(load_task("rm-bench").spec, data_dir).examples
    assert all(e.scoring == "style_matrix" and len(e.correct) == len(e.incorrect) == 3 for e in examples)
    chat = examples[0]
    assert chat.id == "chat:8" and chat.meta["upstream_subset"] == "alpacaeval"
    assert chat.meta["styles"] == ["concise", "detailed_plain", "detailed_markdown"]
    code = next(e for e in examples if e.subset == "code")
    assert code.meta["language"] == "cpp" and code.meta["upstream_subset"] == "bigcode/humanevalpack"
    refuse = Counter(e.meta["upstream_subset"] for e in examples if e.subset == "safety-refuse")
    assert refuse == {"xstest-should-refuse": 138, "refusals-dangerous": 84, "refusals-offensive": 62}


def test_rm_bench_math_comes_only_from_the_hub() -> None:
    spec = load_task("rm-bench").spec
    assert spec.source.local is not None and isinstance(spec.source.local.files, dict)
    assert "math" not in spec.source.local.files
    assert spec.source.hub is not None and "math" in (spec.subsets or [])
    assert "math" in spec.description and "Hub" in spec.description


def test_rewardmath_groups_one_chosen_and_nine_rejected(data_dir: Path) -> None:
    examples = load_examples(load_task("rewardmath").spec, data_dir).examples
    assert [e.id for e in examples] == ["problem-0", "problem-399"]
    for e in examples:
        assert (len(e.correct), len(e.incorrect), e.scoring) == (1, 9, "best_of_n")
        assert e.meta["correct_sources"] == ["human_to_GPT-4"] and len(e.meta["incorrect_sources"]) == 9
    assert (
        examples[0].correct[0].startswith("I want to solve for x in the equation $441+2(21)(19)+361=x$.\n\n")
    )
    assert examples[0].meta["answer"] == "1600"


def test_rewardmath_pairwise_clusters_by_problem(data_dir: Path) -> None:
    examples = load_examples(load_task("rewardmath-pairwise").spec, data_dir).examples
    assert Counter(e.cluster for e in examples) == {"problem-0": 9, "problem-399": 9}
    direct = load_examples(load_task("rewardmath").spec, data_dir).examples[0]
    assert all(e.chosen == direct.correct[0] for e in examples if e.cluster == "problem-0")


def test_bundled_llmbar_sample_equals_the_upstream_prefix(data_dir: Path) -> None:
    spec = load_task("llmbar").spec
    bundled = load_examples(spec, None, use_bundled=True)
    assert bundled.source.kind == "bundled" and len(bundled.examples) == 40
    assert {e.subset for e in bundled.examples} == {"llmbar-natural"}
    local = load_examples(spec, data_dir, subsets=["llmbar-natural"], limit=40)
    assert [e.content_hash() for e in bundled.examples] == [e.content_hash() for e in local.examples]
    attribution = (BUILTIN_TASKS_DIR.parent / "rmbench" / "samples" / "ATTRIBUTION.md").read_text()
    assert "Copyright (c) 2023 Princeton Natural Language Processing" in attribution
    assert "900616bff90b6c6c8e1681f7d079250637c55992" in attribution


def test_limit_and_subset_selection(data_dir: Path) -> None:
    spec = load_task("llmbar").spec
    limited = load_examples(spec, data_dir, limit=3)
    assert Counter(e.subset for e in limited.examples) == {s: 3 for s in EXPECTED_COUNTS["llmbar"]}
    only = load_examples(spec, data_dir, subsets=["llmbar-adver-GPTOut"])
    assert len(only.examples) == 47
    with pytest.raises(UserError, match="unknown subset"):
        load_examples(spec, data_dir, subsets=["llmbar-adversarial"])


# ------------------------------------------------------------------------------ without data

HUB_TASKS = sorted(n for n in BUILTIN if n != "pairs" and load_task(n).spec.source.hub is not None)


@pytest.mark.parametrize("name", HUB_TASKS)
def test_hub_source_fails_fast_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UserError) as info:
        load_examples(load_task(name).spec, None)
    assert info.value.exit_code == 2
    assert f"cannot load hf://datasets/{load_task(name).spec.source.hub.path}@" in str(info.value)  # type: ignore[union-attr]
    assert "--data-dir" in str(info.value)


def test_local_only_task_without_data_dir_says_what_to_pass() -> None:
    with pytest.raises(UserError) as info:
        load_examples(load_task("mtbench-human").spec, None)
    assert "no data directory" in str(info.value) and "--data-dir" in str(info.value)


def test_pairs_without_a_file_says_what_to_pass() -> None:
    with pytest.raises(UserError, match="declares no source") as info:
        load_examples(load_task("pairs").spec, None)
    assert "source.local.files" in str(info.value)
