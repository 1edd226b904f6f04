"""The fingerprint: the same finding keeps it when lines move, and loses it when edited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stomper_lsp.checkers.model import Issue, group_by_path
from stomper_lsp.checkers.mypy import MypyChecker
from stomper_lsp.checkers.ruff import RuffChecker
from tests.checkers.conftest import WriteProject

SOURCE = 'import os\n\n\ndef size(s: str) -> int:\n    return s\n'
SHIFTED = '"""A docstring pushes everything down."""\n\n' + SOURCE
EDITED = SOURCE.replace("import os", "import os  # why").replace("return s", "return s  # hm")


async def found(checker: RuffChecker | MypyChecker, root: Path, text: str) -> list[Issue]:
    (root / "mod.py").write_text(text)
    return await checker.check(root, ["mod.py"])


async def test_fingerprints_survive_line_shifts_for_both_tools(
    write_project: WriteProject,
    ruff_checker: Callable[[Path], RuffChecker],
    mypy_checker: Callable[..., MypyChecker],
) -> None:
    root = write_project({"pyproject.toml": ""})
    for checker in (ruff_checker(root), mypy_checker(root)):
        before = await found(checker, root, SOURCE)
        after = await found(checker, root, SHIFTED)
        edited = await found(checker, root, EDITED)

        assert len(before) == 1, before
        assert [i.line + 2 for i in before] == [i.line for i in after]
        assert [i.fingerprint for i in before] == [i.fingerprint for i in after]
        assert [i.fingerprint for i in before] != [i.fingerprint for i in edited]


def test_fingerprint_is_tool_code_message_and_line_text() -> None:
    base = Issue.model_validate(
        {
            "path": "a.py", "start": {"line": 3, "character": 4},
            "end": {"line": 3, "character": 9}, "tool": "ruff", "code": "F401",
            "message": "`os` imported but unused", "line_text": "    import os",
        }
    )

    moved = base.model_copy(update={"path": "b.py", "start": base.end, "line_text": "import os"})

    assert moved.fingerprint == base.fingerprint  # place and indentation do not matter
    for field, value in [("tool", "mypy"), ("code", "F811"), ("message", "x"),
                         ("line_text", "import sys")]:
        assert base.model_copy(update={field: value}).fingerprint != base.fingerprint


def test_group_by_path_orders_files_and_lines() -> None:
    def issue(path: str, line: int) -> Issue:
        return Issue.model_validate(
            {"path": path, "start": {"line": line, "character": 0},
             "end": {"line": line, "character": 1}, "tool": "ruff", "code": "F", "message": ""}
        )

    grouped = group_by_path([issue("b.py", 2), issue("a.py", 9), issue("b.py", 0)])

    assert list(grouped) == ["a.py", "b.py"]
    assert [i.start.line for i in grouped["b.py"]] == [0, 2]
