"""Declared dependencies are the ones rmbench imports, and everything it imports is declared.

pandas and huggingface_hub were once declared but never imported, and pyarrow (parquet files) imported
but not declared; all three are now core and used (``rmbench publish``: pandas tables written as
parquet with pyarrow, uploaded with huggingface_hub). Extras (vllm, api, embedded) are checked only
one way: what rmbench imports from them must be declared somewhere; they may hold runtime helpers that
transformers loads itself.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"pyyaml": "yaml", "scikit-learn": "sklearn"}  # distribution -> top-level module


def _dist_modules(specs: list[str]) -> set[str]:
    names = {re.split(r"[<>=!~\[; ]", s.strip(), maxsplit=1)[0].lower() for s in specs}
    return {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names}


def _third_party_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (REPO / "rmbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "rmbench" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_declared_dependencies_match_imports() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = _dist_modules(project["dependencies"])
    extras = _dist_modules([d for deps in project["optional-dependencies"].values() for d in deps])
    imported = _third_party_imports()
    assert not sorted(set(imported) - core - extras), "imported but not declared"
    assert not sorted(core - set(imported)), "declared but never imported by rmbench"
    assert {"pyarrow", "pandas", "huggingface_hub"} <= core
    assert {"wheel", "setuptools"} <= extras  # the packaging tests build a wheel
