"""The built-in, offline agent: ruff's own fixes, limited to the codes the run asked for.

It applies safe AND unsafe fixes (the engine re-checks and rejects anything that makes
matters worse), only to the target file, and only for the rule codes among the task's
issues, so a rule the user de-selected is never "fixed" behind their back. mypy's
findings and ruff's unfixable ones stay: it makes no pretence of fixing them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stomper_lsp.agents.attempt import run_attempt
from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.checkers.model import Applicability, Issue
from stomper_lsp.process import ProcessResult

# Rule codes such as F401, UP006, PLR0913; not pseudo-codes like `invalid-syntax`.
_RULE_CODE = re.compile(r"[A-Z]+[0-9]+")
_OUTPUT_LIMIT = 256 * 1024


def fixable_codes(issues: Iterable[Issue]) -> list[str]:
    """Sorted ruff rule codes among `issues` for which ruff offers an applicable fix."""
    codes = {
        issue.code
        for issue in issues
        if issue.tool == "ruff"
        and _RULE_CODE.fullmatch(issue.code)
        and issue.fix is not None
        and issue.fix.applicability != Applicability.DISPLAY_ONLY
    }
    return sorted(codes)


def _first_line(result: ProcessResult) -> str:
    """ruff's own words ("Fixed 3 errors.", or why it failed)."""
    lines = (result.stderr_text + result.stdout_text).strip().splitlines()
    return lines[0].strip()[:200] if lines else ""


class RuffFixAgent:
    name = "ruff"
    deterministic = True
    """Same input, same output: the engine need not retry it."""

    def __init__(self, ruff: str) -> None:
        self.ruff = ruff

    def argv(self, target: str, codes: Iterable[str]) -> list[str]:
        # --no-cache: no .ruff_cache in the sandbox; --force-exclude: honour the project's
        # excludes even for an explicitly named file. The project's config still applies.
        return [
            self.ruff, "check", "--fix-only", "--unsafe-fixes", "--no-cache", "--force-exclude",
            "--select", ",".join(codes), "--", target,
        ]

    async def fix(self, task: AgentTask) -> AgentResult:
        codes = fixable_codes(task.issues)
        if not codes:
            return AgentResult(
                exit_code=0,
                timed_out=False,
                summary="nothing ruff can fix automatically here; left for an AI agent",
            )
        return await run_attempt(
            self.name,
            task,
            self.argv(task.target, codes),
            output_limit=_OUTPUT_LIMIT,
            detail=_first_line,
        )
