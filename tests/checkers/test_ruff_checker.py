"""RuffChecker against the real ruff: the issue model, unsaved text, the project's config."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError, ToolNotFoundError
from stomper_lsp.checkers.model import Applicability, FixEdit, Position, Severity
from stomper_lsp.checkers.ruff import RuffChecker
from tests.checkers.conftest import MakeTool, WriteProject

RUFF_CONFIG = '[tool.ruff.lint]\nselect = ["F", "E711"]\n'
BROKEN = "import os\n\n\ndef check(x):\n    return x == None\n"
CLEAN = "def check(x):\n    return x is None\n"

RuffFactory = Callable[[Path], RuffChecker]


async def test_issues_carry_the_whole_model(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    root = write_project({"pyproject.toml": RUFF_CONFIG, "pkg/sub/mod.py": BROKEN})

    issues = await ruff_checker(root).check(root, ["pkg/sub/mod.py"])

    by_code = {issue.code: issue for issue in issues}
    assert sorted(by_code) == ["E711", "F401"]
    unused = by_code["F401"]
    assert unused.path == "pkg/sub/mod.py"  # repo-relative POSIX, not ruff's absolute path
    assert unused.start == Position(line=0, character=7)  # 0-based, `os`
    assert unused.end == Position(line=0, character=9)
    assert unused.tool == "ruff"
    assert unused.message == "`os` imported but unused"
    assert unused.severity == Severity.ERROR
    assert unused.url == "https://docs.astral.sh/ruff/rules/unused-import"
    assert unused.line_text == "import os"
    assert unused.fix is not None
    assert unused.fix.applicability == Applicability.SAFE
    assert unused.fix.edits == (
        FixEdit(start=Position(line=0, character=0), end=Position(line=1, character=0), content=""),
    )

    none_check = by_code["E711"]
    assert none_check.start == Position(line=4, character=16)  # 0-based: the `None`
    assert none_check.fix is not None
    assert none_check.fix.applicability == Applicability.UNSAFE
    assert [e.content for e in none_check.fix.edits] == ["x is None"]


async def test_clean_file_has_no_issues(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    root = write_project({"pyproject.toml": RUFF_CONFIG, "ok.py": CLEAN})

    assert await ruff_checker(root).check(root, ["ok.py"]) == []


async def test_unsaved_text_is_linted_through_stdin(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    root = write_project({"pyproject.toml": RUFF_CONFIG, "mod.py": CLEAN, "other.py": BROKEN})

    issues = await ruff_checker(root).check(root, ["mod.py"], overlays={"mod.py": BROKEN})

    assert sorted(i.code for i in issues) == ["E711", "F401"]
    assert {i.path for i in issues} == {"mod.py"}
    assert {i.line_text for i in issues} == {"import os", "    return x == None"}
    assert (root / "mod.py").read_text() == CLEAN  # the buffer never touched the disk


async def test_keystrokes_reuse_unchanged_findings_and_rebuild_changed_ones(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    """The checker recognises a finding by ruff's line of output and the text of the
    flagged line: an unchanged finding is the same object (the server reuses its
    diagnostic), and one whose line changed without moving is built again."""
    root = write_project({"pyproject.toml": RUFF_CONFIG, "mod.py": BROKEN})
    checker = ruff_checker(root)
    first = await checker.check(root, ["mod.py"], {"mod.py": BROKEN})
    again = await checker.check(root, ["mod.py"], {"mod.py": BROKEN + "\n"})
    assert [i.code for i in again] == ["F401", "E711"]
    assert all(a is b for a, b in zip(first, again, strict=True))
    # Same finding, same position, same fix; only the text after it on its line differs.
    edited = BROKEN.replace("import os", "import os  # kept")
    after = await checker.check(root, ["mod.py"], {"mod.py": edited})
    unused = next(i for i in after if i.code == "F401")
    assert unused.line_text == "import os  # kept"
    assert unused is not first[0]
    assert next(i for i in after if i.code == "E711") is first[1]


async def test_overlays_for_files_not_asked_about_are_ignored(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    root = write_project({"pyproject.toml": RUFF_CONFIG, "mod.py": CLEAN, "other.py": CLEAN})

    issues = await ruff_checker(root).check(root, ["mod.py"], overlays={"other.py": BROKEN})

    assert issues == []


async def test_project_rule_selection_is_honoured(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    only_e711 = '[tool.ruff.lint]\nselect = ["E711"]\n'
    root = write_project({"pyproject.toml": only_e711, "mod.py": BROKEN})

    on_disk = await ruff_checker(root).check(root, ["mod.py"])
    unsaved = await ruff_checker(root).check(root, ["mod.py"], overlays={"mod.py": BROKEN})

    assert [i.code for i in on_disk] == ["E711"]
    assert [i.code for i in unsaved] == ["E711"]


async def test_project_excludes_hold_for_named_files_and_unsaved_text(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    config = '[tool.ruff]\nextend-exclude = ["generated"]\n\n' + RUFF_CONFIG
    root = write_project({"pyproject.toml": config, "generated/api.py": BROKEN, "mod.py": BROKEN})
    checker = ruff_checker(root)

    issues = await checker.check(root, ["generated/api.py", "mod.py"])
    unsaved = await checker.check(root, ["generated/api.py"], overlays={"generated/api.py": BROKEN})

    assert {i.path for i in issues} == {"mod.py"}
    assert unsaved == []


async def test_per_file_ignores_of_the_project_apply(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    config = RUFF_CONFIG + '\n[tool.ruff.lint.per-file-ignores]\n"__init__.py" = ["F401"]\n'
    root = write_project({"pyproject.toml": config, "pkg/__init__.py": "import os\n"})

    assert await ruff_checker(root).check(root, ["pkg/__init__.py"]) == []


async def test_syntax_error_and_undecodable_file_are_issues_not_failures(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    with_e9 = '[tool.ruff.lint]\nselect = ["E9", "F"]\n'
    root = write_project({"pyproject.toml": with_e9, "bad.py": "def f(:\n    pass\n"})
    (root / "latin.py").write_bytes(b'name = "\xe9t\xe9"\n')

    issues = await ruff_checker(root).check(root, ["bad.py", "latin.py"])

    codes = {(i.path, i.code) for i in issues}
    assert ("bad.py", "invalid-syntax") in codes
    assert ("latin.py", "E902") in codes


async def test_invalid_project_config_is_a_clear_error(
    write_project: WriteProject, ruff_checker: RuffFactory
) -> None:
    root = write_project({"pyproject.toml": '[tool.ruff.lint]\nselect = ["XYZ999"]\n', "a.py": ""})

    with pytest.raises(CheckerError) as caught:
        await ruff_checker(root).check(root, ["a.py"])

    text = caught.value.describe()
    assert text.startswith("ruff: failed with exit code 2")
    assert "command: " in text and "--output-format json" in text
    assert "XYZ999" in text  # ruff's own explanation, from its stderr


async def test_crashing_binary_reports_tool_command_and_stderr(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": CLEAN})
    broken = make_tool("ruff", 'echo "ruff: config is haunted" >&2\nexit 2')
    checker = RuffChecker(ProjectEnvironment(root), explicit_path=str(broken))

    with pytest.raises(CheckerError) as caught:
        await checker.check(root, ["a.py"])

    error = caught.value
    assert error.tool == "ruff"
    assert error.argv[0] == str(broken)
    assert "config is haunted" in error.stderr
    assert str(broken) in error.describe() and "exit code 2" in error.describe()


async def test_unparseable_output_is_a_clear_error(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": CLEAN})
    chatty = make_tool("ruff", 'echo "All checks passed, have a nice day"\nexit 1')
    checker = RuffChecker(ProjectEnvironment(root), explicit_path=str(chatty))

    with pytest.raises(CheckerError, match="not JSON") as caught:
        await checker.check(root, ["a.py"])

    assert "have a nice day" in caught.value.describe()


async def test_a_hanging_ruff_is_killed_at_the_timeout(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": CLEAN})
    stuck = make_tool("ruff", "sleep 30")
    checker = RuffChecker(ProjectEnvironment(root), explicit_path=str(stuck), timeout=0.5)

    started = time.monotonic()
    with pytest.raises(CheckerError, match=r"timed out after 0\.5s"):
        await checker.check(root, ["a.py"])

    assert time.monotonic() - started < 5


async def test_missing_explicit_binary_names_the_setting(write_project: WriteProject) -> None:
    root = write_project({"a.py": CLEAN})
    checker = RuffChecker(ProjectEnvironment(root), explicit_path=str(root / "no" / "ruff"))

    with pytest.raises(ToolNotFoundError) as caught:
        await checker.check(root, ["a.py"])

    assert "ruff_path" in caught.value.describe()
    assert str(root / "no" / "ruff") in caught.value.describe()
