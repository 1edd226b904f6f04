"""One file's body: agent -> capture -> re-check -> (retry) -> the verified texts, as data.

Separate from the merge on purpose: it needs only an agent, a leased sandbox and a check
runner, and returns plain data (`VerifiedFix`: the verdict, the per-attempt reports and
`{path: verified text}`), so it can run on another machine while the merge stays with
the coordinator.

Per attempt, in this order (see verification.py for the delivery rule):
1. the agent runs to its end;
2. what it wrote is listed; deletions, `.git` and escapes are refused outright;
3. files it may not deliver are put back to the snapshot (they are reported as left out);
4. the judged files (the target, always, and the Python files it wrote) are captured once;
5. the checkers re-check them on disk; then the files are hashed again and the sandbox
   looked at again: anything that moved since the capture rejects the attempt;
6. the optional test command runs, and the hashes are checked once more.
The texts handed back are the captured ones, never a later read of the sandbox.

An attempt the tests reject is narrowed down (workflow/test_bisect.py) before the next
attempt, when the agent names what it applied: each trial is one more attempt judged
exactly as above, so what is kept passed the checkers and the tests on those bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stomper_lsp.agents.base import Agent, AgentResult, AgentTask
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.runner import CheckRunner
from stomper_lsp.confinement import Confinement
from stomper_lsp.confinement.attempts import AttemptGuard, Escapes
from stomper_lsp.process import run_process
from stomper_lsp.sandbox.pool import Sandbox, SandboxChanges
from stomper_lsp.sandbox.snapshot import read_snapshot_files
from stomper_lsp.symlinks import link_refusal
from stomper_lsp.workflow.capture import Capture, UncapturableFileError, capture
from stomper_lsp.workflow.report import AttemptReport
from stomper_lsp.workflow.test_bisect import Narrowed, Trial, narrow_by_tests
from stomper_lsp.workflow.test_command import failure_reason, suite_invocation
from stomper_lsp.workflow.verification import (
    AttemptFiles,
    Verdict,
    describe,
    is_blank,
    judge,
    refuse_emptied,
    refuse_unsafe_changes,
    split_changes,
)

TEST_OUTPUT_TAIL = 3000
_LISTED = 12

Emit = Callable[[Literal["attempt", "verified", "rejected"], str, int], None]


@dataclass(frozen=True)
class FixRequest:
    """Everything about one file the body needs besides its services (plain data)."""

    path: str
    issues: Sequence[Issue]
    baseline: Mapping[str, Sequence[Issue]]
    """Snapshot issues per project-relative path (the target's and any file it may touch)."""
    max_attempts: int
    agent_timeout: float
    log_path: Path
    prompt_dir: Path
    test_command: Sequence[str] | None = None
    test_bisect_budget: int = 0
    """Test runs this file may spend narrowing a test-rejected attempt (0: none)."""
    known_test_failure: KnownTestFailure | None = None


@dataclass(frozen=True)
class KnownTestFailure:
    """Texts the test command already rejected (a batch of one in the merge queue): an
    attempt that produces exactly these is rejected for it without running the tests."""

    texts: Mapping[str, str]
    failure: str


@dataclass
class VerifiedFix:
    """What the body found: the last verdict and, when accepted, the verified texts."""

    verdict: Verdict | None = None
    attempts: int = 0
    agent_seconds: float = 0.0
    texts: dict[str, str] = field(default_factory=dict)
    """Changed files to deliver -> the exact text that was verified (empty unless accepted)."""
    digests: dict[str, str] = field(default_factory=dict)
    """sha256 of the captured bytes of each file in `texts`."""
    reports: list[AttemptReport] = field(default_factory=list)
    skipped: str | None = None
    """Why the file was never given to an agent (e.g. it is a symbolic link)."""
    test_runs: int = 0
    """How many times the test command ran for this file."""
    agent_failure: str | None = None
    """The last attempt ended because the agent itself failed (its error), not on a verdict."""

    @property
    def accepted(self) -> bool:
        return self.verdict is not None and self.verdict.accepted

    def altered_texts(self) -> list[str]:
        """Paths whose text no longer hashes to what was captured (e.g. damaged on its
        way from another machine): such a result must not be merged."""
        return sorted(
            path for path, text in self.texts.items()
            if self.digests.get(path) != sha256_of(text)
        )


def sha256_of(text: str) -> str:
    """The sha256 of a text's bytes as captured (undecodable bytes kept as surrogates)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()


@dataclass
class _Judged:
    verdict: Verdict
    kind: Literal["accepted", "rejected", "failed"]
    captured: Capture | None = None
    delivered: list[str] = field(default_factory=list)
    test_tail: str = ""
    agent_final: bool = False
    """The agent said another attempt could not differ (AgentResult.final)."""
    tested: bool = False
    """The test command judged it (it ran, or already rejected exactly these bytes)."""
    applied: tuple[str, ...] = ()
    agent_dropped: tuple[str, ...] = ()


def _listed(paths: Sequence[str]) -> str:
    more = f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else ""
    return ", ".join(paths[:_LISTED]) + more


def _late_change(paths: Sequence[str]) -> Verdict:
    return Verdict(
        False,
        f"a file changed after the agent finished ({_listed(paths)}); what was checked "
        "is not what is there now, so nothing of this attempt is trusted",
    )


def _same_tree(before: SandboxChanges, after: SandboxChanges, left_out: Sequence[str]) -> bool:
    """The sandbox after the re-check still holds what was judged, and nothing else."""
    expected = sorted(set(before.modified + before.added) - set(left_out))
    return (
        sorted(after.modified + after.added) == expected
        and not after.deleted
        and not after.outside_project
        and not after.touched_git
    )


class _Body:
    def __init__(
        self, request: FixRequest, agent: Agent, sandbox: Sandbox, runner: CheckRunner,
        emit: Emit, guard: AttemptGuard | None = None,
    ) -> None:
        self.request = request
        self.agent = agent
        self.sandbox = sandbox
        self.runner = runner
        self.emit = emit
        self.guard = guard
        self.result = VerifiedFix()

    async def _confinement(self, *, state_dirs: bool) -> Confinement | None:
        """What the next process tree in this sandbox may write (None: unconfined)."""
        if self.guard is None:
            return None
        states = getattr(self.agent, "state_dirs", ()) if state_dirs else ()
        return await self.guard.confinement(
            worktree=self.sandbox.path, admin_dir=self.sandbox.admin_dir,
            slot=self.sandbox.slot, state_dirs=states,
        )

    async def run(self) -> VerifiedFix:
        path = self.request.path
        refusal = link_refusal(self.sandbox.project_dir, path)
        if refusal is not None:
            self.result.skipped = refusal
            return self.result
        max_attempts = min(
            self.request.max_attempts,
            getattr(self.agent, "max_useful_attempts", None) or self.request.max_attempts,
        )
        fresh = bool(getattr(self.agent, "fresh_attempts", False))
        budget = self.request.test_bisect_budget
        verdict: Verdict | None = None
        for attempt in range(1, max_attempts + 1):
            if fresh and attempt > 1 and not await self.sandbox.reset():
                break  # the sandbox cannot be made clean: no fair retry is possible
            self.result.attempts = attempt
            judged = await self._attempt(attempt, verdict)
            verdict = self.result.verdict = judged.verdict
            if judged.kind == "accepted" and judged.captured is not None:
                self._keep(judged, attempt)
                break
            self.emit("rejected", verdict.reason, attempt)
            if judged.tested and judged.applied and fresh and budget > 0:
                narrowed = await self._narrow(attempt, judged, budget)
                budget -= narrowed.test_runs
                best = narrowed.best.payload if narrowed.best else None
                if best is not None and best.captured is not None:
                    await self._record_narrowed(attempt, best, narrowed)
                    self.result.verdict = best.verdict
                    self._keep(best, attempt)
                    break
            if verdict.final or judged.agent_final:
                break
        return self.result

    def _keep(self, judged: _Judged, attempt: int) -> None:
        assert judged.captured is not None
        self.result.texts = {
            p: text for p in judged.delivered if (text := judged.captured.text(p)) is not None
        }
        self.result.digests = {p: judged.captured.digests[p] for p in self.result.texts}
        self.emit("verified", judged.verdict.reason, attempt)

    async def _narrow(self, attempt: int, rejected: _Judged, budget: int) -> Narrowed[_Judged]:
        """Trials that leave out some of what the rejected attempt applied (test_bisect.py)."""
        runs = 0

        async def probe(leave_out: tuple[str, ...]) -> Trial[_Judged]:
            nonlocal runs
            if not await self.sandbox.reset():
                return Trial(False, False, "the sandbox could not be reset")
            message = (f"narrowing attempt {attempt} by tests (test run {runs + 1} of at "
                       f"most {budget}): leaving out {', '.join(leave_out) or 'nothing'}")
            judged = await self._attempt(attempt, None, leave_out=leave_out, message=message)
            runs += int(judged.tested)
            await asyncio.to_thread(
                _append_trial, self.request.log_path, self.request.path, leave_out, judged
            )
            passed = judged.kind == "accepted" and judged.captured is not None
            return Trial(passed, judged.tested, judged.verdict.reason,
                         judged.verdict.remaining, judged)

        return await narrow_by_tests(
            rejected.applied, probe, budget=budget, failure=rejected.verdict.reason,
            failed_remaining=rejected.verdict.remaining,
            before=self.request.baseline.get(self.request.path, self.request.issues),
        )

    async def _record_narrowed(
        self, attempt: int, best: _Judged, narrowed: Narrowed[_Judged]
    ) -> None:
        reason = (
            f"{best.verdict.reason}; narrowed with {narrowed.test_runs} test run(s), "
            f"left out: {'; '.join(narrowed.dropped)}"
        )
        best.verdict = dataclasses.replace(best.verdict, reason=reason)
        report = AttemptReport(
            attempt=attempt, verdict="accepted", reason=reason,
            left_out=list(best.verdict.left_out),
            dropped_fixes=[*best.agent_dropped, *narrowed.dropped],
            test_runs=narrowed.test_runs,
        )
        self.result.reports.append(report)
        await asyncio.to_thread(_append_verdict, self.request.log_path, self.request.path, report)

    async def _attempt(
        self, attempt: int, last: Verdict | None, *, leave_out: tuple[str, ...] = (),
        message: str = "",
    ) -> _Judged:
        """One attempt, judged; a narrowing trial (`leave_out`) is logged by its caller."""
        request = self.request
        self.emit("attempt", message or f"attempt {attempt}", attempt)
        self.sandbox.mark_dirty()
        confinement = await self._confinement(state_dirs=True)
        task = AgentTask(
            workdir=self.sandbox.project_dir,
            target=request.path,
            issues=request.issues,
            attempt=attempt,
            previous_issues=(last.remaining + last.introduced_issues) if last else (),
            feedback=last.reason if last else "",
            log_path=request.log_path,
            timeout=request.agent_timeout,
            prompt_dir=request.prompt_dir,
            confinement=confinement,
            leave_out=leave_out,
        )
        started = time.monotonic()
        async with self._watched(confinement, "the agent") as escapes:
            outcome = await self.agent.fix(task)
        self.result.agent_seconds += time.monotonic() - started
        if escapes.reason:
            judged = _Judged(Verdict(False, escapes.reason), "rejected")
        else:
            judged = await self._judge(outcome)
        if isinstance(outcome, AgentResult):
            judged = dataclasses.replace(
                judged, agent_final=outcome.final, applied=outcome.applied,
                agent_dropped=outcome.dropped_fixes,
            )
        if not message:
            await self._record(attempt, judged, outcome)
        return judged

    async def _judge(self, outcome: object) -> _Judged:
        path = self.request.path
        changes = await self.sandbox.changes()
        if isinstance(outcome, AgentResult) and outcome.failed and not changes.changed:
            # Nothing to judge: the agent's own failure is the verdict (a hard one, such
            # as a rejected key, is not worth another attempt).
            # Not worth another attempt: a hard failure (a rejected key), or a timeout with
            # not one edit (a server that never answers would take the same time again).
            final = outcome.hard or outcome.timed_out
            failed = Verdict(False, f"the agent failed: {outcome.summary}", final=final)
            self.result.agent_failure = outcome.error or outcome.summary
            return _Judged(failed, "failed")
        self.result.agent_failure = None
        refused = refuse_unsafe_changes(path, changes)
        if refused is not None:
            return _Judged(refused, "rejected")
        files = split_changes(path, changes)
        left_out = files.left_out
        await self.sandbox.discard(left_out)
        try:
            captured = await capture(self.sandbox.project_dir, files.judged)
        except UncapturableFileError as exc:
            return _Judged(Verdict(False, str(exc), left_out=left_out), "rejected")
        missing = [p for p, data in captured.data.items() if data is None]
        if missing:
            return _Judged(_late_change(missing), "rejected")
        blank = [p for p in files.judged if p in changes.modified and is_blank(captured.text(p))]
        if blank:
            before = await read_snapshot_files(self.sandbox.snapshot, blank)
            emptied = refuse_emptied(before, self.request.baseline)
            if emptied is not None:
                return _Judged(dataclasses.replace(emptied, left_out=left_out), "rejected")
        verdict, kind = await self._check(files, captured, changes)
        verdict = dataclasses.replace(verdict, left_out=left_out)
        if kind != "accepted":
            return _Judged(verdict, kind)
        if isinstance(outcome, AgentResult) and outcome.timed_out:
            # A killed agent may have stopped mid-edit; its half-written files are not trusted.
            return _Judged(
                dataclasses.replace(verdict, accepted=False,
                                    reason=f"the agent was stopped: {outcome.summary}"),
                "rejected",
            )
        delivered = sorted(set(files.judged) & set(changes.modified + changes.added))
        tested = bool(self.request.test_command)
        if tested:
            failure, tail = await self._known_failure(captured, delivered) or (None, "")
            if failure is None:
                self.sandbox.mark_dirty()  # tests may write files; never part of the fix
                failure, tail = await self._run_tests()
            late = await captured.changed_since_async()
            if late:
                return _Judged(_late_change(late), "rejected", test_tail=tail)
            if failure:
                rejected = Verdict(False, failure, remaining=verdict.remaining, left_out=left_out)
                return _Judged(rejected, "rejected", test_tail=tail, tested=True)
        if left_out:
            verdict = dataclasses.replace(
                verdict, reason=f"{verdict.reason}; left out (not delivered): {_listed(left_out)}"
            )
        return _Judged(verdict, "accepted", captured, delivered, tested=tested)

    async def _known_failure(
        self, captured: Capture, delivered: Sequence[str]
    ) -> tuple[str, str] | None:
        """The failure the tests already gave on exactly these texts, if they did."""
        known = self.request.known_test_failure
        if known is None:
            return None
        texts = {p: captured.text(p) for p in delivered}
        if texts != dict(known.texts):
            return None
        return known.failure, known.failure.partition("\n")[2]

    async def _check(
        self, files: AttemptFiles, captured: Capture, changes: SandboxChanges
    ) -> tuple[Verdict, Literal["accepted", "rejected", "failed"]]:
        report = await self.runner.run(self.sandbox.project_dir, files.judged)
        late = await captured.changed_since_async()
        if not late and await self.sandbox.written_since_look() != []:
            # Something besides checker caches was written (or the watch cannot say):
            # ask git whether the tree still holds exactly what was judged.
            self.sandbox.mark_dirty()
            if not _same_tree(changes, await self.sandbox.changes(), files.left_out):
                late = ["other files of the sandbox"]
        if late:
            return _late_change(late), "rejected"
        if report.errors:
            problems = "; ".join(e.problem for e in report.errors)
            return Verdict(False, f"re-checking failed: {problems}"), "failed"
        verdict = judge(self.request.path, self.request.baseline, report.issues, files.judged)
        return verdict, "accepted" if verdict.accepted else "rejected"

    def _watched(
        self, confinement: Confinement | None, who: str
    ) -> contextlib.AbstractAsyncContextManager[Escapes]:
        if self.guard is None or confinement is None:
            return contextlib.nullcontext(Escapes())
        return self.guard.watched(confinement, who)

    async def _run_tests(self) -> tuple[str | None, str]:
        """The user's test command, confined like the agent: it runs the agent's code."""
        try:
            invocation = suite_invocation(
                self.request.test_command or [],
                workdir=self.sandbox.project_dir,
                files=[self.request.path],
            )
        except ValueError as exc:
            return str(exc), ""
        command = invocation.argv
        confinement = await self._confinement(state_dirs=False)
        self.result.test_runs += 1
        try:
            async with self._watched(confinement, "the test command") as escapes:
                result = await run_process(
                    command, cwd=invocation.cwd, timeout=self.request.agent_timeout,
                    env=invocation.env, confinement=confinement,
                )
        except OSError as exc:
            return f"the test command {command[0]!r} could not start: {exc}", ""
        tail = (result.stdout_text + result.stderr_text)[-TEST_OUTPUT_TAIL:]
        if escapes.reason:
            return escapes.reason, tail
        if result.timed_out:
            return "the test command timed out", tail
        if result.returncode != 0:
            return failure_reason(result.returncode, tail), tail
        return None, tail

    async def _record(self, attempt: int, judged: _Judged, outcome: object) -> None:
        verdict = judged.verdict
        agent_exit = outcome.exit_code if isinstance(outcome, AgentResult) else None
        timed_out = isinstance(outcome, AgentResult) and outcome.timed_out
        tokens = outcome.tokens if isinstance(outcome, AgentResult) else None
        usd = outcome.usd if isinstance(outcome, AgentResult) else None
        report = AttemptReport(
            attempt=attempt,
            verdict=judged.kind,
            reason=verdict.reason,
            new_issues=[describe(issue) for issue in verdict.introduced_issues],
            left_out=list(verdict.left_out),
            agent_exit=agent_exit,
            timed_out=timed_out,
            test_tail=judged.test_tail,
            dropped_fixes=list(outcome.dropped_fixes) if isinstance(outcome, AgentResult) else [],
            tokens=tokens,
            usd=usd,
        )
        self.result.reports.append(report)
        await asyncio.to_thread(_append_verdict, self.request.log_path, self.request.path, report)


def _append_verdict(log_path: Path, target: str, report: AttemptReport) -> None:
    """The verdict goes into the same per-file log as the agent's own output."""
    lines = [
        f"===== stomper: verdict on attempt {report.attempt} for {target}: {report.verdict} "
        "=====",
        f"reason: {report.reason}",
    ]
    lines += [f"new issue: {issue}" for issue in report.new_issues]
    if report.left_out:
        lines.append(f"left out (not delivered): {', '.join(report.left_out)}")
    lines += [f"dropped fix: {fix}" for fix in report.dropped_fixes]
    if report.test_runs:
        lines.append(f"test runs spent narrowing: {report.test_runs}")
    if report.tokens is not None or report.usd is not None:
        lines.append(f"cost: {report.tokens or 0} tokens, ${report.usd or 0:.4f}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8", errors="surrogateescape") as log:
        log.write("\n".join(lines) + "\n\n")


def _append_trial(
    log_path: Path, target: str, leave_out: Sequence[str], judged: _Judged
) -> None:
    """One narrowing trial in the file's log: what it left out and how it was judged."""
    verdict = "tests pass" if judged.kind == "accepted" else judged.kind
    lines = [
        f"===== stomper: narrowing trial for {target}, leaving out "
        f"{', '.join(leave_out) or 'nothing'}: {verdict} =====",
        f"reason: {judged.verdict.reason}",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8", errors="surrogateescape") as log:
        log.write("\n".join(lines) + "\n\n")


async def find_verified_fix(
    request: FixRequest, *, agent: Agent, sandbox: Sandbox, runner: CheckRunner, emit: Emit,
    guard: AttemptGuard | None = None,
) -> VerifiedFix:
    """Run the attempts for one file in a leased sandbox; never merges or delivers.

    With `guard`, every agent and test-command process is confined (and, unconfined by the
    user's choice, watched for writes outside the sandbox)."""
    return await _Body(request, agent, sandbox, runner, emit, guard).run()
