"""Issue -> LSP Diagnostic, honouring what the client says it can render."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from lsprotocol import types

from stomper_lsp.checkers.model import Issue, Severity
from stomper_lsp.server.client_features import ClientFeatures
from stomper_lsp.server.positions import TextIndex

SOURCES = {"ruff": "Ruff", "mypy": "Mypy"}
SYNTAX_CODES = frozenset({"invalid-syntax", "syntax", "blocking-error"})

# Codes whose flagged text can simply go: editors fade it out. Mirrors `ruff server`
# (unused imports, variables and arguments, unused suppressions) plus mypy's equivalents.
UNNECESSARY_CODES = frozenset(
    {
        "F401", "F841", "F842", "RUF059", "RUF100", "ARG001", "ARG002", "ARG003", "ARG004",
        "ARG005", "PIE790", "ERA001", "unused-ignore", "unreachable", "redundant-cast",
        "unused-coroutine",
    }
)
# Codes that flag a deprecated API: editors strike it through.
DEPRECATED_CODES = frozenset(
    {"UP005", "UP006", "UP019", "UP021", "UP023", "UP026", "UP035", "deprecated"}
)

_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFORMATION: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def severity(issue: Issue) -> types.DiagnosticSeverity:
    """ruff's lint findings are warnings (as in `ruff server`); syntax, type errors: errors."""
    if issue.tool == "ruff" and issue.code not in SYNTAX_CODES and issue.severity == Severity.ERROR:
        return types.DiagnosticSeverity.Warning
    return _SEVERITIES[issue.severity]


def tags(code: str, supported: frozenset[int]) -> list[types.DiagnosticTag] | None:
    found = []
    if code in UNNECESSARY_CODES and types.DiagnosticTag.Unnecessary in supported:
        found.append(types.DiagnosticTag.Unnecessary)
    if code in DEPRECATED_CODES and types.DiagnosticTag.Deprecated in supported:
        found.append(types.DiagnosticTag.Deprecated)
    return found or None


def issue_range(issue: Issue, index: TextIndex) -> types.Range:
    start = index.position(issue.start.line, issue.start.character)
    end = index.position(issue.end.line, issue.end.character)
    if (end.line, end.character) < (start.line, start.character):
        end = start
    return types.Range(start=start, end=end)


def diagnostic_data(issue: Issue) -> dict[str, Any]:
    """The issue's identity, which survives line shifts: a code action request naming this
    diagnostic finds the issue (and ruff's fix for the current text) by it. Carrying the
    fix itself would triple the cost of serialising every publish, for edits that would
    be stale after the next keystroke anyway."""
    return {"fingerprint": issue.fingerprint, "tool": issue.tool}


def to_diagnostic(issue: Issue, index: TextIndex, features: ClientFeatures) -> types.Diagnostic:
    description = None
    if issue.url and features.code_description:
        description = types.CodeDescription(href=issue.url)
    return types.Diagnostic(
        range=issue_range(issue, index),
        message=issue.message,
        severity=severity(issue),
        code=issue.code,
        code_description=description,
        source=SOURCES.get(issue.tool, issue.tool),
        tags=tags(issue.code, features.diagnostic_tags),
        data=diagnostic_data(issue) if features.diagnostic_data else None,
    )


_CacheKey = tuple[int, str, str]


class _Entry:
    __slots__ = ("diagnostic", "issue", "json")

    def __init__(self, issue: Issue, diagnostic: types.Diagnostic) -> None:
        self.issue = issue  # held, so its id() in the key is never reused while cached
        self.diagnostic = diagnostic
        self.json: str | None = None


class DiagnosticCache:
    """Converting an issue is a pure function of the issue and the text of its lines, and
    from one keystroke to the next almost every issue is unchanged: the ruff checker hands
    back the very same Issue object then, so last time's diagnostic (and its JSON form,
    for a push) is found by the issue's identity and the text of its lines."""

    def __init__(
        self, features: ClientFeatures, unstructure: Callable[[Any], Any] | None = None
    ) -> None:
        self._features = features
        self._unstructure = unstructure
        self._last: dict[_CacheKey, _Entry] = {}

    def convert(self, issues: Iterable[Issue], index: TextIndex) -> list[types.Diagnostic]:
        return [entry.diagnostic for entry in self._entries(issues, index)]

    def convert_to_json(self, issues: Iterable[Issue], index: TextIndex) -> str:
        """The diagnostics as a JSON array of what pygls would send (its converter's):
        each unchanged diagnostic's text is reused, not serialised again (0.4 ms for 127
        diagnostics, more on a loaded machine)."""
        unstructure = self._unstructure
        assert unstructure is not None, "DiagnosticCache built without a converter"
        texts = []
        for entry in self._entries(issues, index):
            if entry.json is None:
                entry.json = json.dumps(unstructure(entry.diagnostic))
            texts.append(entry.json)
        return f"[{','.join(texts)}]"

    def _entries(self, issues: Iterable[Issue], index: TextIndex) -> list[_Entry]:
        fresh: dict[_CacheKey, _Entry] = {}
        result = []
        last = self._last
        for issue in issues:
            key = (id(issue), index.line_text(issue.start.line), index.line_text(issue.end.line))
            entry = last.get(key)
            if entry is None or entry.issue is not issue:
                entry = _Entry(issue, to_diagnostic(issue, index, self._features))
            fresh[key] = entry
            result.append(entry)
        # Pulled and pushed sets of one document share the cache: keep both, bounded.
        if len(last) + len(fresh) > 4 * max(len(fresh), 256):
            self._last = fresh
        else:
            last.update(fresh)
        return result
