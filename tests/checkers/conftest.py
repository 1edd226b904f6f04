"""Real projects on disk for the checker tests, and small real executables posing as tools."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.mypy import MypyChecker
from stomper_lsp.checkers.ruff import RuffChecker

WriteProject = Callable[[dict[str, str]], Path]
MakeTool = Callable[[str, str], Path]


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """Write `{relative path: text}` under a fresh project root (no git) and return it."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return write


@pytest.fixture
def make_tool(tmp_path: Path) -> MakeTool:
    """A real executable shell script named `name`: a stand-in for a broken tool install."""

    def make(name: str, body: str) -> Path:
        folder = tmp_path / "tools"
        folder.mkdir(exist_ok=True)
        script = folder / name
        script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return script

    return make


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: typeshed is analysed once, not once per test (~1 s each)."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.fixture
def ruff_checker() -> Callable[[Path], RuffChecker]:
    def make(root: Path) -> RuffChecker:
        return RuffChecker(ProjectEnvironment(root))

    return make


@pytest.fixture
def mypy_checker(mypy_cache: Path) -> Callable[..., MypyChecker]:
    def make(root: Path, *, python: str | None = None, trusted: bool = True) -> MypyChecker:
        environment = ProjectEnvironment(root, python=python, trusted=trusted)
        return MypyChecker(environment, cache_dir=mypy_cache)

    return make
