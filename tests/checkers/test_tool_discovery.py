"""Where the tools come from: explicit setting, project environment, Stomper's own, PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import ToolNotFoundError
from stomper_lsp.checkers.ruff import RuffChecker
from tests.checkers.conftest import MakeTool, WriteProject

STOMPERS_BIN = Path(sys.executable).parent


def project_venv_tool(root: Path, venv: str, name: str) -> Path:
    """The project's own copy of a tool: a link to the real binary inside `root/venv/bin`."""
    bin_dir = root / venv / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "python").symlink_to(sys.executable)
    tool = bin_dir / name
    tool.symlink_to(STOMPERS_BIN / name)
    return tool


def test_explicit_setting_wins_over_everything(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({})
    project_venv_tool(root, ".venv", "ruff")
    mine = make_tool("my-ruff", "exit 0")

    assert ProjectEnvironment(root).find_tool("ruff", str(mine)) == str(mine)


def test_explicit_bare_name_is_looked_up_on_path(
    write_project: WriteProject, make_tool: MakeTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = make_tool("ruff-nightly", "exit 0")
    monkeypatch.setenv("PATH", str(tool.parent))

    assert ProjectEnvironment(write_project({})).find_tool("ruff", "ruff-nightly") == str(tool)


def test_explicit_setting_that_is_not_executable_is_an_error(write_project: WriteProject) -> None:
    root = write_project({"not-a-tool.txt": "hello"})

    with pytest.raises(ToolNotFoundError) as caught:
        ProjectEnvironment(root).find_tool("mypy", str(root / "not-a-tool.txt"))

    text = caught.value.describe()
    assert text.startswith("mypy: ")
    assert "mypy_path" in text and "not-a-tool.txt" in text


@pytest.mark.parametrize("venv", [".venv", "venv"])
def test_project_environment_comes_before_stompers_copy(
    write_project: WriteProject, venv: str
) -> None:
    root = write_project({})
    tool = project_venv_tool(root, venv, "ruff")

    assert ProjectEnvironment(root).find_tool("ruff") == str(tool)


def test_untrusted_project_environment_is_never_used(write_project: WriteProject) -> None:
    root = write_project({})
    project_venv_tool(root, ".venv", "ruff")

    environment = ProjectEnvironment(root, trusted=False)

    assert environment.find_tool("ruff") == str(STOMPERS_BIN / "ruff")
    assert environment.project_python() is None


def test_configured_interpreter_folder_is_the_project_environment(
    write_project: WriteProject, tmp_path: Path
) -> None:
    elsewhere = write_project({})
    tool = project_venv_tool(elsewhere, "env", "mypy")
    python = str(elsewhere / "env" / "bin" / "python")
    root = tmp_path / "other-project"
    root.mkdir()

    environment = ProjectEnvironment(root, python=python)

    assert environment.project_python() == python
    assert environment.find_tool("mypy") == str(tool)


def test_stompers_own_copy_comes_before_path(
    write_project: WriteProject, make_tool: MakeTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = make_tool("ruff", "exit 0")
    monkeypatch.setenv("PATH", str(decoy.parent))

    assert ProjectEnvironment(write_project({})).find_tool("ruff") == str(STOMPERS_BIN / "ruff")


def test_path_is_the_last_resort(
    write_project: WriteProject, make_tool: MakeTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = make_tool("stomper-probe-tool", "exit 0")  # nowhere but on PATH
    monkeypatch.setenv("PATH", str(tool.parent))

    assert ProjectEnvironment(write_project({})).find_tool("stomper-probe-tool") == str(tool)


def test_tool_found_nowhere_says_how_to_get_it(
    write_project: WriteProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(ToolNotFoundError) as caught:
        ProjectEnvironment(write_project({})).find_tool("stomper-probe-tool")

    text = caught.value.describe()
    assert text.startswith("stomper-probe-tool: ")
    assert "pip install stomper-probe-tool" in text and "stomper-probe-tool_path" in text


async def test_checker_runs_the_project_environments_binary(write_project: WriteProject) -> None:
    root = write_project({"pyproject.toml": "", "mod.py": "import os\n"})
    tool = project_venv_tool(root, ".venv", "ruff")
    checker = RuffChecker(ProjectEnvironment(root))

    issues = await checker.check(root, ["mod.py"])

    assert checker.binary() == str(tool)
    assert [i.code for i in issues] == ["F401"]
