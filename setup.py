"""Build hook: bundle the repository's ``tasks/*.yaml`` and ``prompts/*.j2`` into the wheel.

The built-in tasks and prompt templates live in top-level folders next to the package (a fixed
layout), so a regular wheel would not carry them. ``build_py`` copies them into the wheel as
``rmbench/_builtin/tasks`` and ``rmbench/_builtin/prompts``; :func:`rmbench.data.task.builtin_dir` uses
those folders when the repository's are absent. An editable install reads the repository folders
directly and copies nothing. Metadata, dependencies and package data are in ``pyproject.toml``;
``MANIFEST.in`` puts the two folders into the sdist, so a wheel built from the sdist has them too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {"tasks": "*.yaml", "prompts": "*.j2"}  # repository folder -> files copied


class BuildPyWithBuiltins(build_py):
    """``build_py`` that also copies the built-in tasks and prompts into ``rmbench/_builtin``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the repository folders are found in place
            return
        for folder, pattern in BUNDLED.items():
            files = sorted((ROOT / folder).glob(pattern))
            if not files:  # never ship a wheel without its tasks or prompts
                raise RuntimeError(f"{ROOT / folder}: no {pattern} files to bundle; build from the repository")
            target = Path(self.build_lib) / "rmbench" / "_builtin" / folder
            self.mkpath(str(target))
            for src in files:
                self.copy_file(str(src), str(target / src.name))


setup(cmdclass={"build_py": BuildPyWithBuiltins})
