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
    """How two issue sets for the same file differ, counted by fingerprint (a multiset)."""

    fixed: int
    introduced: int
    remaining: int

    @classmethod
    def between(cls, before: Iterable[Issue], after: Iterable[Issue]) -> IssueDelta:
        old = Counter(issue.fingerprint for issue in before)
        new = Counter(issue.fingerprint for issue in after)
        return cls(
            fixed=sum((old - new).values()),
            introduced=sum((new - old).values()),
            remaining=sum((old & new).values()),
        )


def group_by_path(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    grouped: dict[str, list[Issue]] = {}
    for issue in sorted(issues, key=lambda i: (i.path, i.start.line, i.start.character, i.tool)):
        grouped.setdefault(issue.path, []).append(issue)
    return grouped
