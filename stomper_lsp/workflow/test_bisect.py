"""Narrowing a test-rejected attempt down with test runs, within a budget.

When the test command rejects an attempt of an agent that names the units it applied
(the built-in agent: ruff rule codes, in the order it applied them), one bad rule need not
cost the file every other fix. Like `git bisect`, the search looks for the shortest prefix
of the units that still fails the tests: its last unit is dropped, and the units after it
are tried again on top of the ones before (one test run when they pass). A dropped rule is
then narrowed the same way fix by fix (`CODE:LINE`), so only the fix that breaks a test is
left out. f bad rules among n cost about f·(log2 n + 1) runs, plus log2 of the rule's fixes.

Every trial is a whole attempt judged by the engine (agent, capture, checkers, tests on
exactly those bytes): what is kept is the last trial that passed, never a set inferred
from others. `budget` bounds the test runs per file; when it runs out, the last passing
trial is kept and what it leaves out unverified is reported as such.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from stomper_lsp.agents.fix_bisect import fix_id
from stomper_lsp.checkers.model import Applicability, Issue
from stomper_lsp.workflow.test_command import failure_line

T = TypeVar("T")

_FIXABLE = (Applicability.SAFE, Applicability.UNSAFE)


@dataclass(frozen=True)
class Trial(Generic[T]):
    """How the engine judged one narrowed attempt."""

    passed: bool
    """Checkers and tests accepted exactly these bytes."""
    tested: bool
    """A test run was spent on it (a trial the checkers reject costs none)."""
    failure: str = ""
    remaining: Sequence[Issue] = ()
    """The target's issues after the trial: where a dropped rule's single fixes are found."""
    payload: T | None = None
    """The caller's own record of the trial (the captured texts, to deliver the best)."""


Probe = Callable[[tuple[str, ...]], Awaitable[Trial[T]]]
"""leave_out -> the judged attempt that applies every unit but those."""


@dataclass
class Narrowed(Generic[T]):
    best: Trial[T] | None
    """The largest trial that passed; None: none did within the budget."""
    left_out: tuple[str, ...] = ()
    """What `best` leaves out: rule codes and `CODE:LINE` single fixes."""
    dropped: list[str] = field(default_factory=list)
    """One line per left-out unit: what it is and why (the tests, or the budget)."""
    test_runs: int = 0
    trials: int = 0


class _Search(Generic[T]):
    def __init__(self, probe: Probe[T], budget: int) -> None:
        self._probe = probe
        self._budget = budget
        self.result: Narrowed[T] = Narrowed(best=None)
        self.failures: dict[str, str] = {}
        """Unit found to break the tests -> the failure of the shortest failing prefix."""
        self.only_fix: dict[str, str] = {}
        """Rule left out whole whose one applied fix it was -> that fix (`CODE:LINE`)."""

    def spent(self) -> bool:
        # Trials the checkers reject cost no test run; bound them too.
        return (self.result.test_runs >= self._budget
                or self.result.trials >= 2 * self._budget + 2)

    async def trial(self, leave_out: Sequence[str]) -> Trial[T]:
        found = await self._probe(tuple(leave_out))
        self.result.trials += 1
        self.result.test_runs += int(found.tested)
        if found.passed:
            self.result.best = found
            self.result.left_out = tuple(leave_out)
        return found

    async def drop(self, units: Sequence[str], fixed: Sequence[str], failure: str) -> None:
        """Drop units (kept in order) until `fixed` + the rest pass; all of them fail now."""
        dropped: list[str] = []
        rest = list(units)
        first = True
        while rest and not self.spent():
            if not first:
                found = await self.trial([*fixed, *dropped])
                if found.passed or self.result.best is None:
                    # Nothing passed, not even without the culprit: the tests fail
                    # whatever is left out (or many rules break them); stop spending.
                    return
                failure = found.failure
            first = False
            passes, fails = 0, len(rest)  # prefix lengths: rest[:passes] passes (or is empty)
            while fails - passes > 1 and not self.spent():
                middle = (passes + fails) // 2
                found = await self.trial([*fixed, *dropped, *rest[middle:]])
                if found.passed:
                    passes = middle
                else:
                    fails, failure = middle, found.failure
            if fails - passes > 1:
                return
            bad = rest[fails - 1]
            dropped.append(bad)
            self.failures[bad] = failure
            rest = rest[fails:]


def _single_fixes(rule: str, best: Sequence[Issue], failed: Sequence[Issue],
                  before: Sequence[Issue]) -> list[str]:
    """The rule's fixes the failing attempt applied: left in `best`, gone in `failed`."""
    applied_before = {fix_id(before, i) for i in failed if i.code == rule}
    found: list[str] = []
    for issue in sorted(best, key=lambda i: (i.start.line, i.start.character)):
        if issue.code != rule or issue.fix is None or issue.fix.applicability not in _FIXABLE:
            continue
        name = fix_id(before, issue)
        if name not in applied_before and name not in found:
            found.append(name)
    return found


def _describe(unit: str, reason: str, remaining: Sequence[Issue],
              before: Sequence[Issue]) -> str:
    rule, _, line = unit.partition(":")
    if not line:
        return f"{rule} (every fix of the rule): {reason}"
    message = next(
        (i.message.splitlines()[0] for i in remaining
         if i.code == rule and fix_id(before, i) == unit), "",
    )
    return f"{rule} at line {line}" + (f" ({message})" if message else "") + f": {reason}"


async def narrow_by_tests(
    applied: Sequence[str],
    probe: Probe[T],
    *,
    budget: int,
    failure: str,
    failed_remaining: Sequence[Issue],
    before: Sequence[Issue],
) -> Narrowed[T]:
    """Find the largest set of `applied` units (then single fixes) that passes the tests.

    `failure` is why the attempt that applied all of them was rejected by the tests,
    `failed_remaining` the target's issues after it, `before` the target's issues in the
    snapshot (they name single fixes by the user's line numbers).
    """
    search: _Search[T] = _Search(probe, budget)
    if budget <= 0 or not applied:
        return search.result
    await search.drop(list(applied), [], failure)
    for rule in [unit for unit in search.result.left_out if ":" not in unit]:
        best = search.result.best
        if best is None or search.spent():
            break
        fixes = _single_fixes(rule, best.remaining, failed_remaining, before)
        if len(fixes) < 2:
            if fixes:
                search.only_fix[rule] = fixes[0]
            continue
        others = [unit for unit in search.result.left_out if unit != rule]
        await search.drop(fixes, others, search.failures.get(rule, failure))
    result = search.result
    if result.best is None:
        return result
    for unit in result.left_out:
        if unit in search.failures:
            reason = f"breaks the tests ({failure_line(search.failures[unit])})"
        else:
            reason = f"not tried within the test budget ({budget} runs)"
        named = search.only_fix.get(unit, unit)
        result.dropped.append(_describe(named, reason, result.best.remaining, before))
    return result
