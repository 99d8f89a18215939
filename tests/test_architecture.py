"""The shape of the package: no import cycles, no module over 400 lines.

Imports are read with ``ast`` from the source (every ``import`` and ``from ... import`` anywhere in a
module: at the top, inside functions, under ``TYPE_CHECKING``), like ``/work/shared/hooks/before-stop``.
``rmbench --help`` starting without torch is checked by tests/test_cli_startup.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "rmbench"
MAX_LINES = 400

# Modules allowed to exceed MAX_LINES: none since the issue-12 splits were merged. Do not add to it:
# split a module that grows past MAX_LINES into modules named after what they do.
OVER_LIMIT_ALLOWED: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST) -> set[str]:
    """Every ``rmbench...`` name a module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("rmbench"):
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.startswith("rmbench"))
    return out


def import_graph() -> dict[str, set[str]]:
    sources = {module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str:  # a name imported from a module is that module
        while name and name not in sources:
            name = name.rpartition(".")[0]
        return name

    return {m: {resolve(n) for n in imported_names(tree)} - {m, ""} for m, tree in sources.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from rmbench.x import y\nif 0:\n    import rmbench.z\n")
    assert imported_names(tree) == {"rmbench.x", "rmbench.x.y", "rmbench.z"}


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each line: modules that import each other):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_no_module_over_400_lines() -> None:
    sizes = {p.relative_to(PACKAGE.parent).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    over = {p: n for p, n in sorted(sizes.items()) if n > MAX_LINES}
    unexpected = {p: n for p, n in over.items() if p not in OVER_LIMIT_ALLOWED}
    assert not unexpected, (
        f"modules over {MAX_LINES} lines (split them by what they do): "
        + ", ".join(f"{p} ({n})" for p, n in unexpected.items())
        + f"; all current offenders: {', '.join(f'{p} ({n})' for p, n in over.items())}"
    )
    stale = sorted(p for p in OVER_LIMIT_ALLOWED if sizes.get(p, 0) <= MAX_LINES)
    assert not stale, f"allowed to be long but no longer are: remove from OVER_LIMIT_ALLOWED: {', '.join(stale)}"
