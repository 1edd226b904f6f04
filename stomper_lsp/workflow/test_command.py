"""What the user's test command becomes when it runs: placeholders filled, assignments split off.

No shell runs it (a repository's bytes must not reach one), yet users write test commands
the way they would at a prompt: `PYTHONPATH={workdir} pytest -x`. Leading `NAME=value`
words are therefore environment assignments, as in a shell, and the placeholders name
the sandbox (`{workdir}`) rather than the checkout the user typed the command in, which
`$PWD` or a path spelled out in the shell would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.agents.command import agent_environment

TEST_PLACEHOLDERS = ("{workdir}", "{file}")
"""`{workdir}`: the project folder in the sandbox (also the working folder); `{file}`: the
file being fixed, relative to it (per-file test runs only; empty for a batch)."""

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
    file: str = "",
    base_env: Mapping[str, str] | None = None,
) -> SuiteInvocation:
    """The argv, environment and working folder of one test run in the sandbox `workdir`.

    The environment is Stomper's own minus the variables that would point git at the
    user's repository (GIT_DIR & co.), plus the command's leading assignments.
    """
    values = {"{workdir}": str(workdir), "{file}": file}

    def fill(word: str) -> str:
        for placeholder, value in values.items():
            word = word.replace(placeholder, value)
        return word

    assignments, argv = split_assignments([fill(word) for word in command])
    if not argv:
        raise ValueError("the test command sets variables but names no program to run")
    return SuiteInvocation(argv, {**agent_environment(base_env), **assignments}, workdir)
