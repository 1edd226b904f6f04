"""Judging an attempt by re-running the checkers, never by what the agent says.

A verdict compares issue fingerprints before and after, on the target and on every other
file the agent touched, and refuses edits that escape the project or reach into `.git`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stomper_lsp.checkers.files import PYTHON_SUFFIXES
from stomper_lsp.checkers.model import Issue, IssueDelta, new_issues
from stomper_lsp.sandbox.pool import SandboxChanges

_LISTED = 12


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    fixed: int = 0
    introduced: int = 0
    remaining: list[Issue] = field(default_factory=list)
    """Issues of the target still present after the attempt."""
    introduced_issues: list[Issue] = field(default_factory=list)
    final: bool = False
    """No retry can help (the sandbox itself was tampered with)."""


def refuse_unsafe_changes(target: str, changes: SandboxChanges) -> Verdict | None:
    """Changes that are never acceptable, whatever the checkers say."""
    if changes.touched_git:
        return Verdict(
            False, "the agent wrote into .git; only project files may change", final=True
        )
    if changes.outside_project:
        listed = ", ".join(changes.outside_project[:_LISTED])
        return Verdict(False, f"the agent changed files outside the project: {listed}")
    if target in changes.deleted:
        return Verdict(False, f"the agent deleted {target}; fix the issues, keep the file")
    if not changes.changed:
        return Verdict(False, "no file was changed")
    return None


def checked_paths(changes: SandboxChanges) -> list[str]:
    """The Python files to re-check after an attempt: every one the agent touched."""
    return sorted(p for p in changes.modified + changes.added if p.endswith(PYTHON_SUFFIXES))


def judge(
    target: str,
    baseline: Mapping[str, Sequence[Issue]],
    after: Sequence[Issue],
    changes: SandboxChanges,
) -> Verdict:
    """Accept when the target has fewer issues and no touched file gained one."""
    refused = refuse_unsafe_changes(target, changes)
    if refused is not None:
        return refused
    after_by_path: dict[str, list[Issue]] = {}
    for issue in after:
        after_by_path.setdefault(issue.path, []).append(issue)
    introduced: list[Issue] = []
    for path in checked_paths(changes):
        introduced.extend(new_issues(baseline.get(path, []), after_by_path.get(path, [])))
    target_delta = IssueDelta.between(baseline.get(target, []), after_by_path.get(target, []))
    remaining = after_by_path.get(target, [])
    if introduced:
        listed = "; ".join(
            f"{i.path}:{i.line} {i.tool} {i.code} {i.message.splitlines()[0]}"
            for i in introduced[:_LISTED]
        )
        return Verdict(
            False, f"the attempt introduced {len(introduced)} new issue(s): {listed}",
            fixed=target_delta.fixed, introduced=len(introduced), remaining=remaining,
            introduced_issues=introduced,
        )
    if target_delta.fixed == 0:
        return Verdict(
            False, "no issue of the target was fixed", remaining=remaining,
        )
    return Verdict(
        True,
        f"fixed {target_delta.fixed}, {len(remaining)} left",
        fixed=target_delta.fixed,
        remaining=remaining,
    )
