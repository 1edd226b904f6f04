"""MypyChecker against the real mypy: JSON output, the project's config and environment,
files that stop mypy, and a broken mypy install."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.model import Issue, Position, Severity
from stomper_lsp.checkers.mypy import MypyChecker
from tests.checkers.conftest import MakeTool, WriteProject

MypyFactory = Callable[..., MypyChecker]

RETURNS_STR = 'def answer() -> int:\n    return "forty-two"\n'
UNTYPED = "def double(x):\n    return x * 2\n"
# A library the project imports; mypy can type-check against it only if it finds it.
TINYLIB = "def answer() -> int:\n    return 42\n"
USES_TINYLIB = "from tinylib import answer\n\nlabel: str = answer()\n"


def codes(issues: list[Issue]) -> list[tuple[str, str]]:
    return sorted((i.path, i.code) for i in issues)


async def test_issues_carry_the_whole_model(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project({"pyproject.toml": "", "pkg/sub/mod.py": RETURNS_STR})

    issues = await mypy_checker(root).check(root, ["pkg/sub/mod.py"])

    assert len(issues) == 1
    issue = issues[0]
    assert issue.path == "pkg/sub/mod.py"
    assert issue.start == Position(line=1, character=11)  # 0-based: the string literal
    assert issue.end == Position(line=1, character=22)
    assert issue.tool == "mypy"
    assert issue.code == "return-value"
    assert issue.message == 'Incompatible return value type (got "str", expected "int")'
    assert issue.severity == Severity.ERROR
    assert issue.url == "https://mypy.readthedocs.io/en/stable/_refs.html#code-return-value"
    assert issue.fix is None
    assert issue.line_text == '    return "forty-two"'


async def test_project_mypy_config_is_honoured(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project({"pyproject.toml": "", "mod.py": UNTYPED})
    assert await mypy_checker(root).check(root, ["mod.py"]) == []

    (root / "pyproject.toml").write_text("[tool.mypy]\ndisallow_untyped_defs = true\n")
    issues = await mypy_checker(root).check(root, ["mod.py"])

    assert codes(issues) == [("mod.py", "no-untyped-def")]


async def test_pretty_and_other_display_settings_do_not_break_parsing(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    long_line = 'label: int = "a string long enough that pretty output wraps it" + "x" * 3\n'
    files = {"mod.py": UNTYPED + "\n\n" + RETURNS_STR + "\n\n" + long_line}
    plain = write_project({"pyproject.toml": "[tool.mypy]\nstrict = true\n", **files})
    plain_issues = await mypy_checker(plain).check(plain, ["mod.py"])
    (plain / "pyproject.toml").write_text(
        "[tool.mypy]\nstrict = true\npretty = true\nshow_error_context = true\n"
        "show_column_numbers = true\nshow_error_end = true\ncolor_output = true\n"
        "error_summary = true\nshow_absolute_path = true\n"
    )

    pretty_issues = await mypy_checker(plain).check(plain, ["mod.py"])

    assert codes(plain_issues) == [
        ("mod.py", "assignment"), ("mod.py", "no-untyped-def"), ("mod.py", "return-value")
    ]
    assert pretty_issues == plain_issues


@pytest.fixture(scope="module")
def venv_with_tinylib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtualenv whose site-packages holds a typed package Stomper's venv lacks."""
    venv = tmp_path_factory.mktemp("envs") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    package = venv / "lib" / version / "site-packages" / "tinylib"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(TINYLIB)
    (package / "py.typed").write_text("")
    return venv


async def test_third_party_imports_resolve_from_the_project_venv(
    write_project: WriteProject, mypy_checker: MypyFactory, venv_with_tinylib: Path
) -> None:
    root = write_project({"pyproject.toml": "", "app.py": USES_TINYLIB})
    (root / ".venv").symlink_to(venv_with_tinylib)

    issues = await mypy_checker(root).check(root, ["app.py"])

    # mypy read tinylib's signature: it knows answer() returns int.
    assert [(i.code, i.message) for i in issues] == [
        ("assignment",
         'Incompatible types in assignment (expression has type "int", variable has type "str")'),
    ]


async def test_without_the_project_env_the_import_is_unresolved(
    write_project: WriteProject, mypy_checker: MypyFactory, venv_with_tinylib: Path
) -> None:
    root = write_project({"pyproject.toml": "", "app.py": USES_TINYLIB})
    (root / ".venv").symlink_to(venv_with_tinylib)

    # An untrusted project's .venv is not consulted (nor is anything else from the repo).
    issues = await mypy_checker(root, trusted=False).check(root, ["app.py"])

    assert [i.code for i in issues] == ["import-not-found"]


async def test_configured_interpreter_outside_the_project_is_used(
    write_project: WriteProject, mypy_checker: MypyFactory, venv_with_tinylib: Path
) -> None:
    root = write_project({"pyproject.toml": "", "app.py": USES_TINYLIB})
    python = str(venv_with_tinylib / "bin" / "python")

    issues = await mypy_checker(root, python=python).check(root, ["app.py"])

    assert [i.code for i in issues] == ["assignment"]


async def test_a_syntax_error_does_not_hide_other_files(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project(
        {"pyproject.toml": "", "a_bad.py": "def f(:\n    pass\n", "b_typed.py": RETURNS_STR}
    )

    issues = await mypy_checker(root).check(root, ["a_bad.py", "b_typed.py"])

    assert ("b_typed.py", "return-value") in codes(issues)
    syntax = [i for i in issues if i.path == "a_bad.py"]
    assert syntax and {i.code for i in syntax} == {"syntax"}
    assert syntax[0].start == Position(line=0, character=6)  # 0-based, like ruff's


async def test_many_unparsable_files_still_leave_the_rest_checked(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    broken = {f"broken_{n}.py": "def f(:\n" for n in range(6)}
    root = write_project({"pyproject.toml": "", **broken, "z_typed.py": RETURNS_STR})

    issues = await mypy_checker(root).check(root, [*broken, "z_typed.py"])

    assert {i.path for i in issues if i.code == "syntax"} == set(broken)
    assert ("z_typed.py", "return-value") in codes(issues)


async def test_a_broken_module_others_import_does_not_stop_them(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project(
        {
            "pyproject.toml": "",
            "broken.py": "def helper( -> int:\n",
            "user.py": 'import broken\n\nvalue: int = broken.helper()\nname: int = "x"\n',
        }
    )

    issues = await mypy_checker(root).check(root, ["user.py"])
    both = await mypy_checker(root).check(root, ["broken.py", "user.py"])

    # Only the file asked about is reported, and its own error still shows.
    assert codes(issues) == [("user.py", "assignment")]
    assert ("broken.py", "syntax") in codes(both)
    assert ("user.py", "assignment") in codes(both)


async def test_undecodable_file_is_reported_and_the_rest_checked(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project({"pyproject.toml": "", "typed.py": RETURNS_STR})
    (root / "latin.py").write_bytes(b'name = "\xe9t\xe9"\n')

    issues = await mypy_checker(root).check(root, ["latin.py", "typed.py"])

    assert codes(issues) == [("latin.py", "blocking-error"), ("typed.py", "return-value")]
    assert "decode" in issues[0].message


async def test_duplicate_module_names_block_one_file_not_the_run(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project(
        {
            "pyproject.toml": "",
            "a/tests/test_util.py": 'x: int = "a"\n',
            "b/tests/test_util.py": 'x: int = "b"\n',
        }
    )

    paths = ["a/tests/test_util.py", "b/tests/test_util.py"]
    issues = await mypy_checker(root).check(root, paths)

    assert codes(issues) == [
        ("a/tests/test_util.py", "assignment"), ("b/tests/test_util.py", "blocking-error")
    ]
    blocked = next(i for i in issues if i.code == "blocking-error")
    assert blocked.message.startswith('Duplicate module named "test_util"')


async def test_imported_modules_errors_are_not_reported_for_the_importer(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    root = write_project({"pyproject.toml": "", "lib.py": RETURNS_STR, "app.py": "import lib\n"})

    assert await mypy_checker(root).check(root, ["app.py"]) == []
    assert codes(await mypy_checker(root).check(root, ["lib.py"])) == [("lib.py", "return-value")]


async def test_crash_reports_exit_code_command_and_stderr(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": ""})
    crashing = make_tool("mypy", 'echo "INTERNAL ERROR: plugin exploded" >&2\nexit 3')
    checker = MypyChecker(ProjectEnvironment(root), explicit_path=str(crashing))

    with pytest.raises(CheckerError) as caught:
        await checker.check(root, ["a.py"])

    text = caught.value.describe()
    assert text.startswith("mypy: crashed with exit code 3")
    assert f"command: {crashing} --output json" in text
    assert "plugin exploded" in text


async def test_non_json_output_is_a_clear_error(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": ""})
    garbage = make_tool("mypy", 'echo "<<<garbage>>>"\nexit 1')
    checker = MypyChecker(ProjectEnvironment(root), explicit_path=str(garbage))

    with pytest.raises(CheckerError, match="not JSON") as caught:
        await checker.check(root, ["a.py"])

    assert "<<<garbage>>>" in caught.value.describe()


async def test_unexplained_blocking_exit_is_a_clear_error(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": ""})
    confused = make_tool("mypy", 'echo "mypy: error: invalid plugin" >&2\nexit 2')
    checker = MypyChecker(ProjectEnvironment(root), explicit_path=str(confused))

    with pytest.raises(CheckerError, match="blocking error it did not attribute") as caught:
        await checker.check(root, ["a.py"])

    assert "invalid plugin" in caught.value.describe()


async def test_a_hanging_mypy_is_killed_at_the_timeout(
    write_project: WriteProject, make_tool: MakeTool
) -> None:
    root = write_project({"a.py": ""})
    stuck = make_tool("mypy", "sleep 30")
    checker = MypyChecker(ProjectEnvironment(root), explicit_path=str(stuck), timeout=0.5)

    started = time.monotonic()
    with pytest.raises(CheckerError, match=r"mypy: timed out after 0\.5s"):
        await checker.check(root, ["a.py"])

    assert time.monotonic() - started < 5


async def test_a_same_size_edit_within_one_second_is_not_answered_from_the_cache(
    write_project: WriteProject, tmp_path: Path
) -> None:
    """mypy trusts its cache when size and whole-second mtime match: the checker must not."""
    root = write_project({"mod.py": "x: int = 'a'\n"})
    mod = root / "mod.py"
    cache = tmp_path / "own-mypy-cache"
    checker = MypyChecker(ProjectEnvironment(root), cache_dir=cache)
    assert [i.code for i in await checker.check(root, ["mod.py"])] == ["assignment"]
    stamp = mod.stat().st_mtime_ns
    mod.write_text("x: str = 'a'\n")  # same size
    os.utime(mod, ns=(stamp, stamp))  # and the same mtime mypy recorded
    fresh = MypyChecker(ProjectEnvironment(root), cache_dir=cache)  # rebuilt, e.g. new settings
    assert await fresh.check(root, ["mod.py"]) == []


@pytest.mark.parametrize("saved_long_ago", [True, False], ids=["older-file", "same-second"])
async def test_a_same_size_unsaved_edit_gets_its_own_results_not_the_cached_files(
    write_project: WriteProject, tmp_path: Path, saved_long_ago: bool
) -> None:
    """mypy checks a shadow's freshness against its cache by the shadow's size and mtime
    and, when the mtime differs, by the hash of the file on *disk*: with the saved file
    cached, a same-size buffer would get the saved file's results. Neither way may the
    buffer's results then stay in the cache for the saved file."""
    saved, fixed = "x: int = 'a'\n", "x: int = 111\n"
    assert len(saved) == len(fixed)
    root = write_project({"mod.py": saved})
    if saved_long_ago:  # mypy then compares hashes (of the file on disk)
        old = time.time() - 30
        os.utime(root / "mod.py", (old, old))
    checker = MypyChecker(ProjectEnvironment(root), cache_dir=tmp_path / "cache")
    assert [i.code for i in await checker.check(root, ["mod.py"])] == ["assignment"]
    for _ in range(2):  # the second run meets the cache the first dirty run left
        assert await checker.check(root, ["mod.py"], {"mod.py": fixed}) == []
    assert [i.code for i in await checker.check(root, ["mod.py"])] == ["assignment"]
    assert [i.code for i in await checker.check(root, ["mod.py"], {"mod.py": saved})] == [
        "assignment"
    ]


async def test_unsaved_text_is_checked_through_shadow_files(
    write_project: WriteProject, mypy_checker: MypyFactory
) -> None:
    """Overlays (editor buffers) replace the files on disk for mypy; a buffer that
    cannot be parsed still gets its syntax error, and nothing is written to the project."""
    root = write_project({"pyproject.toml": "", "mod.py": RETURNS_STR, "ok.py": TINYLIB})
    before = sorted(p.name for p in root.iterdir())
    moved = "import os\n\n" + RETURNS_STR
    issues = await mypy_checker(root).check(root, ["mod.py", "ok.py"], {"mod.py": moved})
    assert [(i.path, i.code, i.start.line, i.line_text) for i in issues] == [
        ("mod.py", "return-value", 3, '    return "forty-two"')
    ]
    broken = await mypy_checker(root).check(
        root, ["mod.py", "ok.py"], {"mod.py": RETURNS_STR, "ok.py": "def answer(:\n"}
    )
    assert set(codes(broken)) == {("mod.py", "return-value"), ("ok.py", "syntax")}
    assert sorted(p.name for p in root.iterdir()) == before
    assert (root / "ok.py").read_text() == TINYLIB
