"""`stomper check` through the installed console script, as a user runs it.

Every bad input must end in a clear message and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

STOMPER = Path(sys.executable).parent / "stomper"
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"

RUFF_CONFIG = '[tool.ruff.lint]\nselect = ["E", "F"]\n'
TWO_TOOLS = 'import os\n\nlabel: int = "text"\n'  # F401 (ruff) and assignment (mypy)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


Stomper = Callable[..., Run]


@pytest.fixture(scope="module")
def tool_caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Keep ruff's and mypy's caches out of the projects (and warm across tests)."""
    return {
        "MYPY_CACHE_DIR": str(tmp_path_factory.mktemp("mypy-cache")),
        "RUFF_CACHE_DIR": str(tmp_path_factory.mktemp("ruff-cache")),
    }


@pytest.fixture
def stomper(tool_caches: dict[str, str]) -> Stomper:
    def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
        proc = subprocess.run(
            [str(STOMPER), *args],
            cwd=cwd,
            env={**os.environ, **tool_caches, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def assert_clear_error(run: Run, *needles: str) -> None:
    """Exit 2, a `stomper: error:` line that names the problem, and no traceback."""
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr
    assert "stomper: error:" in run.stderr or "stomper check: error:" in run.stderr, run.stderr
    for needle in needles:
        assert needle in run.stderr, (needle, run.stderr)


# --- The bundled demo project -----------------------------------------------------------

DEMO_CODES = {
    # From ruff, many with an automatic fix...
    "F401", "I001", "E711", "B006", "UP006", "UP045", "F841", "SIM118", "UP032", "E713",
    # ...and from mypy, none.
    "union-attr", "arg-type", "return-value", "attr-defined", "no-untyped-def",
}


def test_demo_lists_both_tools_issues_grouped_by_file(stomper: Stomper) -> None:
    run = stomper("check", "examples/demo", cwd=REPO)

    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    headings = [line for line in lines if not line.startswith(" ")][:-1]
    assert headings == [
        "examples/demo/stockroom/billing.py",
        "examples/demo/stockroom/inventory.py",
        "examples/demo/stockroom/models.py",
        "examples/demo/stockroom/orders.py",
        "examples/demo/stockroom/reports.py",
        "examples/demo/tests/test_inventory.py",
    ]
    rows = [line.split() for line in lines if line.startswith("  ")]
    assert {row[1] for row in rows} == {"ruff", "mypy"}
    assert {row[2] for row in rows} >= DEMO_CODES
    assert "  27:16  mypy  union-attr  " in run.stdout  # 1-based for humans
    summary = re.fullmatch(
        r"Found (\d+) issues \((\d+) mypy, (\d+) ruff\) in 6 of 8 files; "
        r"(\d+) fixable by the built-in ruff agent\.",
        lines[-1],
    )
    assert summary is not None, lines[-1]
    total, mypy, ruff, fixable = map(int, summary.groups())
    assert total == len(rows) == mypy + ruff
    assert fixable == sum("[fixable," in line for line in lines) and fixable > ruff // 2


def test_demo_json_has_every_issue_field(stomper: Stomper) -> None:
    run = stomper("check", "--json", str(DEMO), cwd=REPO)

    assert run.returncode == 1, run
    report = json.loads(run.stdout)
    assert report["root"] == str(DEMO)
    assert report["files_checked"] == 8
    assert report["errors"] == [] and report["warnings"] == []
    issues = report["issues"]
    assert report["summary"]["issues"] == len(issues)
    assert report["summary"]["by_tool"]["mypy"] > 0 and report["summary"]["by_tool"]["ruff"] > 0
    for issue in issues:
        assert set(issue) == {
            "path", "start", "end", "tool", "code", "message", "severity", "url", "fix",
            "line_text", "fingerprint",
        }
        assert issue["path"].startswith(("stockroom/", "tests/"))  # relative to the project
        assert (DEMO / issue["path"]).is_file()
        assert set(issue["start"]) == {"line", "character"}
        assert issue["url"].startswith(("https://docs.astral.sh/ruff/", "https://mypy."))
    union_attr = next(i for i in issues if i["code"] == "union-attr")
    assert union_attr["path"] == "stockroom/inventory.py"
    assert union_attr["start"] == {"line": 26, "character": 15}  # 0-based in JSON
    assert union_attr["fix"] is None
    unused = next(i for i in issues if i["code"] == "F401")
    assert unused["fix"]["applicability"] == "safe"
    assert unused["fix"]["edits"][0]["content"] == ""
    assert {i["fix"]["applicability"] for i in issues if i["fix"]} == {"safe", "unsafe"}


@pytest.mark.parametrize(
    ("flags", "codes"),
    [
        (["--tools", "mypy"], {"union-attr", "arg-type", "return-value", "attr-defined",
                               "no-untyped-def", "no-untyped-call"}),
        (["--select", "F401,union-attr"], {"F401", "union-attr"}),
        (["--tools", "ruff", "--select", "E7", "--ignore", "E711"], {"E713"}),
    ],
)
def test_tools_select_and_ignore_flags(stomper: Stomper, flags: list[str], codes: set[str]) -> None:
    run = stomper("check", "--json", *flags, "examples/demo", cwd=REPO)

    assert run.returncode == 1, run
    assert {i["code"] for i in json.loads(run.stdout)["issues"]} == codes


RAISE_IN_EXCEPT = (
    "def parse(text: str) -> int:\n"
    "    try:\n"
    "        return int(text)\n"
    "    except ValueError:\n"
    "        raise RuntimeError(text)\n"
)


def test_select_enables_a_rule_the_projects_ruff_config_does_not(
    stomper: Stomper, tmp_path: Path
) -> None:
    """As `ruff check --select B904`: the flag reaches ruff, not just a filter after it."""
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "mod.py": RAISE_IN_EXCEPT})

    plain = stomper("check", "--json", "--tools", "ruff", cwd=root)
    selected = stomper("check", "--json", "--tools", "ruff", "--select", "B904", cwd=root)
    extended = stomper("check", "--json", "--tools", "ruff", "--extend-select", "B", cwd=root)

    assert plain.returncode == 0, plain
    assert [i["code"] for i in json.loads(selected.stdout)["issues"]] == ["B904"]
    assert [i["code"] for i in json.loads(extended.stdout)["issues"]] == ["B904"]


def test_target_version_reaches_ruff(stomper: Stomper, tmp_path: Path) -> None:
    """UP045 (`Optional[X]` -> `X | None`) applies from py310 on, as ruff decides."""
    source = "from typing import Optional\n\n\ndef f(x: Optional[int]) -> None:\n    pass\n"
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "mod.py": source})

    def codes(version: str) -> set[str]:
        run = stomper(
            "check", "--json", "--tools", "ruff", "--select", "UP", "--target-version", version,
            cwd=root,
        )
        return {i["code"] for i in json.loads(run.stdout)["issues"]}

    assert codes("py38") == set()
    assert codes("py310") == {"UP045"}


def test_bad_rule_code_is_named(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "mod.py": "x = 1\n"})

    assert_clear_error(stomper("check", "--select", "B9 04", cwd=root), "'B9 04'", "rule code")
    assert_clear_error(stomper("check", "--target-version", "3.11", cwd=root), "py311")


def test_the_demos_own_tests_pass(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
        cwd=DEMO,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b7 passed\b", proc.stdout), proc.stdout


# --- Exit codes -----------------------------------------------------------------------------


def test_clean_project_exits_zero(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "ok.py": "label: str = 'fine'\n"})

    run = stomper("check", cwd=root)

    assert (run.returncode, run.stdout, run.stderr) == (0, "All clear: no issues in 1 file.\n", "")


def test_usage_error_exits_two(stomper: Stomper, tmp_path: Path) -> None:
    run = stomper("check", "--tools", "pylint", cwd=tmp_path)

    assert_clear_error(run, "unknown tool pylint; choose from ruff, mypy")


# --- Bad input ----------------------------------------------------------------------------------


def test_syntax_error_is_reported_as_an_issue(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "bad.py": "def f(:\n    pass\n",
                            "typed.py": TWO_TOOLS})

    run = stomper("check", cwd=root)

    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    assert "ruff  invalid-syntax" in run.stdout and "mypy  syntax" in run.stdout
    assert "mypy  assignment" in run.stdout  # the broken file did not stop the others


def test_non_utf8_file_is_reported_as_an_issue(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": RUFF_CONFIG, "typed.py": TWO_TOOLS})
    (root / "latin1.py").write_bytes(b'greeting = "h\xe9llo"\n')

    run = stomper("check", cwd=root)

    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    assert "ruff  E902" in run.stdout
    assert "mypy  blocking-error  Cannot decode file" in run.stdout
    assert "mypy  assignment" in run.stdout


def test_paths_with_spaces_and_non_ascii(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path / "prøject with space", {"pyproject.toml": RUFF_CONFIG,
                                                    "süb dir/mödule x.py": TWO_TOOLS})

    run = stomper("check", "süb dir/mödule x.py", cwd=root)
    as_json = stomper("check", "--json", str(root / "süb dir"), cwd=tmp_path)

    assert run.returncode == 1, run
    assert run.stdout.startswith("süb dir/mödule x.py\n")
    assert "ruff  F401" in run.stdout and "mypy  assignment" in run.stdout
    assert {i["path"] for i in json.loads(as_json.stdout)["issues"]} == {"süb dir/mödule x.py"}


def test_path_outside_the_project(stomper: Stomper, tmp_path: Path) -> None:
    write(tmp_path, {"A/pyproject.toml": "", "B/x.py": "x = 1\n"})

    run = stomper("check", "--project", "A", "B/x.py", cwd=tmp_path)

    assert_clear_error(run, "B/x.py is outside the project", str(tmp_path / "A"))


def test_missing_path(stomper: Stomper, tmp_path: Path) -> None:
    run = stomper("check", "nowhere.py", cwd=tmp_path)

    assert_clear_error(run, "nowhere.py: no such file or folder")


def test_empty_project(stomper: Stomper, tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "", "README.md": "# nothing to see\n"})

    run = stomper("check", cwd=tmp_path)

    assert run.returncode == 0, run
    assert run.stdout == f"No Python files to check under {tmp_path}.\n"


def test_project_without_pyproject(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path / "scripts", {"tool.py": TWO_TOOLS})

    run = stomper("check", "scripts", cwd=tmp_path)

    assert run.returncode == 1, run
    assert run.stdout.startswith("scripts/tool.py\n")
    assert "ruff  F401" in run.stdout and "mypy  assignment" in run.stdout
    assert (root / "tool.py").read_text() == TWO_TOOLS


def test_missing_ruff_is_an_error_but_mypy_still_reports(
    stomper: Stomper, tmp_path: Path
) -> None:
    root = write(tmp_path / "p", {"pyproject.toml": RUFF_CONFIG, "m.py": TWO_TOOLS})
    user_config = write(tmp_path, {"user.toml": 'ruff_path = "/nonexistent/bin/ruff"\n'})

    run = stomper("check", cwd=root, env={"STOMPER_CONFIG": str(user_config / "user.toml")})

    assert_clear_error(run, "ruff: the configured path '/nonexistent/bin/ruff' (ruff_path)")
    assert "mypy  assignment" in run.stdout
    assert "All clear" not in run.stdout
    assert "Incomplete: ruff failed" in run.stdout


def test_missing_mypy_in_json_mode(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"pyproject.toml": RUFF_CONFIG, "m.py": TWO_TOOLS})
    user_config = write(tmp_path, {"user.toml": 'mypy_path = "/nonexistent/bin/mypy"\n'})

    run = stomper("check", "--json", cwd=root,
                  env={"STOMPER_CONFIG": str(user_config / "user.toml")})

    assert_clear_error(run, "mypy: the configured path")
    report = json.loads(run.stdout)
    assert [e["tool"] for e in report["errors"]] == ["mypy"]
    assert [i["code"] for i in report["issues"]] == ["F401"]


def test_crashing_tool_shows_its_command_and_stderr(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"pyproject.toml": "", "m.py": "x = 1\n"})
    fake_ruff = tmp_path / "bin" / "ruff"
    write(tmp_path, {"bin/ruff": "#!/bin/sh\necho 'ruff: cannot read its cache' >&2\nexit 2\n"})
    fake_ruff.chmod(0o755)
    user_config = write(tmp_path, {"user.toml": f'ruff_path = "{fake_ruff}"\ntools = ["ruff"]\n'})

    run = stomper("check", cwd=root, env={"STOMPER_CONFIG": str(user_config / "user.toml")})

    assert_clear_error(
        run, "ruff: failed with exit code 2", f"command: {fake_ruff} check", "cannot read its cache"
    )


def test_project_cannot_choose_the_binaries(stomper: Stomper, tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": '[tool.stomper]\nruff_path = "/bin/false"\n',
                            "m.py": "import os\n"})

    run = stomper("check", "--tools", "ruff", cwd=root)

    assert run.returncode == 1, run  # the real ruff ran and found F401
    assert "stomper: warning:" in run.stderr and "'ruff_path' is ignored" in run.stderr
    assert "ruff  F401" in run.stdout


def test_broken_toml(stomper: Stomper, tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.stomper\nagent = 'ruff'\n", "m.py": ""})

    run = stomper("check", cwd=tmp_path)

    assert_clear_error(run, f"{tmp_path / 'pyproject.toml'}: invalid TOML", "line 1")


def test_unknown_config_key(stomper: Stomper, tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.stomper]\nmax_paralel_files = 8\n", "m.py": ""})

    run = stomper("check", cwd=tmp_path)

    assert_clear_error(
        run, "[tool.stomper]: unknown key 'max_paralel_files'",
        "Did you mean 'max_parallel_files'?",
    )
