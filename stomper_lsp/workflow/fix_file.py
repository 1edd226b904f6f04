"""The whole pipeline of one file, in ONE graph node so the fan-in is exact.

the verified-fix body (agent, capture, re-check, retries, tests: verified_fix.py) on the
run's executor (a leased sandbox here, or a Ray task: executors/) -> merge its verified
texts under the lock.
Every failure is caught here and returned as an outcome: one file never sinks the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, cast

from langgraph.runtime import Runtime

from stomper_lsp.checkers.model import Issue
from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.outcome_store import StoredFile
from stomper_lsp.workflow.report import AttemptReport, FileOutcome, FileStatus, ProgressKind
from stomper_lsp.workflow.state import FileJob
from stomper_lsp.workflow.test_queue_state import StagedFix
from stomper_lsp.workflow.verification import Verdict
from stomper_lsp.workflow.verified_fix import FixRequest, VerifiedFix


def log_name(path: str) -> str:
    """A log file name unique per path: `a/utils.py` and `b/utils.py` never collide."""
    digest = hashlib.sha1(path.encode("utf-8")).hexdigest()[:8]
    return f"{path.replace('/', '__')}-{digest}.log"


async def _settle(task: asyncio.Task[Any]) -> None:
    """Stop a helper task the file no longer needs and wait for it (its git process too)."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: a failure nobody needed is not worth a warning


class _FilePipeline:
    def __init__(self, job: FileJob, runtime: Runtime[RunContext]) -> None:
        self.ctx = runtime.context
        self.path = job["path"]
        self.before = [Issue.model_validate(raw) for raw in job["issues"]]
        self.log_path = self.ctx.log_dir / log_name(self.path)
        self.log_written = False
        self.started = time.monotonic()
        self.agent_seconds = 0.0
        self.test_runs = 0
        self._base_text: asyncio.Task[dict[str, str | None]] | None = None
        self.placement: dict[str, Any] = {}
        """Where the body ran (executor's node, executions, start time) for the outcome."""
        self.merged_texts: dict[str, str] = {}
        """The verified texts this file merged: stored with its outcome for `--resume`."""

    def emit(self, kind: ProgressKind, message: str = "", attempt: int | None = None) -> None:
        self.ctx.progress.event(kind, self.path, message, attempt)

    def outcome(self, status: FileStatus, verdict: Verdict | None, attempts: int,
                message: str, changed: list[str] | None = None, *,
                reports: list[AttemptReport] | None = None) -> FileOutcome:
        applied = verdict is not None and status in (FileStatus.FIXED, FileStatus.PARTIAL)
        return FileOutcome(
            path=self.path,
            status=status,
            issues_before=len(self.before),
            issues_after=len(verdict.remaining) if verdict and applied else len(self.before),
            issues_fixed=verdict.fixed if verdict and applied else 0,
            issues_introduced=verdict.introduced if verdict else 0,
            attempts=attempts,
            duration_s=round(time.monotonic() - self.started, 3),
            agent_s=round(self.agent_seconds, 3),
            test_runs=self.test_runs,
            log_path=(
                str(self.log_path) if self.log_written or self.log_path.exists() else None
            ),
            message=message,
            changed_paths=changed or [],
            attempt_reports=reports or [],
            **self.placement,
        )

    async def run(self) -> FileOutcome:
        stopped = await self.ctx.breaker.gate()
        if stopped is not None:
            message = "not started: the run was stopped after the agent failed on every file"
            self.emit("failed", message)
            return self.outcome(FileStatus.FAILED, None, 0, message)
        with self.ctx.files_gauge.track():
            self.emit("started")
            # The merge needs the target's snapshot text; reading it while the agent works
            # takes it off the file's critical path.
            self._base_text = asyncio.ensure_future(
                self.ctx.read_snapshot([self.path])
            )
            try:
                return await self._find_and_deliver()
            finally:
                await _settle(self._base_text)

    async def _find_and_deliver(self) -> FileOutcome:
        ctx = self.ctx
        request = FixRequest(
            path=self.path,
            issues=self.before,
            baseline=ctx.baseline,
            max_attempts=ctx.project.config.max_attempts,
            agent_timeout=ctx.project.config.agent_timeout,
            log_path=self.log_path,
            prompt_dir=ctx.run_dir / "prompts",
            # In batch mode the tests run later, once for many files (test_queue.py).
            test_command=None if ctx.tests_in_batches else ctx.test_command,
            test_bisect_budget=ctx.project.config.test_bisect_budget,
        )
        execution = await ctx.executor.find_fix(
            request, lambda kind, message, attempt: self.emit(kind, message, attempt)
        )
        found = execution.found
        self.agent_seconds = found.agent_seconds
        body = (
            execution.finished_at - execution.started_at
            if execution.finished_at is not None and execution.started_at is not None
            else None
        )
        self.placement = {
            "node": execution.node,
            "executions": execution.executions,
            "started_at": execution.started_at,
            "body_s": round(body, 4) if body is not None else None,
        }
        self.test_runs = found.test_runs
        self.log_written = execution.log_written
        ctx.breaker.record(found.agent_failure if not found.accepted else None)
        return await self.deliver(found)

    async def deliver(self, found: VerifiedFix) -> FileOutcome:
        """Turn the body's data into this file's outcome, merging what was verified."""
        verdict, attempts, reports = found.verdict, found.attempts, found.reports
        if found.skipped is not None:
            self.emit("skipped", found.skipped)
            return self.outcome(FileStatus.SKIPPED, None, 0, found.skipped)
        if verdict is None or not found.accepted:
            reason = verdict.reason if verdict else "no attempt ran"
            unchanged = verdict is not None and verdict.reason == "no file was changed"
            status = FileStatus.UNCHANGED if unchanged else FileStatus.FAILED
            self.emit("unchanged" if unchanged else "failed", reason)
            return self.outcome(status, verdict, attempts, reason, reports=reports)
        altered = found.altered_texts()
        if altered:
            message = f"the verified text of {', '.join(altered)} was altered before merging"
            self.emit("failed", message)
            return self.outcome(FileStatus.FAILED, verdict, attempts, message, reports=reports)
        return await self._merge(verdict, found.texts, attempts, reports)

    async def resume(self, stored: StoredFile) -> FileOutcome:
        """Reuse an interrupted run's verified outcome: merge its texts again (batch mode:
        stage them, since they were stored before the tests ran), run no agent."""
        outcome = stored.outcome.model_copy(update={"resumed": True, "executions": 0})
        if stored.texts:
            base = await self.ctx.read_snapshot(sorted(stored.texts))
            # In batch mode the outcome was stored before the tests ran: stage it again.
            batch = self.ctx.tests_in_batches
            into = self.ctx.tests.staging if batch else self.ctx.result
            merged = await into.merge(base, stored.texts)
            if not merged.clean:
                message = (
                    f"overlaps with an earlier fix in {', '.join(merged.conflicts)}; not applied"
                )
                self.emit("conflict", message)
                return outcome.model_copy(update={"status": FileStatus.CONFLICT,
                                                  "message": message})
            if batch:
                self.ctx.tests.staged[self.path] = StagedFix(self.path, base, dict(stored.texts))
        applied = outcome.status in (FileStatus.FIXED, FileStatus.PARTIAL)
        self.emit("merged" if applied else cast(ProgressKind, outcome.status.value), "resumed")
        return outcome

    async def _base_texts(self, paths: list[str]) -> dict[str, str | None]:
        base = dict(await self._base_text) if self._base_text else {}
        others = [path for path in paths if path not in base]
        base.update(await self.ctx.read_snapshot(others))
        return base

    async def _merge(
        self, verdict: Verdict, new_texts: dict[str, str], attempts: int,
        reports: list[AttemptReport],
    ) -> FileOutcome:
        """Merge exactly the verified texts; the sandbox is never read again."""
        base = await self._base_texts(sorted(new_texts))
        batch = self.ctx.tests_in_batches
        into = self.ctx.tests.staging if batch else self.ctx.result
        merged = await into.merge(base, new_texts)
        changed = sorted(new_texts)
        if not merged.clean:
            message = (
                f"overlaps with an earlier fix in {', '.join(merged.conflicts)}; not applied"
            )
            self.emit("conflict", message)
            return self.outcome(
                FileStatus.CONFLICT, verdict, attempts, message, changed, reports=reports
            )
        self.merged_texts = dict(new_texts)
        status = FileStatus.FIXED if not verdict.remaining else FileStatus.PARTIAL
        if batch:  # delivered only if the tests pass with it (test_queue.py)
            self.ctx.tests.staged[self.path] = StagedFix(self.path, base, dict(new_texts))
        self.emit("merged", verdict.reason)
        return self.outcome(status, verdict, attempts, verdict.reason, changed, reports=reports)


async def fix_file(state: FileJob, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Graph node. Returns deltas only: one outcome, its agent time, its error if any."""
    pipeline = _FilePipeline(state, runtime)
    errors: list[str] = []
    ctx = runtime.context
    stored = ctx.resumable.get(state["path"])
    try:
        if stored is not None:
            return _deltas(await pipeline.resume(stored), 0.0, errors)
        outcome = await pipeline.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one file's crash is that file's failure, not the run's
        message = f"{type(exc).__name__}: {exc}"
        errors.append(f"{state['path']}: {message}")
        pipeline.emit("failed", message)
        outcome = pipeline.outcome(FileStatus.FAILED, None, 0, message)
    else:
        # Stored the moment it finishes (on the run's writer thread, within milliseconds):
        # a run killed after that never redoes the file.
        if ctx.outcome_store is not None:
            ctx.outcome_store.save_soon(ctx.writes, ctx.run_key, outcome, pipeline.merged_texts)
    return _deltas(outcome, pipeline.agent_seconds, errors)


def _deltas(outcome: FileOutcome, agent_seconds: float, errors: list[str]) -> dict[str, Any]:
    return {
        "outcomes": [outcome.model_dump(mode="json")],
        "agent_seconds": agent_seconds,
        "branch_errors": errors,
    }
