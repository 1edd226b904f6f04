"""The built-in, offline agent: ruff's own fixes, limited to the codes the run asked for.

It applies safe AND unsafe fixes (the engine re-checks and rejects anything that makes
matters worse), only to the target file, and only for the rule codes among the task's
issues, so a rule the user de-selected is never "fixed" behind their back. A fix can leave
a mess of its own making (`List[int]` -> `list[int]` leaves `from typing import List`
unused), so it then cleans up what its fixes introduced, and only that. mypy's findings and
ruff's unfixable ones stay: it makes no pretence of fixing them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from stomper_lsp.agents.attempt import run_attempt
from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.model import Applicability, Issue, new_issues
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.checkers.rule_selection import RuleSelection
from stomper_lsp.process import ProcessResult
from stomper_lsp.symlinks import link_refusal

# Rule codes such as F401, UP006, PLR0913; not pseudo-codes like `invalid-syntax`.
_RULE_CODE = re.compile(r"[A-Z]+[0-9]+")
_OUTPUT_LIMIT = 256 * 1024
_CLEANUP_PASSES = 3


def fixable_codes(issues: Iterable[Issue], *, unsafe: bool = True) -> list[str]:
    """Sorted ruff rule codes among `issues` for which ruff offers an applicable fix."""
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    codes = {
        issue.code
        for issue in issues
        if issue.tool == "ruff"
        and _RULE_CODE.fullmatch(issue.code)
        and issue.fix is not None
        and issue.fix.applicability in allowed
    }
    return sorted(codes)


def _first_line(result: ProcessResult) -> str:
    """ruff's own words ("Fixed 3 errors.", or why it failed)."""
    lines = (result.stderr_text + result.stdout_text).strip().splitlines()
    return lines[0].strip()[:200] if lines else ""


class RuffFixAgent:
    name = "ruff"
    max_useful_attempts = 2
    """Attempt 1 applies safe and unsafe fixes; attempt 2, safe ones only. Nothing else."""
    fresh_attempts = True
    """Attempt 2 must not inherit the unsafe fix that got attempt 1 rejected."""

    def __init__(
        self,
        ruff: str,
        keep: Callable[[Issue], bool] | None = None,
        selection: RuleSelection | None = None,
    ) -> None:
        self.ruff = ruff
        self._keep = keep or (lambda issue: True)
        self._selection = selection or RuleSelection()

    def argv(self, target: str, codes: Iterable[str], *, unsafe: bool = True) -> list[str]:
        # --no-cache: no .ruff_cache in the sandbox; --force-exclude: honour the project's
        # excludes even for an explicitly named file. The project's config still applies.
        return [
            self.ruff, "check", "--fix-only", *(["--unsafe-fixes"] if unsafe else []),
            "--no-cache", "--force-exclude", "--select", ",".join(codes), *self._target_version(),
            "--", target,
        ]

    def _target_version(self) -> list[str]:
        """The fixes for UP rules depend on it, as the check that reported them did."""
        version = self._selection.target_version
        return ["--target-version", version] if version else []

    async def fix(self, task: AgentTask) -> AgentResult:
        # Unsafe fixes can change behaviour or types (B006 turns `= []` into `= None`); if
        # attempt 1 was rejected, attempt 2 keeps to the safe ones.
        unsafe = task.attempt == 1
        refusal = link_refusal(task.workdir, task.target)
        if refusal is not None:
            # ruff writes through links: a committed `link.py -> /elsewhere.py` would be
            # fixed outside the repository.
            return AgentResult(exit_code=None, timed_out=False, summary=f"skipped: {refusal}")
        codes = fixable_codes(task.issues, unsafe=unsafe)
        if not codes:
            return AgentResult(
                exit_code=0,
                timed_out=False,
                summary="nothing ruff can fix automatically here; left for an AI agent",
            )
        checker = RuffChecker(
            ProjectEnvironment(task.workdir),
            explicit_path=self.ruff,
            rule_args=self._selection.ruff_args(),
        )
        try:
            # Everything ruff reports now, not just the task's issues: only what the fixes
            # add on top of this is ours to clean up.
            before = await checker.check(task.workdir, [task.target])
        except CheckerError:
            before = [issue for issue in task.issues if issue.tool == "ruff"]
        result = await self._apply(task, codes, unsafe=unsafe)
        for _ in range(_CLEANUP_PASSES):
            try:
                after = await checker.check(task.workdir, [task.target])
            except CheckerError:
                break  # the engine's own re-check will report what is wrong
            introduced = [i for i in new_issues(before, after) if self._keep(i)]
            cleanup = fixable_codes(introduced, unsafe=unsafe)
            if not cleanup:
                break
            result = await self._apply(task, cleanup, unsafe=unsafe)
        return result

    async def _apply(self, task: AgentTask, codes: Iterable[str], *, unsafe: bool) -> AgentResult:
        return await run_attempt(
            self.name,
            task,
            self.argv(task.target, codes, unsafe=unsafe),
            output_limit=_OUTPUT_LIMIT,
            detail=_first_line,
        )
