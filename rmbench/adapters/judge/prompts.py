"""Judge prompts: jinja2 templates in the built-in ``prompts/`` folder or in a user's file.

A template starts with header comments that declare what it needs and how it is answered::

    {# vars: question, response_a, response_b #}
    {# verdict: first #}

* ``vars``: every variable the template uses. Rendering with one of them missing raises a
  :class:`~rmbench.errors.UserError` naming the template and the variable (``StrictUndefined``);
  loading a template that uses an undeclared variable is refused too.
* ``verdict``: ``first`` when the reply is asked to *begin* with the verdict (a bare ``A``, ``YES``,
  ``3``): the strict parser then reads the first line, and the probability of each choice at the
  first generated token is meaningful and stored. ``last`` when the judge reasons first and ends
  with a ``Verdict: X`` line: the strict parser reads the last line and first-token probabilities
  are not requested. Default ``last``.

Templates are loaded by name from the built-in folder (``load_prompt("pairwise")``; the repository's
``prompts/`` in a checkout, ``rmbench/_builtin/prompts`` in an installed wheel, see
:func:`rmbench.data.task.builtin_dir`) or from a path (``--prompt my_prompt.j2``). User files render in
a :class:`jinja2.sandbox.SandboxedEnvironment`, so a template cannot reach Python internals through
attribute access. The template's name and the sha256 of its text are recorded in the run summary
(through the judge adapter's ``describe()``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from rmbench.data.task import builtin_dir
from rmbench.errors import UserError

PROMPTS_DIR = builtin_dir("prompts")
"""The built-in templates (``<repo>/prompts``, or ``rmbench/_builtin/prompts`` in a wheel)."""

_HEADER = re.compile(r"\{#-?\s*(\w+)\s*:\s*(.*?)\s*-?#\}")
VerdictPosition = Literal["first", "last"]


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed template: its text, declared variables and verdict position.

    ``origin`` is ``"builtin"`` for a file of ``prompts/`` and ``"user"`` for any other path; user
    templates render sandboxed.
    """

    name: str
    source: str
    path: Path
    variables: tuple[str, ...]
    verdict: VerdictPosition
    origin: Literal["builtin", "user"]

    @property
    def sha256(self) -> str:
        """Hex sha256 of the template text (what the run summary records)."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    @cached_property
    def _compiled(self) -> Any:
        return _compile(self)

    def render(self, **values: Any) -> str:
        """The prompt text for ``values``; leading and trailing whitespace is stripped.

        Raises :class:`UserError` when a declared variable is missing (or undefined inside the
        template) and when a sandboxed template tries an unsafe operation.
        """
        from jinja2.exceptions import SecurityError, UndefinedError

        missing = [v for v in self.variables if v not in values]
        if missing:
            raise UserError(
                f"prompt template '{self.name}' ({self.path}) needs variable '{missing[0]}'",
                hint=f"it declares: {', '.join(self.variables)}; given: {', '.join(sorted(values)) or 'nothing'}",
            )
        try:
            text: str = self._compiled.render(**values)
        except UndefinedError as exc:
            raise UserError(f"prompt template '{self.name}' ({self.path}): {exc.message}") from None
        except SecurityError as exc:
            raise UserError(f"prompt template '{self.name}' ({self.path}) was refused by the sandbox: {exc}") from None
        return text.strip()

    def describe(self) -> dict[str, Any]:
        """What the run summary records about the template."""
        return {
            "name": self.name,
            "origin": self.origin,
            "path": str(self.path),
            "sha256": self.sha256,
            "variables": list(self.variables),
            "verdict": self.verdict,
        }


def builtin_prompts() -> list[str]:
    """Names of the templates in ``prompts/``."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.j2"))


def load_prompt(name_or_path: str | Path) -> PromptTemplate:
    """A built-in template by name (``"pairwise"``) or a template file by path.

    A string containing a path separator or ending in ``.j2``/``.jinja``/``.txt`` is a path.
    """
    text = str(name_or_path)
    is_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith((".j2", ".jinja", ".txt"))
    if not is_path:
        from rmbench.names import check_name

        path = PROMPTS_DIR / f"{check_name(text, 'prompt template name')}.j2"
        if not path.is_file():
            import difflib

            names = builtin_prompts()
            close = difflib.get_close_matches(text, names, n=2)
            hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"built-in: {', '.join(names)}"
            raise UserError(f"unknown prompt template '{text}'", hint=hint)
        return parse_template(path.read_text(encoding="utf-8"), name=text, path=path, origin="builtin")
    path = Path(text).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: prompt template file does not exist")
    builtin = path.resolve().parent == PROMPTS_DIR
    return parse_template(
        path.read_text(encoding="utf-8"), name=path.stem, path=path, origin="builtin" if builtin else "user"
    )


def parse_template(
    source: str, *, name: str, path: Path, origin: Literal["builtin", "user"] = "user"
) -> PromptTemplate:
    """Read the header comments of ``source`` and check the declared variables against its body."""
    headers = _headers(source)
    if "vars" not in headers:
        raise UserError(
            f"prompt template '{name}' ({path}) has no variable header",
            hint="start it with a comment such as {# vars: question, response_a, response_b #}",
        )
    variables = tuple(v.strip() for v in headers["vars"].split(",") if v.strip())
    verdict = headers.get("verdict", "last")
    if verdict not in ("first", "last"):
        raise UserError(f"prompt template '{name}' ({path}): 'verdict' must be first or last, got '{verdict}'")
    template = PromptTemplate(name, source, path, variables, verdict, origin)  # type: ignore[arg-type]
    _refuse_other_templates(template)
    used = _used_variables(template)
    undeclared = sorted(used - set(variables))
    if undeclared:
        raise UserError(
            f"prompt template '{name}' ({path}) uses undeclared variable(s) {', '.join(undeclared)}",
            hint="list every variable in the {# vars: ... #} header",
        )
    return template


def _headers(source: str) -> dict[str, str]:
    """``{# key: value #}`` comments at the top of the template (before any other content)."""
    out: dict[str, str] = {}
    pos = 0
    while True:
        while pos < len(source) and source[pos].isspace():
            pos += 1
        m = _HEADER.match(source, pos)
        if not m:
            return out
        out.setdefault(m.group(1), m.group(2))
        pos = m.end()


def _environment(sandboxed: bool) -> Any:
    from jinja2 import Environment, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    cls = SandboxedEnvironment if sandboxed else Environment
    return cls(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
               autoescape=False)


def _compile(template: PromptTemplate) -> Any:
    from jinja2 import TemplateSyntaxError

    env = _environment(sandboxed=template.origin == "user")
    try:
        return env.from_string(template.source)
    except TemplateSyntaxError as exc:
        raise UserError(f"{template.path}:{exc.lineno}: prompt template syntax error: {exc.message}") from None


_LOADING_TAGS = {"Include": "include", "Import": "import", "FromImport": "from ... import", "Extends": "extends"}


def _refuse_other_templates(template: PromptTemplate) -> None:
    """A template is one self-contained file: ``{% include %}``, ``{% import %}``, ``{% from ... import %}``
    and ``{% extends %}`` would read other files (no loader is configured, so they failed at render time with
    a bare ``TypeError``). They are refused when the template is loaded, naming the file and line."""
    from jinja2 import TemplateSyntaxError, nodes

    try:
        ast = _environment(sandboxed=True).parse(template.source)
    except TemplateSyntaxError as exc:
        raise UserError(f"{template.path}:{exc.lineno}: prompt template syntax error: {exc.message}") from None
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        tag = _LOADING_TAGS[type(node).__name__]
        raise UserError(
            f"{template.path}:{node.lineno}: prompt template '{template.name}' uses {{% {tag} %}}, which is not allowed",
            hint="a template is one self-contained file: paste the other template's text in instead",
        )


def _used_variables(template: PromptTemplate) -> set[str]:
    from jinja2 import TemplateSyntaxError, meta

    env = _environment(sandboxed=template.origin == "user")
    try:
        ast = env.parse(template.source)
    except TemplateSyntaxError as exc:
        raise UserError(f"{template.path}:{exc.lineno}: prompt template syntax error: {exc.message}") from None
    return set(meta.find_undeclared_variables(ast))


def render_messages(template: PromptTemplate, values: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """The rendered prompt as a one-message chat (the user turn), as RFEval's adapter sends it."""
    return ({"role": "user", "content": template.render(**values)},)
