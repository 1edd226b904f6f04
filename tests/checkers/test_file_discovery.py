"""Which files a check looks at, and how user paths become repo-relative ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from stomper_lsp.checkers.files import (
    PathOutsideProjectError,
    discover_python_files,
    to_relative,
)
from tests.checkers.conftest import WriteProject
from tests.workflow.repos import git

FILES = {
    ".gitignore": "generated/\n",
    "pkg/__init__.py": "",
    "pkg/core.py": "",
    "pkg/types.pyi": "",
    "pkg/notes.txt": "",
    "tests/test_core.py": "",
    "generated/api.py": "",
    ".venv/lib/site.py": "",
    "scripts/dir with space/tööl.py": "",
}


async def test_git_project_lists_tracked_and_untracked_python_files(
    write_project: WriteProject,
) -> None:
    root = write_project(FILES)
    git(root, "init", "-q")
    git(root, "add", "pkg")  # the rest stays untracked; generated/ is ignored

    files = await discover_python_files(root)

    assert files == [
        "pkg/__init__.py", "pkg/core.py", "pkg/types.pyi",
        "scripts/dir with space/tööl.py", "tests/test_core.py",
    ]


async def test_an_ignored_file_named_explicitly_is_still_checked(
    write_project: WriteProject,
) -> None:
    root = write_project(FILES)
    git(root, "init", "-q")

    files = await discover_python_files(root, paths=["generated/api.py", "pkg"])

    assert files == ["generated/api.py", "pkg/__init__.py", "pkg/core.py", "pkg/types.pyi"]


async def test_without_git_the_tree_is_walked_minus_environments(
    write_project: WriteProject,
) -> None:
    root = write_project(FILES)

    files = await discover_python_files(root)

    assert "pkg/core.py" in files and "generated/api.py" in files
    assert not any(f.startswith(".venv/") for f in files)


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["pkg/*"], [], ["pkg/__init__.py", "pkg/core.py", "pkg/types.pyi"]),
        (["**/test_*.py"], [], ["tests/test_core.py"]),
        ([], ["tests/**", "**/*.pyi", "scripts/*"], ["pkg/__init__.py", "pkg/core.py"]),
        (["pkg/**"], ["**/__init__.py"], ["pkg/core.py", "pkg/types.pyi"]),
    ],
)
async def test_include_and_exclude_globs(
    write_project: WriteProject, include: list[str], exclude: list[str], expected: list[str]
) -> None:
    root = write_project(FILES)
    git(root, "init", "-q")

    assert await discover_python_files(root, include=include, exclude=exclude) == expected


def test_relative_paths_are_posix_and_relative_to_the_root(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(FILES)
    monkeypatch.chdir(root / "pkg")

    assert to_relative(root, "core.py") == "pkg/core.py"
    assert to_relative(root, root / "scripts" / "dir with space") == "scripts/dir with space"
    assert to_relative(root, "..") == "."


def test_a_path_outside_the_project_is_refused(write_project: WriteProject, tmp_path: Path) -> None:
    root = write_project(FILES)
    outside = tmp_path / "elsewhere.py"

    with pytest.raises(PathOutsideProjectError, match="outside the project"):
        to_relative(root, outside)
    with pytest.raises(PathOutsideProjectError):
        to_relative(root, root / ".." / "elsewhere.py")
