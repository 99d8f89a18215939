"""Judge prompt templates: loading by name or path, declared variables, StrictUndefined, the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmbench.adapters.judge.prompts import PROMPTS_DIR, builtin_prompts, load_prompt
from rmbench.errors import UserError

JUDGE_TEMPLATES = {
    "pairwise": {"question", "response_a", "response_b"},
    "pairwise_tie": {"question", "response_a", "response_b"},
    "pointwise": {"question", "response"},
    "reference_verify": {"question", "reference", "response"},
    "listwise": {"question", "responses"},
    "felm_vanilla": {"question", "previous", "segment"},
    "felm_reference": {"question", "previous", "segment", "reference"},
    "felm_cot": {"question", "previous", "segment"},
}


def test_builtin_templates_declare_their_variables() -> None:
    names = set(builtin_prompts())
    assert set(JUDGE_TEMPLATES) <= names
    for name, variables in JUDGE_TEMPLATES.items():
        tpl = load_prompt(name)
        assert set(tpl.variables) == variables, name
        assert tpl.origin == "builtin"
        assert len(tpl.sha256) == 64
        assert tpl.verdict == ("last" if name == "felm_cot" else "first")


def test_render_fills_every_variable_and_strips_the_header() -> None:
    text = load_prompt("pairwise").render(question="What is 2+2?", response_a="4", response_b="5")
    assert "What is 2+2?" in text and "### Reply A\n4" in text and "### Reply B\n5" in text
    assert "{#" not in text and not text.startswith("\n")


def test_listwise_numbers_every_response() -> None:
    text = load_prompt("listwise").render(question="Pick", responses=["one", "two", "three"])
    assert "### Reply 1\none" in text and "### Reply 3\nthree" in text and "(1 to 3)" in text


def test_felm_templates_show_context_only_when_there_is_some() -> None:
    tpl = load_prompt("felm_vanilla")
    without = tpl.render(question="Q", previous="", segment="S")
    with_ctx = tpl.render(question="Q", previous="Earlier text.", segment="S")
    assert "Earlier part" not in without and "Earlier part of the answer (context only)\nEarlier text." in with_ctx
    ref = load_prompt("felm_reference").render(question="Q", previous="", segment="S", reference="")
    assert "no evidence was retrieved" in ref


def test_missing_variable_names_template_and_variable() -> None:
    with pytest.raises(UserError) as err:
        load_prompt("reference_verify").render(question="Q", response="R")
    assert "reference_verify" in str(err.value) and "'reference'" in str(err.value)


def test_strict_undefined_inside_a_user_template(tmp_path: Path) -> None:
    f = tmp_path / "mine.j2"
    f.write_text("{# vars: question, item #}\n{{ question }} {{ item.missing_attribute }}\n")
    tpl = load_prompt(f)
    assert tpl.origin == "user" and tpl.name == "mine"
    with pytest.raises(UserError) as err:
        tpl.render(question="Q", item={})
    assert "mine" in str(err.value) and "missing_attribute" in str(err.value)


def test_undeclared_variable_is_refused_at_load(tmp_path: Path) -> None:
    f = tmp_path / "sloppy.j2"
    f.write_text("{# vars: question #}\n{{ question }} {{ answer }}\n")
    with pytest.raises(UserError, match="undeclared variable.*answer"):
        load_prompt(f)


def test_header_is_required(tmp_path: Path) -> None:
    f = tmp_path / "bare.j2"
    f.write_text("{{ question }}\n")
    with pytest.raises(UserError, match="no variable header"):
        load_prompt(f)


def test_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    f = tmp_path / "evil.j2"
    f.write_text("{# vars: question #}\n{{ question.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(UserError, match="sandbox"):
        load_prompt(f).render(question="Q")


def test_builtin_file_given_by_path_is_builtin_and_hash_matches_bytes() -> None:
    import hashlib

    path = PROMPTS_DIR / "pairwise.j2"
    tpl = load_prompt(path)
    assert tpl.origin == "builtin"
    assert tpl.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tpl.describe()["sha256"] == tpl.sha256


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UserError) as err:
        load_prompt("pairwize")
    assert "pairwise" in str(err.value)
