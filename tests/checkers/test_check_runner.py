"""Both checkers side by side on one project, with select/ignore and partial failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue, Position
from stomper_lsp.checkers.rule_selection import RuleSelection
from stomper_lsp.checkers.runner import CheckRunner, build_checkers, code_matches
from stomper_lsp.config import StomperConfig
from tests.checkers.conftest import WriteProject

FILES = {
    "pyproject.toml": '[tool.ruff.lint]\nselect = ["F", "E711"]\n',
    # F401, E711 (ruff) and return-value, arg-type (mypy), spread over two files.
    "pkg/a.py": "import os\n\n\ndef same(x: int) -> bool:\n    return x == None\n",
    "pkg/b.py": 'def size(s: str) -> int:\n    return s\n\n\nsize(3)\n',
}
PATHS = ["pkg/a.py", "pkg/b.py"]


def runner(root: Path, mypy_cache: Path, **settings: object) -> CheckRunner:
    config = StomperConfig.model_validate(settings)
    checkers = build_checkers(config, ProjectEnvironment(root), mypy_cache_dir=mypy_cache)
    return CheckRunner(checkers, config)


async def test_both_tools_report_into_one_sorted_list(
    write_project: WriteProject, mypy_cache: Path
) -> None:
    root = write_project(FILES)

    report = await runner(root, mypy_cache).run(root, PATHS)

    assert report.errors == []
    assert [(i.path, i.line, i.tool, i.code) for i in report.issues] == [
        ("pkg/a.py", 1, "ruff", "F401"),
        ("pkg/a.py", 5, "ruff", "E711"),
        ("pkg/b.py", 2, "mypy", "return-value"),
        ("pkg/b.py", 5, "mypy", "arg-type"),
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"select": ["F"]}, ["F401"]),
        ({"select": ["E711", "arg-type"]}, ["E711", "arg-type"]),
        ({"ignore": ["F4", "return-value"]}, ["E711", "arg-type"]),
        ({"select": ["E"], "ignore": ["E711"]}, []),
        ({"tools": ["mypy"]}, ["return-value", "arg-type"]),
    ],
)
async def test_select_ignore_and_tools_narrow_the_report(
    write_project: WriteProject, mypy_cache: Path, settings: dict[str, object],
    expected: list[str],
) -> None:
    root = write_project(FILES)

    report = await runner(root, mypy_cache, **settings).run(root, PATHS)

    assert [i.code for i in report.issues] == expected


async def test_one_failing_checker_does_not_hide_the_other(
    write_project: WriteProject, mypy_cache: Path
) -> None:
    root = write_project(FILES)

    report = await runner(root, mypy_cache, mypy_path=str(root / "missing-mypy")).run(root, PATHS)

    assert [e.tool for e in report.errors] == ["mypy"]
    assert "missing-mypy" in report.errors[0].describe()
    assert {i.tool for i in report.issues} == {"ruff"}


async def test_no_files_means_no_work(write_project: WriteProject, mypy_cache: Path) -> None:
    root = write_project(FILES)

    report = await runner(root, mypy_cache, ruff_path="/nonexistent/ruff").run(root, [])

    assert report.issues == [] and report.errors == []  # nothing ran, so nothing failed


def test_build_checkers_follows_the_tools_setting(tmp_path: Path) -> None:
    environment = ProjectEnvironment(tmp_path)

    names = [c.name for c in build_checkers(StomperConfig(tools=["mypy"]), environment)]
    both = [c.name for c in build_checkers(StomperConfig(), environment)]

    assert names == ["mypy"]
    assert both == ["ruff", "mypy"]


@pytest.mark.parametrize(
    ("code", "patterns", "matches"),
    [
        ("F401", ["F"], True),
        ("F401", ["F4"], True),
        ("F401", ["F401"], True),
        ("F401", ["F402"], False),
        ("E711", ["E7", "arg-type"], True),
        ("arg-type", ["arg-type"], True),
        ("arg-type", ["arg"], False),  # mypy codes are words: no prefix matching
        ("empty-body", ["E"], False),  # an upper-case ruff prefix never matches a mypy code
        ("SIM108", ["SIM"], True),
        ("SIM108", ["S"], False),  # as in ruff: S is bandit, SIM is flake8-simplify
        ("ERA001", ["E"], False),
        ("S101", ["S"], True),
        ("PLR0913", ["PL"], True),
        ("PLR0913", ["PLR09"], True),
        ("C901", ["C90"], True),
        ("C416", ["C4"], True),
        ("SIM108", [], False),
    ],
)
def test_code_matches(code: str, patterns: list[str], matches: bool) -> None:
    assert code_matches(code, patterns) is matches


def test_rule_lists_reach_ruff_as_its_flags_and_filter_mypy() -> None:
    selection = RuleSelection(["F", "arg-type"], ["B904"], ["F401", "union-attr"], "py39")

    assert selection.ruff_args() == [
        "--select", "F", "--extend-select", "B904", "--ignore", "F401", "--target-version", "py39",
    ]

    def issue(tool: str, code: str) -> Issue:
        at = Position(line=0, character=0)
        return Issue(path="m.py", start=at, end=at, tool=tool, code=code, message="")

    assert selection.keep(issue("ruff", "B904"))  # ruff itself applied the lists
    assert selection.keep(issue("mypy", "arg-type"))
    assert not selection.keep(issue("mypy", "return-value"))
    assert not selection.keep(issue("mypy", "union-attr"))
    # select naming only mypy codes: no ruff issue is wanted, and ruff gets no --select
    mypy_only = RuleSelection(["arg-type"])
    assert mypy_only.ruff_args() == []
    assert not mypy_only.keep(issue("ruff", "F401"))
