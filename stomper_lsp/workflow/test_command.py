"""What the user's test command becomes when it runs: placeholders filled, assignments split off.

No shell runs it (a repository's bytes must not reach one), yet users write test commands
the way they would at a prompt: `PYTHONPATH={workdir} pytest -x`. Leading `NAME=value`
words are therefore environment assignments, as in a shell, and the placeholders name
the sandbox (`{workdir}`) rather than the checkout the user typed the command in, which
`$PWD` or a path spelled out in the shell would.

`{file}` names the fixed file (per-file mode) or every fixed file of the batch (batch
mode): a word that is exactly `{file}` becomes one argument per file, as `pytest
--doctest-modules {file}` or a script mapping sources to their tests wants; inside a
longer word the files are shell-quoted and space-separated, as `sh -c 'run {file}'` wants.
They are the fixed *source* files, not their tests (documented with `test_command`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.agents.command import agent_environment

TEST_PLACEHOLDERS = ("{workdir}", "{file}")
"""`{workdir}`: the project folder in the sandbox (also the working folder); `{file}`: the
fixed file(s), relative to it: the file being fixed (per-file mode), or the files whose
fixes the batch holds (batch mode)."""

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)


@dataclass(frozen=True)
class SuiteInvocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def split_assignments(command: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """`["A=1", "B=2", "pytest", "X=3"]` -> `({"A": "1", "B": "2"}, ["pytest", "X=3"])`."""
    assignments: dict[str, str] = {}
    for index, word in enumerate(command):
        match = _ASSIGNMENT.fullmatch(word)
        if match is None:
            return assignments, list(command[index:])
        assignments[match.group(1)] = match.group(2)
    return assignments, []


def suite_invocation(
    command: Sequence[str],
    *,
    workdir: Path,
    files: Sequence[str] = (),
    base_env: Mapping[str, str] | None = None,
) -> SuiteInvocation:
    """The argv, environment and working folder of one test run in the sandbox `workdir`.

    `files`: the fixed files the run verifies (one in per-file mode, the batch's in batch
    mode). The environment is Stomper's own minus the variables that would point git at
    the user's repository (GIT_DIR & co.), plus the command's leading assignments.
    """
    words: list[str] = []
    for word in command:
        if word == "{file}":
            words += files
            continue
        word = word.replace("{workdir}", str(workdir))
        words.append(word.replace("{file}", shlex.join(files)) if "{file}" in word else word)
    assignments, argv = split_assignments(words)
    if not argv:
        raise ValueError("the test command sets variables but names no program to run")
    return SuiteInvocation(argv, {**agent_environment(base_env), **assignments}, workdir)


def failure_line(output: str) -> str:
    """The line of a test run's output worth showing first: pytest's `FAILED test::name -
    error`, else the last line (`1 failed in 0.2s`, a traceback's exception)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("FAILED ", "ERROR ")):
            return line[:200]
    return (lines[-1] if lines else "no output")[:200]


def failure_reason(returncode: int, tail: str) -> str:
    """A failed run's reason: its telling line first (terminal, summary), then the tail."""
    return f"the test command failed (exit {returncode}): {failure_line(tail)}\n{tail}"
