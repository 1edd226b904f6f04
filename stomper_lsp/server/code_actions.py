"""Quick fixes, suppressions, the on-save source edits and the Stomper run actions.

Quick fixes come from ruff's own fix edits for the buffer's current version (re-checked
first if the buffer moved on), so an edit never lands on text it was not computed for.
On-save kinds get instant ruff edits (source_fixes); the agent runs are offered under
`source.stomper.*` only, and never to an automatic request (a save, a lightbulb).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types

from stomper_lsp.checkers.model import Applicability, Fix, Issue
from stomper_lsp.server.action_kinds import (
    ADVERTISED,
    FIX_ALL_KIND,
    FIX_ALL_RUN_KIND,
    FIX_FILE_RUN_KIND,
    ORGANIZE_IMPORTS_KIND,
)
from stomper_lsp.server.diagnostics import issue_range, to_diagnostic
from stomper_lsp.server.documents import open_document
from stomper_lsp.server.positions import TextIndex
from stomper_lsp.server.source_fixes import source_fix
from stomper_lsp.server.workspace_edits import workspace_edit

if TYPE_CHECKING:
    from stomper_lsp.server.checks import DocumentChecks
    from stomper_lsp.server.server import StomperServer

FIX_FILE_COMMAND = "stomper.fixFile"
FIX_ALL_COMMAND = "stomper.fixAll"
CANCEL_COMMAND = "stomper.cancel"
RESUME_COMMAND = "stomper.resume"
"""Fix all again, reusing every file an interrupted fix-all already finished."""
ADVERTISED_KINDS: list[types.CodeActionKind | str] = list(ADVERTISED)

_NOQA = re.compile(r"#\s*noqa(?P<colon>\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?",
                   re.IGNORECASE)
_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)
_TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]*\])?")


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    """LSP kinds are hierarchical: asking for `source` includes `source.fixAll.stomper`."""
    if not only:
        return True
    return any(kind == k or kind.startswith(f"{k}.") for k in only)


def _named(kind: str, only: Sequence[str] | None) -> bool:
    """`only` asks for `kind` or one of its parents, by name (not just "everything")."""
    return bool(only) and _wanted(kind, only)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end


def _key(rng: types.Range) -> tuple[int, int, int, int]:
    return (rng.start.line, rng.start.character, rng.end.line, rng.end.character)


def multiline_string_ends(text: str) -> dict[int, int]:
    """0-based line -> the line its multi-line string ends on, for every line a string
    spans but does not end on: a comment can only go after the string."""
    spans: dict[int, int] = {}
    fstring_starts: list[int] = []  # Python 3.12+ splits f-strings into several tokens
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            start, end = token.start[0] - 1, token.end[0] - 1
            if token.type == _FSTRING_START:
                fstring_starts.append(start)
                continue
            if token.type == _FSTRING_END and fstring_starts:
                start = fstring_starts.pop()
            elif token.type != tokenize.STRING:
                continue
            if end > start:
                spans.update(dict.fromkeys(range(start, end), end))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # a broken file: the issue's own line is the best guess
    return spans


def _append_comment_edit(
    index: TextIndex, line: int, pattern: re.Pattern[str], code: str, fresh: str
) -> types.TextEdit | None:
    """Add `code` to the line's existing suppression comment, or append `fresh`."""
    content = index.line_text(line)
    match = pattern.search(content)
    if match is None:
        start, end = index.position(line, len(content.rstrip())), index.position(line, len(content))
        return types.TextEdit(range=types.Range(start=start, end=end), new_text=f"  {fresh}")
    codes = match.group("codes")
    if not codes:
        return None  # a blanket suppression already covers the code
    if code in re.findall(r"[\w-]+", codes):
        return None
    # Inside `[...]` for mypy, right after the last code for ruff.
    at = match.end("codes") - (1 if pattern is _TYPE_IGNORE else 0)
    point = index.position(line, at)
    return types.TextEdit(range=types.Range(start=point, end=point), new_text=f", {code}")


class CodeActionBuilder:
    def __init__(self, server: StomperServer) -> None:
        self._server = server

    async def actions(
        self, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command] | None:
        uri = params.text_document.uri
        doc = self._server.checks.document(uri)
        if doc is None and open_document(self._server.workspace, uri) is not None:
            doc = await self._server.checks.opened(uri)  # a save right after opening
        if doc is None:
            return None
        only = [str(k.value if isinstance(k, types.CodeActionKind) else k)
                for k in params.context.only or []] or None
        result: list[types.CodeAction | types.Command] = []
        if self._server.features.code_action_literals and _wanted("quickfix", only):
            result.extend(
                await self._quick_fixes(doc, params.range, params.context.diagnostics)
            )
        if self._server.features.code_action_literals:
            # Edits only when asked for by kind: a lightbulb request (no `only`) would
            # otherwise run ruff twice more on every cursor move.
            for kind in (FIX_ALL_KIND, ORGANIZE_IMPORTS_KIND):
                if _named(kind, only) and (action := await source_fix(self._server, doc, kind)):
                    result.append(action)
        automatic = params.context.trigger_kind == types.CodeActionTriggerKind.Automatic
        if not automatic and (_wanted(FIX_FILE_RUN_KIND, only) or _wanted(FIX_ALL_RUN_KIND, only)):
            result.extend(self._source_actions(doc, only))
        return result

    async def _quick_fixes(
        self,
        doc: DocumentChecks,
        wanted: types.Range,
        context: Sequence[types.Diagnostic],
    ) -> list[types.CodeAction | types.Command]:
        ruff = await self._server.checks.fresh_ruff(doc)
        document = open_document(self._server.workspace, doc.uri)
        if document is None:
            return []
        index = TextIndex(document.source, self._server.workspace.position_codec)
        # Neovim asks at the cursor and lists the line's diagnostics in the context: they
        # are found by the fingerprint in their data, else by code and range.
        named = {(str(d.code), _key(d.range)) for d in context}
        fingerprints = {
            d.data.get("fingerprint") for d in context if isinstance(d.data, dict)
        }
        issues = [
            issue
            for issue in [*ruff, *doc.mypy_issues]
            if _overlaps(rng := issue_range(issue, index), wanted)
            or (issue.code, _key(rng)) in named
            or issue.fingerprint in fingerprints
        ]
        if not issues:
            return []
        string_ends = multiline_string_ends(index.text)
        actions: list[types.CodeAction | types.Command] = []
        suppressions: list[types.CodeAction | types.Command] = []
        seen: set[tuple[int, str]] = set()
        for issue in issues:
            diagnostic = to_diagnostic(issue, index, self._server.features)
            if issue.fix is not None and issue.fix.applicability != Applicability.DISPLAY_ONLY:
                actions.append(self._fix_action(doc, document.version, index, issue, issue.fix,
                                                diagnostic))
            line = string_ends.get(issue.start.line, issue.start.line)
            if (line, issue.code) in seen:
                continue
            seen.add((line, issue.code))
            action = self._suppress_action(doc, document.version, index, issue, line, diagnostic,
                                           inside_string=issue.start.line in string_ends)
            if action is not None:
                suppressions.append(action)
        return actions + suppressions

    def _edit(
        self, uri: str, version: int | None, edits: list[types.TextEdit]
    ) -> types.WorkspaceEdit:
        return workspace_edit(
            {uri: (version, edits)}, document_changes=self._server.features.document_changes
        )

    def _fix_action(
        self,
        doc: DocumentChecks,
        version: int | None,
        index: TextIndex,
        issue: Issue,
        fix: Fix,
        diagnostic: types.Diagnostic,
    ) -> types.CodeAction:
        unsafe = fix.applicability == Applicability.UNSAFE
        title = f"Ruff ({issue.code}): {fix.message or 'Apply the suggested fix'}"
        if unsafe:
            title += " (unsafe fix: check the result)"
        edits = [
            types.TextEdit(
                range=types.Range(
                    start=index.position(e.start.line, e.start.character),
                    end=index.position(e.end.line, e.end.character),
                ),
                new_text=e.content,
            )
            for e in fix.edits
        ]
        return types.CodeAction(
            title=title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            edit=self._edit(doc.uri, version, edits),
            is_preferred=not unsafe,
        )

    def _suppress_action(
        self,
        doc: DocumentChecks,
        version: int | None,
        index: TextIndex,
        issue: Issue,
        line: int,
        diagnostic: types.Diagnostic,
        *,
        inside_string: bool,
    ) -> types.CodeAction | None:
        if issue.tool == "ruff":
            title = f"Ruff ({issue.code}): Disable {issue.code} for this line"
            edit = _append_comment_edit(index, line, _NOQA, issue.code, f"# noqa: {issue.code}")
        else:
            if inside_string:
                return None  # mypy wants the ignore on the reported line, inside the string
            title = f"Mypy ({issue.code}): Ignore [{issue.code}] for this line"
            edit = _append_comment_edit(
                index, line, _TYPE_IGNORE, issue.code, f"# type: ignore[{issue.code}]"
            )
        if edit is None:
            return None
        return types.CodeAction(
            title=title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            edit=self._edit(doc.uri, version, [edit]),
        )

    def _source_actions(
        self, doc: DocumentChecks, only: Sequence[str] | None
    ) -> list[types.CodeAction | types.Command]:
        """The agent runs: started by the user picking them, in the background."""
        runs = [
            (FIX_FILE_RUN_KIND, types.Command(
                title="Fix this file with Stomper", command=FIX_FILE_COMMAND, arguments=[doc.uri]
            )),
            (FIX_ALL_RUN_KIND, types.Command(
                title="Fix all with Stomper",
                command=FIX_ALL_COMMAND,
                arguments=[doc.handle.folder.uri],
            )),
        ]
        wanted = [(kind, command) for kind, command in runs if _wanted(kind, only)]
        if not self._server.features.code_action_literals:
            return [command for _, command in wanted]
        return [
            types.CodeAction(title=command.title, kind=kind, command=command)
            for kind, command in wanted
        ]
