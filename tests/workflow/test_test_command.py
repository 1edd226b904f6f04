"""The test command as typed at a prompt: placeholders and leading assignments, no shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from stomper_lsp.workflow.test_command import (
    failure_line,
    failure_reason,
    split_assignments,
    suite_invocation,
)


def test_only_leading_assignments_are_environment() -> None:
    env, argv = split_assignments(["A=1", "B=x=y", "pytest", "C=3", "-k", "a=b"])
    assert env == {"A": "1", "B": "x=y"}
    assert argv == ["pytest", "C=3", "-k", "a=b"]


def test_placeholders_fill_argv_and_assignments(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "GIT_DIR": "/user/.git", "PYTHONPATH": "/checkout"}
    run = suite_invocation(
        ["PYTHONPATH={workdir}/src", "pytest", "{file}", "--rootdir={workdir}"],
        workdir=tmp_path, files=["pkg/mod.py"], base_env=base,
    )
    assert run.argv == ["pytest", "pkg/mod.py", f"--rootdir={tmp_path}"]
    assert run.env == {"PATH": "/bin", "PYTHONPATH": f"{tmp_path}/src"}  # no GIT_DIR
    assert run.cwd == tmp_path


def test_assignments_without_a_program_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names no program"):
        suite_invocation(["A=1"], workdir=tmp_path)


def test_a_batch_fills_file_with_every_fixed_file(tmp_path: Path) -> None:
    files = ["a.py", "pkg/it's.py"]
    run = suite_invocation(
        ["FILES={file}", "pytest", "--doctest-modules", "{file}", "--x={file}"],
        workdir=tmp_path, files=files, base_env={},
    )
    # exactly `{file}`: one argument per file; inside a word: shell-quoted, space-separated
    assert run.argv == ["pytest", "--doctest-modules", "a.py", "pkg/it's.py",
                        "--x=a.py 'pkg/it'\"'\"'s.py'"]
    assert run.env["FILES"] == "a.py 'pkg/it'\"'\"'s.py'"


def test_failure_reason_leads_with_the_failing_test() -> None:
    tail = "..F\nFAILED t.py::test_x - KeyError: 'k'\n1 failed, 2 passed in 0.1s\n"
    reason = failure_reason(1, tail)
    assert reason.splitlines()[0] == (
        "the test command failed (exit 1): FAILED t.py::test_x - KeyError: 'k'"
    )
    assert reason.partition("\n")[2] == tail
    assert failure_line("boom\nValueError: bad\n") == "ValueError: bad"
