"""The one issue model every checker produces and every other part of Stomper consumes."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"
    HINT = "hint"


class Applicability(StrEnum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


class Position(BaseModel):
    """0-based line and character (a character is a Unicode code point)."""

    model_config = ConfigDict(frozen=True)

    line: int
    character: int


class FixEdit(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: Position
    end: Position
    content: str


class Fix(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: str | None
    applicability: Applicability
    edits: tuple[FixEdit, ...]


class Issue(BaseModel):
    """One finding of one tool, located in a repo-relative POSIX `path`."""

    model_config = ConfigDict(frozen=True)

    path: str
    start: Position
    end: Position
    tool: str
    code: str
    message: str
    severity: Severity = Severity.ERROR
    url: str | None = None
    fix: Fix | None = None
    line_text: str = ""
    """The flagged line's text: what makes the fingerprint survive line shifts."""

    @property
    def fingerprint(self) -> str:
        """Identity across edits: moving the line up or down keeps it, changing it does not."""
        key = "\x1f".join((self.tool, self.code, self.message, self.line_text.strip()))
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

    @property
    def line(self) -> int:
        """1-based line, for humans."""
        return self.start.line + 1


class IssueDelta(BaseModel):
    """How two issue sets for the same file differ.

    Matched in two passes: by fingerprint (survives line shifts), then what is left by tool,
    code and message alone, so an issue whose line was edited by a fix of *another* issue
    (`List[int]` -> `list[int]` on a line mypy also flags) is still the same issue.
    """

    fixed: int
    introduced: int
    remaining: int

    @classmethod
    def between(cls, before: Iterable[Issue], after: Iterable[Issue]) -> IssueDelta:
        before, after = list(before), list(after)
        unmatched = new_issues(before, after)
        remaining = len(after) - len(unmatched)
        return cls(fixed=len(before) - remaining, introduced=len(unmatched), remaining=remaining)


def _loose_key(issue: Issue) -> tuple[str, str, str]:
    return (issue.tool, issue.code, issue.message)


def new_issues(before: Iterable[Issue], after: Iterable[Issue]) -> list[Issue]:
    """The issues of `after` that match nothing in `before` (see IssueDelta)."""
    before, after = list(before), list(after)
    exact = Counter(i.fingerprint for i in before) & Counter(i.fingerprint for i in after)

    def unmatched(issues: list[Issue]) -> list[Issue]:
        budget = Counter(exact)
        rest = []
        for issue in issues:
            if budget[issue.fingerprint] > 0:
                budget[issue.fingerprint] -= 1
            else:
                rest.append(issue)
        return rest

    loose = Counter(_loose_key(i) for i in unmatched(before))
    leftover = []
    for issue in unmatched(after):
        if loose[_loose_key(issue)] > 0:
            loose[_loose_key(issue)] -= 1
        else:
            leftover.append(issue)
    return leftover


def group_by_path(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    grouped: dict[str, list[Issue]] = {}
    for issue in sorted(issues, key=lambda i: (i.path, i.start.line, i.start.character, i.tool)):
        grouped.setdefault(issue.path, []).append(issue)
    return grouped
