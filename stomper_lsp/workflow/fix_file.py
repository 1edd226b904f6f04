"""The whole pipeline of one file, in ONE graph node so the fan-in is exact.

lease a sandbox at the snapshot -> agent attempt -> re-check -> (retry with feedback) ->
optional tests -> diff against the snapshot -> merge under the lock -> release.
Every failure is caught here and returned as an outcome: one file never sinks the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from langgraph.runtime import Runtime

from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.checkers.model import Issue
from stomper_lsp.process import run_process
from stomper_lsp.sandbox.pool import Sandbox, SandboxChanges
from stomper_lsp.sandbox.snapshot import read_snapshot_files
from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.report import FileOutcome, FileStatus, ProgressKind
from stomper_lsp.workflow.state import FileJob
from stomper_lsp.workflow.verification import Verdict, checked_paths, judge

_TEST_OUTPUT_TAIL = 3000


def _is_tool_dropping(path: str) -> bool:
    """A new file under a dot-folder or dot-named (agent history, tool caches): never delivered."""
    return any(part.startswith(".") for part in path.split("/"))


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
        self.writer = runtime.stream_writer
        self.path = job["path"]
        self.before = [Issue.model_validate(raw) for raw in job["issues"]]
        self.log_path = self.ctx.log_dir / log_name(self.path)
        self.started = time.monotonic()
        self.agent_seconds = 0.0
        self._base_text: asyncio.Task[dict[str, str | None]] | None = None

    def emit(self, kind: ProgressKind, message: str = "", attempt: int | None = None) -> None:
        event = self.ctx.progress.event(kind, self.path, message, attempt)
        self.writer({"progress": event.model_dump(mode="json")})

    def outcome(self, status: FileStatus, verdict: Verdict | None, attempts: int,
                message: str, changed: list[str] | None = None) -> FileOutcome:
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
            log_path=str(self.log_path) if self.log_path.exists() else None,
            message=message,
            changed_paths=changed or [],
        )

    async def run(self) -> FileOutcome:
        with self.ctx.files_gauge.track():
            self.emit("started")
            # The merge needs the target's snapshot text; reading it while the agent works
            # takes it off the file's critical path.
            self._base_text = asyncio.ensure_future(
                read_snapshot_files(self.ctx.snapshot, [self.path])
            )
            try:
                async with self.ctx.pool.lease() as sandbox:
                    return await self._in_sandbox(sandbox)
            finally:
                await _settle(self._base_text)

    async def _attempt(
        self, sandbox: Sandbox, attempt: int, last: Verdict | None
    ) -> tuple[Verdict, SandboxChanges]:
        """One agent run and its verdict, with the changes it was judged on."""
        ctx = self.ctx
        self.emit("attempt", f"attempt {attempt}", attempt)
        sandbox.mark_dirty()
        task = AgentTask(
            workdir=sandbox.project_dir,
            target=self.path,
            issues=self.before,
            attempt=attempt,
            previous_issues=(last.remaining + last.introduced_issues) if last else (),
            feedback=last.reason if last else "",
            log_path=self.log_path,
            timeout=ctx.project.config.agent_timeout,
            prompt_dir=ctx.run_dir / "prompts",
        )
        started = time.monotonic()
        result = await ctx.agent.fix(task)
        self.agent_seconds += time.monotonic() - started
        changes = await sandbox.changes()
        runner = ctx.runner_for(sandbox.slot)
        report = await runner.run(sandbox.project_dir, checked_paths(changes))
        if report.errors:
            problems = "; ".join(e.problem for e in report.errors)
            return Verdict(False, f"re-checking failed: {problems}"), changes
        verdict = judge(self.path, ctx.baseline, report.issues, changes)
        if isinstance(result, AgentResult) and result.timed_out and verdict.accepted:
            # A killed agent may have stopped mid-edit; its half-written files are not trusted.
            return Verdict(False, f"the agent was stopped: {result.summary}"), changes
        if verdict.accepted and ctx.test_command:
            sandbox.mark_dirty()  # tests may write files; those are never part of the fix
            failure = await self._run_tests(sandbox)
            if failure:
                return Verdict(False, failure, remaining=verdict.remaining), changes
        return verdict, changes

    async def _run_tests(self, sandbox: Sandbox) -> str | None:
        command = self.ctx.test_command or []
        try:
            result = await run_process(
                command, cwd=sandbox.project_dir, timeout=self.ctx.project.config.agent_timeout
            )
        except OSError as exc:
            return f"the test command {command[0]!r} could not start: {exc}"
        if result.timed_out:
            return "the test command timed out"
        if result.returncode != 0:
            tail = (result.stdout_text + result.stderr_text)[-_TEST_OUTPUT_TAIL:]
            return f"the test command failed (exit {result.returncode}):\n{tail}"
        return None

    async def _in_sandbox(self, sandbox: Sandbox) -> FileOutcome:
        agent = self.ctx.agent
        max_attempts = min(
            self.ctx.project.config.max_attempts,
            getattr(agent, "max_useful_attempts", None) or self.ctx.project.config.max_attempts,
        )
        fresh = bool(getattr(agent, "fresh_attempts", False))
        verdict: Verdict | None = None
        changes: SandboxChanges | None = None
        attempts = 0
        for attempt in range(1, max_attempts + 1):
            attempts = attempt
            if fresh and attempt > 1 and not await sandbox.reset():
                break  # the sandbox cannot be made clean: no fair retry is possible
            verdict, changes = await self._attempt(sandbox, attempt, verdict)
            if verdict.accepted:
                self.emit("verified", verdict.reason, attempt)
                break
            self.emit("rejected", verdict.reason, attempt)
            if verdict.final:
                break
        if verdict is None or changes is None or not verdict.accepted:
            reason = verdict.reason if verdict else "no attempt ran"
            unchanged = verdict is not None and verdict.reason == "no file was changed"
            status = FileStatus.UNCHANGED if unchanged else FileStatus.FAILED
            self.emit("unchanged" if unchanged else "failed", reason)
            return self.outcome(status, verdict, attempts, reason)
        return await self._merge(sandbox, verdict, changes, attempts)

    async def _base_texts(self, paths: list[str]) -> dict[str, str | None]:
        base = dict(await self._base_text) if self._base_text else {}
        others = [path for path in paths if path not in base]
        base.update(await read_snapshot_files(self.ctx.snapshot, others))
        return base

    async def _merge(
        self, sandbox: Sandbox, verdict: Verdict, changes: SandboxChanges, attempts: int
    ) -> FileOutcome:
        """Deliver exactly what was verified: the attempt's changes, not what tests wrote."""
        new_texts: dict[str, str] = {}
        for path in changes.modified + changes.added:
            if path in changes.added and _is_tool_dropping(path):
                continue
            text = await sandbox.read_text(path)
            if text is not None:
                new_texts[path] = text
        base = await self._base_texts(sorted(new_texts))
        merged = await self.ctx.result.merge(base, new_texts)
        changed = sorted(new_texts)
        if not merged.clean:
            message = (
                f"overlaps with an earlier fix in {', '.join(merged.conflicts)}; not applied"
            )
            self.emit("conflict", message)
            return self.outcome(FileStatus.CONFLICT, verdict, attempts, message, changed)
        status = FileStatus.FIXED if not verdict.remaining else FileStatus.PARTIAL
        self.emit("merged", verdict.reason)
        return self.outcome(status, verdict, attempts, verdict.reason, changed)


async def fix_file(state: FileJob, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Graph node. Returns deltas only: one outcome, its agent time, its error if any."""
    pipeline = _FilePipeline(state, runtime)
    errors: list[str] = []
    try:
        outcome = await pipeline.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one file's crash is that file's failure, not the run's
        message = f"{type(exc).__name__}: {exc}"
        errors.append(f"{state['path']}: {message}")
        pipeline.emit("failed", message)
        outcome = pipeline.outcome(FileStatus.FAILED, None, 0, message)
    return {
        "outcomes": [outcome.model_dump(mode="json")],
        "agent_seconds": pipeline.agent_seconds,
        "branch_errors": errors,
    }
