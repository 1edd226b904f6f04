"""Judging an attempt by re-running the checkers, never by what the agent says.

The rule (docs/architecture.md, "What an attempt may deliver"):
- The files judged are the target, always, plus every Python file the agent modified or
  created (a new one under a dot-folder or dot-named is a tool dropping, not a fix).
- Everything else it wrote (notes, histories, caches, edits to non-Python files) is left
  out: put back to the snapshot before the re-check and never delivered, so the checkers
  judge exactly the tree that would be delivered (a `pyproject.toml` that silences a rule
  cannot count as a fix).
- An attempt is accepted only if the target's own issues went down and no judged file
  gained an issue. Emptying a file that had code no issue flagged is no fix (the checkers
  find nothing in an empty file; agents and half-finished writes both produce one).
  Deleting any file, writing into `.git` or outside the project, or a judged file that is
  a symbolic link or not a regular file, rejects it.
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
    left_out: list[str] = field(default_factory=list)
    """Files the agent wrote that are not delivered (see the module's rule)."""


def is_tool_dropping(path: str) -> bool:
    """A new file under a dot-folder or dot-named (agent history, tool caches)."""
    return any(part.startswith(".") for part in path.split("/"))


@dataclass(frozen=True)
class AttemptFiles:
    """An attempt's written files, split by the delivery rule."""

    judged: list[str]
    """Re-checked, and delivered when changed: the target plus the Python files written."""
    left_out: list[str]
    """Written but never delivered; put back to the snapshot before the re-check."""


def split_changes(target: str, changes: SandboxChanges) -> AttemptFiles:
    judged = {target}
    left_out: list[str] = []
    added = set(changes.added)
    for path in changes.modified + changes.added:
        is_python = path.endswith(PYTHON_SUFFIXES)
        if is_python and not (path in added and is_tool_dropping(path)):
            judged.add(path)
        else:
            left_out.append(path)
    return AttemptFiles(sorted(judged), sorted(left_out))


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
    if changes.deleted:
        listed = ", ".join(changes.deleted[:_LISTED])
        return Verdict(
            False, f"the agent deleted {listed}; Stomper never deletes files, keep every file"
        )
    if not changes.changed:
        return Verdict(False, "no file was changed")
    return None


def is_blank(text: str | None) -> bool:
    return text is not None and not text.strip()


def refuse_emptied(
    before: Mapping[str, str | None], baseline: Mapping[str, Sequence[Issue]]
) -> Verdict | None:
    """`before`: the snapshot text of each judged file the attempt left blank."""
    emptied = []
    for path, text in sorted(before.items()):
        flagged = {line for issue in baseline.get(path, []) for line in _lines_of(issue)}
        lines = (text or "").splitlines()
        if any(line.strip() and number not in flagged for number, line in enumerate(lines, 1)):
            emptied.append(path)
    if not emptied:
        return None
    return Verdict(
        False, f"the attempt emptied {_listed_paths(emptied)}, which had code no issue "
        "flagged; fix the issues, keep the code",
    )


def _lines_of(issue: Issue) -> range:
    return range(issue.start.line + 1, max(issue.start.line, issue.end.line) + 2)


def _listed_paths(paths: Sequence[str]) -> str:
    return ", ".join(paths[:_LISTED]) + (f" and {len(paths) - _LISTED} more"
                                        if len(paths) > _LISTED else "")


def describe(issue: Issue) -> str:
    return f"{issue.path}:{issue.line} {issue.tool} {issue.code} {issue.message.splitlines()[0]}"


def judge(
    target: str,
    baseline: Mapping[str, Sequence[Issue]],
    after: Sequence[Issue],
    checked: Sequence[str],
) -> Verdict:
    """Accept when the target has fewer issues and no checked file gained one.

    `after` holds the issues the checkers found in `checked` (the target among them).
    """
    after_by_path: dict[str, list[Issue]] = {}
    for issue in after:
        after_by_path.setdefault(issue.path, []).append(issue)
    introduced: list[Issue] = []
    for path in sorted(set(checked) | {target}):
        introduced.extend(new_issues(baseline.get(path, []), after_by_path.get(path, [])))
    target_delta = IssueDelta.between(baseline.get(target, []), after_by_path.get(target, []))
    remaining = after_by_path.get(target, [])
    if introduced:
        listed = "; ".join(describe(i) for i in introduced[:_LISTED])
        return Verdict(
            False, f"the attempt introduced {len(introduced)} new issue(s): {listed}",
            fixed=target_delta.fixed, introduced=len(introduced), remaining=remaining,
            introduced_issues=introduced,
        )
    if target_delta.fixed == 0:
        return Verdict(False, "no issue of the target was fixed", remaining=remaining)
    return Verdict(
        True,
        f"fixed {target_delta.fixed}, {len(remaining)} left",
        fixed=target_delta.fixed,
        remaining=remaining,
    )
