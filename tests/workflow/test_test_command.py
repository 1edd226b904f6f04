"""The test command as typed at a prompt: placeholders and leading assignments, no shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from stomper_lsp.workflow.test_command import split_assignments, suite_invocation


def test_only_leading_assignments_are_environment() -> None:
    env, argv = split_assignments(["A=1", "B=x=y", "pytest", "C=3", "-k", "a=b"])
    assert env == {"A": "1", "B": "x=y"}
    assert argv == ["pytest", "C=3", "-k", "a=b"]


def test_placeholders_fill_argv_and_assignments(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "GIT_DIR": "/user/.git", "PYTHONPATH": "/checkout"}
    run = suite_invocation(
        ["PYTHONPATH={workdir}/src", "pytest", "{file}", "--rootdir={workdir}"],
        workdir=tmp_path, file="pkg/mod.py", base_env=base,
    )
    assert run.argv == ["pytest", "pkg/mod.py", f"--rootdir={tmp_path}"]
    assert run.env == {"PATH": "/bin", "PYTHONPATH": f"{tmp_path}/src"}  # no GIT_DIR
    assert run.cwd == tmp_path


def test_assignments_without_a_program_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names no program"):
        suite_invocation(["A=1"], workdir=tmp_path)
