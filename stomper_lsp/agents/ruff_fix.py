"""The built-in, offline agent: ruff's own fixes, limited to the codes the run asked for.

Only the target file, and only the rule codes among the task's issues, so a rule the user
de-selected is never "fixed" behind their back. It works on the file's text through ruff's
stdin: safe fixes first, then (attempt 1) unsafe ones, cleaning up what a fix leaves behind
(`List[int]` -> `list[int]` leaves `from typing import List` unused) and dropping, rule by
rule and then fix by fix, only the fixes that would add an issue (agents/fix_bisect.py);
the dropped ones are reported. mypy's findings and ruff's unfixable ones stay: it makes no
pretence of fixing them. If the engine rejects attempt 1 (mypy, the tests), attempt 2
keeps to safe fixes, and it is skipped when it could not differ.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Sequence

from stomper_lsp.agents.attempt import run_attempt
from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.agents.fix_bisect import FixBisector
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.model import Applicability, Issue
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.checkers.rule_selection import RuleSelection
from stomper_lsp.process import ProcessResult, run_process
from stomper_lsp.symlinks import link_refusal

# Rule codes such as F401, UP006, PLR0913; not pseudo-codes like `invalid-syntax`.
_RULE_CODE = re.compile(r"[A-Z]+[0-9]+")
_OUTPUT_LIMIT = 256 * 1024


class _RuffFailed(Exception):
    """ruff could not fix a text (it crashed, or timed out)."""


def _log(task: AgentTask, summary: str, dropped: Sequence[str]) -> None:
    if task.log_path is None:
        return
    lines = [
        f"===== stomper: ruff agent, attempt {task.attempt} on {task.target} =====",
        # ruff ran on stdin, confined like any agent process; the file was written by us.
        f"confinement: {task.confinement.mechanism.label if task.confinement else 'none'}",
        summary,
        *(f"dropped fix: {line}" for line in dropped),
    ]
    task.log_path.parent.mkdir(parents=True, exist_ok=True)
    with task.log_path.open("a", encoding="utf-8") as log:
        log.write("\n".join(lines) + "\n\n")


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
    narrowable = True
    """Re-running it costs milliseconds and gives the same text (workflow/test_bisect.py)."""

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
        # attempt 1 was rejected (by mypy or the tests), attempt 2 keeps to the safe ones.
        unsafe = task.attempt == 1
        refusal = link_refusal(task.workdir, task.target)
        if refusal is not None:
            # ruff writes through links: a committed `link.py -> /elsewhere.py` would be
            # fixed outside the repository.
            return AgentResult(
                exit_code=None, timed_out=False, summary=f"skipped: {refusal}", final=True
            )
        codes = fixable_codes(task.issues, unsafe=unsafe)
        # Attempt 2 differs from attempt 1 only if attempt 1 had unsafe fixes to leave out.
        final = not unsafe or not any(
            i.fix is not None and i.fix.applicability == Applicability.UNSAFE
            for i in task.issues
        )
        if not codes:
            return AgentResult(
                exit_code=0,
                timed_out=False,
                summary="nothing ruff can fix automatically here; left for an AI agent",
                final=True,
            )
        path = task.workdir / task.target
        try:
            raw = path.read_bytes()
            original = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return await self._fix_in_place(task, codes, unsafe=unsafe)
        checker = RuffChecker(
            ProjectEnvironment(task.workdir),
            explicit_path=self.ruff,
            rule_args=self._selection.ruff_args(),
        )

        async def lint(text: str) -> list[Issue]:
            found = await checker.check(task.workdir, [task.target], {task.target: text})
            return [issue for issue in found if self._keep(issue)]

        async def apply_rules(text: str, rules: Sequence[str], with_unsafe: bool) -> str:
            return await self._fixed_text(task, text, rules, unsafe=with_unsafe)

        started = time.monotonic()
        try:
            bisector = FixBisector(lint, apply_rules, original, task.leave_out)
            result = await bisector.run(codes, unsafe=unsafe)
        except OSError as exc:
            return AgentResult(None, timed_out=False, summary=f"could not start: {exc}")
        except CheckerError as exc:
            return AgentResult(None, False, summary=f"could not start ruff: {exc.problem}")
        except _RuffFailed as exc:
            return AgentResult(exit_code=1, timed_out=False, summary=f"ruff failed: {exc}")
        if result.text != original:
            path.write_bytes(result.text.encode("utf-8"))
        summary = (
            f"applied {', '.join(result.kept_rules) or 'no'} fixes"
            + (f" leaving out {', '.join(task.leave_out)}" if task.leave_out else "")
            + (f"; dropped {len(result.dropped)} that would add issues" if result.dropped else "")
            + f" ({time.monotonic() - started:.2f} s)"
        )
        _log(task, summary, result.dropped)
        return AgentResult(
            exit_code=0,
            timed_out=False,
            summary=summary,
            dropped_fixes=tuple(result.dropped),
            final=final,
            applied=tuple(result.kept_rules),
        )

    async def _fixed_text(
        self, task: AgentTask, text: str, codes: Sequence[str], *, unsafe: bool
    ) -> str:
        """ruff's fixes for `codes` on `text`, through stdin: no file is touched."""
        argv = [
            self.ruff, "check", "--fix-only", *(["--unsafe-fixes"] if unsafe else []),
            "--no-cache", "--force-exclude", "--select", ",".join(codes),
            *self._target_version(), "--stdin-filename", str(task.workdir / task.target), "-",
        ]
        result = await run_process(
            argv, cwd=task.workdir, timeout=task.timeout, stdin_data=text.encode("utf-8"),
            output_limit=_OUTPUT_LIMIT * 16, confinement=task.confinement,
        )
        if result.timed_out or result.returncode != 0:
            raise _RuffFailed(_first_line(result) or f"exit {result.returncode}")
        return result.stdout.decode("utf-8")

    async def _fix_in_place(
        self, task: AgentTask, codes: Sequence[str], *, unsafe: bool
    ) -> AgentResult:
        """For a file that is not UTF-8 text: ruff fixes it on disk, all rules at once."""
        result = await self._apply(task, codes, unsafe=unsafe)
        return dataclasses.replace(result, final=not unsafe)

    async def _apply(self, task: AgentTask, codes: Iterable[str], *, unsafe: bool) -> AgentResult:
        return await run_attempt(
            self.name,
            task,
            self.argv(task.target, codes, unsafe=unsafe),
            output_limit=_OUTPUT_LIMIT,
            detail=_first_line,
        )
