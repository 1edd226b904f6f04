"""Checker failures, phrased so the user can act on them."""

from __future__ import annotations

from collections.abc import Sequence

_STDERR_LIMIT = 2000


class CheckerError(Exception):
    """A checker could not give an answer: missing, crashed, timed out or spoke gibberish."""

    def __init__(self, tool: str, problem: str, argv: Sequence[str] = (), stderr: str = "") -> None:
        self.tool = tool
        self.problem = problem
        self.argv = tuple(argv)
        self.stderr = stderr.strip()
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.tool}: {self.problem}"
        if self.argv:
            text += f"\n  command: {' '.join(self.argv)}"
        if self.stderr:
            tail = self.stderr[-_STDERR_LIMIT:]
            text += "\n  stderr: " + tail.replace("\n", "\n          ")
        return text


class ToolNotFoundError(CheckerError):
    pass
