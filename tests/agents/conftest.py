"""Real projects on disk, real checker runs, and the fake agent executable."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from agents_support import FAKE_AGENT, PYPROJECT, Collect

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.mypy import MypyChecker
from stomper_lsp.checkers.ruff import RuffChecker


@pytest.fixture
def fake_agent() -> list[str]:
    """argv prefix that runs the fake agent on this venv's python (its ruff is next to it)."""
    return [sys.executable, str(FAKE_AGENT)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


@pytest.fixture
def collect() -> Collect:
    """Issues from really running ruff and/or mypy on files of a project."""

    async def run(root: Path, paths: Sequence[str], tools: Sequence[str]) -> list[Issue]:
        environment = ProjectEnvironment(root)
        issues: list[Issue] = []
        if "ruff" in tools:
            issues += await RuffChecker(environment).check(root, paths)
        if "mypy" in tools:
            checker = MypyChecker(environment, cache_dir=root.parent / "mypy-cache")
            issues += await checker.check(root, paths)
        return issues

    return run
