"""A project folder and a user config file, both written fresh for each test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteText = Callable[[str], Path]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def write_pyproject(project: Path) -> WriteText:
    def write(text: str) -> Path:
        path = project / "pyproject.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteText:
    """The user-level file, found through STOMPER_CONFIG as a user would point at it."""
    path = tmp_path / "user" / "stomper.toml"

    def write(text: str) -> Path:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("STOMPER_CONFIG", str(path))
        return path

    return write
