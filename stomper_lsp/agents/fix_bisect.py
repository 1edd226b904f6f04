"""Keep every ruff fix that adds no issue; drop only the ones that do.

Applying all of a file's fixes at once is all or nothing: one rule whose fix makes a new
issue (UP030 on mixed `{0}{1}` numbering makes F525; B011 inside `except` makes B904)
would cost the file every other fix. Everything here works on the file's text through
ruff's stdin, so each try costs milliseconds and no test run: safe fixes first (a safe
rewrite can make an unsafe one unnecessary), then unsafe ones, then the safe ones again
for what the unsafe rewrites brought back; a batch that adds issues
is narrowed down rule by rule, and a rule that adds issues, fix by fix. The engine still
re-checks (and tests) whatever this returns: nothing here is believed, only tried.

`leave_out` is how the test narrowing (workflow/test_bisect.py) asks for a smaller set:
a rule code (`F841`) leaves out all of that rule's fixes, `CODE:LINE` (a line of the
user's file, as `fix_id` names it) only that one fix; the rule's other fixes are kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from stomper_lsp.checkers.model import Applicability, Fix, Issue, new_issues

Lint = Callable[[str], Awaitable[list[Issue]]]
"""Text -> what ruff reports on it (already filtered to the issues that count)."""
ApplyRules = Callable[[str, Sequence[str], bool], Awaitable[str]]
"""(text, rule codes, unsafe) -> the text with ruff's fixes for those rules applied."""

_CLEANUP_PASSES = 3
_MAX_SINGLE_FIXES = 200  # per rule: a bound on ruff runs, not a limit anyone should meet


@dataclass
class BisectResult:
    text: str
    kept_rules: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """One line per dropped fix or rule: what it is and which new issue it would add."""


def fixable(issues: Sequence[Issue], codes: Sequence[str], *, unsafe: bool) -> list[Issue]:
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    return [
        i for i in issues
        if i.code in codes and i.fix is not None and i.fix.applicability in allowed
    ]


def apply_fix(text: str, fix: Fix) -> str:
    """One fix's edits (0-based line/character positions, as ruff reports them)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, character: int) -> int:
        return starts[min(line, len(lines))] + character

    for edit in sorted(fix.edits, key=lambda e: (e.start.line, e.start.character), reverse=True):
        begin = offset(edit.start.line, edit.start.character)
        end = offset(edit.end.line, edit.end.character)
        text = text[:begin] + edit.content + text[end:]
    return text


def original_line(before: Sequence[Issue], issue: Issue) -> int:
    """Earlier fixes may have moved the line: name it as it is in the user's file."""
    same = [
        i for i in before
        if i.code == issue.code and i.line_text.strip() == issue.line_text.strip()
    ]
    return min(same, key=lambda i: abs(i.line - issue.line)).line if same else issue.line


def fix_id(before: Sequence[Issue], issue: Issue) -> str:
    """`CODE:LINE`: one fix, named by its rule and its line in the user's file."""
    return f"{issue.code}:{original_line(before, issue)}"


def _named(issues: Sequence[Issue]) -> str:
    return ", ".join(f"{i.code} at line {i.line}" for i in issues[:3]) + (
        f" and {len(issues) - 3} more" if len(issues) > 3 else ""
    )


class FixBisector:
    """Finds the largest set of a file's fixes it can keep without adding an issue."""

    def __init__(
        self, lint: Lint, apply_rules: ApplyRules, original: str,
        leave_out: Sequence[str] = (),
    ) -> None:
        self._lint = lint
        self._apply = apply_rules
        self._original = original
        self._before: list[Issue] = []
        self._left_rules = {entry for entry in leave_out if ":" not in entry}
        self._left_fixes = {entry for entry in leave_out if ":" in entry}
        self._one_by_one = {entry.partition(":")[0] for entry in self._left_fixes}
        """Rules with a fix left out: applied fix by fix, so that one can be skipped."""

    async def run(self, codes: Sequence[str], *, unsafe: bool) -> BisectResult:
        self._before = await self._lint(self._original)
        result = BisectResult(self._original)
        codes = [code for code in codes if code not in self._left_rules]
        await self._phase(result, codes, unsafe=False)
        if unsafe:
            await self._phase(result, codes, unsafe=True)
            # An unsafe rewrite can bring back what a safe rule fixes (SIM103 writes
            # `not (a and b or c)`: RUF021 again; SIM105 adds an import: I001 again).
            await self._phase(result, codes, unsafe=False)
        return result

    def _original_line(self, issue: Issue) -> int:
        return original_line(self._before, issue)

    async def _introduced(self, text: str) -> tuple[str, list[Issue]]:
        """The text after cleaning up what its fixes left behind, and what it still adds."""
        for _ in range(_CLEANUP_PASSES + 1):
            added = new_issues(self._before, await self._lint(text))
            cleanup = sorted({i.code for i in fixable(added, [i.code for i in added],
                                                      unsafe=False)})
            if not added or not cleanup:
                return text, added
            text = await self._apply(text, cleanup, False)
        return text, new_issues(self._before, await self._lint(text))

    async def _phase(self, result: BisectResult, codes: Sequence[str], *, unsafe: bool) -> None:
        found = {i.code for i in fixable(await self._lint(result.text), codes, unsafe=unsafe)}
        present = sorted(found - self._one_by_one)
        for code in sorted(found & self._one_by_one):
            await self._fix_by_fix(result, code, unsafe=unsafe)
        if not present:
            return
        text, added = await self._introduced(await self._apply(result.text, present, unsafe))
        if not added:
            result.text = text
            result.kept_rules += [c for c in present if c not in result.kept_rules]
            return
        for code in present:  # rule by rule, each on top of the ones kept so far
            text, added = await self._introduced(await self._apply(result.text, [code], unsafe))
            if not added:
                result.text = text
                if code not in result.kept_rules:
                    result.kept_rules.append(code)
            else:
                await self._fix_by_fix(result, code, unsafe=unsafe)

    async def _fix_by_fix(self, result: BisectResult, code: str, *, unsafe: bool) -> None:
        skipped = 0
        kept_any = False
        for _ in range(_MAX_SINGLE_FIXES):
            candidates = fixable(await self._lint(result.text), [code], unsafe=unsafe)
            if skipped >= len(candidates):
                break
            issue = candidates[skipped]
            assert issue.fix is not None
            if fix_id(self._before, issue) in self._left_fixes:
                skipped += 1  # the test narrowing asked for this one to be left out
                continue
            text, added = await self._introduced(apply_fix(result.text, issue.fix))
            if added:
                line = (
                    f"{code} at line {self._original_line(issue)} "
                    f"({issue.message.splitlines()[0]}): "
                    f"would add {_named(added)}"
                )
                if line not in result.dropped:  # the unsafe phase meets safe ones again
                    result.dropped.append(line)
                skipped += 1
            else:
                result.text = text
                kept_any = True
        if kept_any and code not in result.kept_rules:
            result.kept_rules.append(code)
