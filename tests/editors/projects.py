"""Projects the real-editor tests open."""

from __future__ import annotations

from pathlib import Path

from tests.workflow.repos import BROKEN, RUFF_ONLY, git


def two_file_project(tmp_path: Path) -> tuple[Path, Path]:
    """A git project with two files of ruff issues the built-in agent can fix."""
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(RUFF_ONLY)
    first, second = project / "mod.py", project / "pkg" / "other.py"
    first.write_text(BROKEN)
    second.write_text("import sys\n" + BROKEN)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "init")
    return first, second
