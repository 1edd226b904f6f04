"""In batch mode, narrow a file the merge queue found breaking the tests, as per-file mode does.

The queue's unit is the file: a batch of one that fails names a file whose fix breaks a
test. Rather than drop the whole fix, the file's body runs again in a fresh sandbox, this
time with the test command (verified_fix.py): its first attempt gives the bytes the queue
just saw fail, so that failure is reused instead of a second run, and the narrowing
(test_bisect.py) finds the largest part of the fix that passes, within the file's budget.
Only agents that are `narrowable` (cheap and deterministic: the built-in one) are re-run;
an AI agent's next attempt would be a new fix, not a part of the one that was tested.
The narrowed fix replaces the staged one, so the queue's confirming run tests it together
with the other files before anything is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.fix_file import log_name
from stomper_lsp.workflow.report import AttemptReport, FileOutcome, FileStatus
from stomper_lsp.workflow.test_queue_state import StagedFix
from stomper_lsp.workflow.verified_fix import (
    Emit,
    FixRequest,
    KnownTestFailure,
    find_verified_fix,
)


@dataclass
class NarrowedFile:
    """What the narrowing verified for one file, as plain data for the graph's state."""

    path: str
    issues_after: int
    issues_fixed: int
    message: str
    changed_paths: list[str]
    reports: list[dict[str, Any]] = field(default_factory=list)

    def apply_to(self, outcome: FileOutcome) -> None:
        outcome.status = FileStatus.FIXED if self.issues_after == 0 else FileStatus.PARTIAL
        outcome.issues_after = self.issues_after
        outcome.issues_fixed = self.issues_fixed
        outcome.message = self.message
        outcome.changed_paths = list(self.changed_paths)
        outcome.attempt_reports += [AttemptReport.model_validate(r) for r in self.reports]


def can_narrow(ctx: RunContext) -> bool:
    return ctx.project.config.test_bisect_budget > 0 and bool(
        getattr(ctx.agent, "narrowable", False)
    )


async def narrow_staged(
    ctx: RunContext, path: str, failure: str, emit: Emit
) -> tuple[NarrowedFile | None, int]:
    """Re-run `path`'s body with the tests; on success its staged fix is the narrowed one.
    Also returns how many test runs that took."""
    agent = ctx.agent
    if agent is None:  # the agent runs elsewhere (a Ray cluster): nothing to re-run here
        return None, 0
    staged = ctx.tests.staged[path]
    config = ctx.project.config
    request = FixRequest(
        path=path,
        issues=ctx.baseline.get(path, []),
        baseline=ctx.baseline,
        max_attempts=config.max_attempts,
        agent_timeout=config.agent_timeout,
        log_path=ctx.log_dir / log_name(path),
        prompt_dir=ctx.run_dir / "prompts",
        test_command=ctx.test_command,
        test_bisect_budget=config.test_bisect_budget,
        known_test_failure=KnownTestFailure(dict(staged.texts), failure),
    )

    async with ctx.pool.lease() as sandbox:
        found = await find_verified_fix(
            request, agent=agent, sandbox=sandbox, runner=ctx.runner_for(sandbox.slot),
            emit=emit, guard=ctx.guard,
        )
    if not found.accepted or found.verdict is None or found.altered_texts():
        return None, found.test_runs
    base = dict(staged.base)
    missing = [p for p in found.texts if p not in base]
    base.update(await ctx.read_snapshot(missing))
    ctx.tests.staged[path] = StagedFix(path, base, dict(found.texts))
    return NarrowedFile(
        path=path,
        issues_after=len(found.verdict.remaining),
        issues_fixed=found.verdict.fixed,
        message=found.verdict.reason,
        changed_paths=sorted(found.texts),
        reports=[r.model_dump(mode="json") for r in found.reports],
    ), found.test_runs
