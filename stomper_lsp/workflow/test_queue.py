"""Test verification like a merge queue: one suite run for many files, split only on failure.

With `test_mode = "batch"` the per-file branches verify fixes by the checkers alone and
stage them (nothing reaches the run's result yet). Then a second fan-out: one `Send` per
batch (at first, one batch of every staged file). A batch writes its files' verified
texts into a fresh sandbox and runs the test command once. It passes: every file of it
is delivered. It fails: it sends its two halves on (merge queues bisect the same way),
until a failing batch of one file names the file that breaks the tests. A run in which
nothing breaks costs one suite run; k breaking files cost about 2k log2(n) runs. Halves
passing separately were still verified only separately, so when anything was split the
passing files are confirmed together once more before they are delivered. A file a
batch of one rejects is narrowed down fix by fix with test runs first (batch_narrowing.py):
what of its fix passes alone is staged instead and confirmed with the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Literal, TypedDict

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from stomper_lsp.merging.three_way import merge_texts
from stomper_lsp.process import run_process
from stomper_lsp.sandbox.pool import Sandbox
from stomper_lsp.workflow.batch_narrowing import NarrowedFile, can_narrow, narrow_staged
from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.fix_file import log_name
from stomper_lsp.workflow.report import AttemptReport, FileOutcome, FileStatus
from stomper_lsp.workflow.test_command import failure_reason, suite_invocation
from stomper_lsp.workflow.test_queue_state import StagedFix

TEST_OUTPUT_TAIL = 3000
_TOGETHER = "passed the tests alone"


class BatchJob(TypedDict):
    paths: list[str]
    confirm: bool


async def combined_texts(fixes: Sequence[StagedFix]) -> dict[str, str] | None:
    """All fixes of a batch on top of one another; None if two of them overlap."""
    texts: dict[str, str] = {}
    for fix in fixes:
        for path, new_text in fix.texts.items():
            base = fix.base.get(path) or ""
            merged = await merge_texts(base, texts.get(path, base), new_text)
            if not merged.clean:
                return None
            texts[path] = merged.text
    return texts


async def run_suite(ctx: RunContext, sandbox: Sandbox, texts: Mapping[str, str]) -> str | None:
    """Write `texts` into the sandbox and run the test command once: None, or why it failed."""
    sandbox.mark_dirty()
    for path, text in texts.items():
        target = sandbox.project_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", errors="surrogateescape", newline="")
    # {file}: the fixed files of this batch (test_command.py says how they are spelled).
    invocation = suite_invocation(
        ctx.test_command or [], workdir=sandbox.project_dir, files=sorted(texts)
    )
    guard = ctx.guard
    confinement = None
    if guard is not None:
        confinement = await guard.confinement(
            worktree=sandbox.path, admin_dir=sandbox.admin_dir, slot=sandbox.slot, state_dirs=()
        )
    try:
        if guard is not None and confinement is not None:
            async with guard.watched(confinement, "the test command") as escapes:
                result = await run_process(
                    invocation.argv, cwd=invocation.cwd, env=invocation.env,
                    timeout=ctx.project.config.agent_timeout, confinement=confinement,
                )
            if escapes.reason:
                return escapes.reason
        else:
            result = await run_process(
                invocation.argv, cwd=invocation.cwd, env=invocation.env,
                timeout=ctx.project.config.agent_timeout,
            )
    except OSError as exc:
        return f"the test command {invocation.argv[0]!r} could not start: {exc}"
    tail = (result.stdout_text + result.stderr_text)[-TEST_OUTPUT_TAIL:]
    if result.timed_out:
        return f"the test command timed out:\n{tail}"
    if result.returncode != 0:
        return failure_reason(result.returncode, tail)
    return None


def plan_batches(state: Mapping[str, Any], *, runtime: Runtime[RunContext]) -> list[Send] | str:
    """After every file's branch: one batch of everything staged (or straight to the end)."""
    staged = sorted(runtime.context.tests.staged)
    if not staged:
        return "finish_tests"
    runtime.context.tests.planned += 1
    return [Send("suite_batch", BatchJob(paths=staged, confirm=False))]


def _progress(runtime: Runtime[RunContext], message: str, path: str | None = None) -> None:
    """A `testing` event on the run's progress channel (CLI line, editor progress bar)."""
    runtime.context.progress.event("testing", path, message)


async def suite_batch(job: BatchJob, *, runtime: Runtime[RunContext]) -> Command[str]:
    """Graph node: one suite run over a batch; a failing batch sends its halves on."""
    ctx = runtime.context
    fixes = [ctx.tests.staged[path] for path in job["paths"]]
    texts = await combined_texts(fixes)
    ctx.tests.started += 1
    batch = f"batch {ctx.tests.started} of {ctx.tests.planned}"
    files = job["paths"][0] if len(job["paths"]) == 1 else f"{len(job['paths'])} files"
    together = ", together to confirm" if job["confirm"] else ""
    _progress(runtime, f"testing {batch}: {files}{together}")
    failure: str | None
    if texts is None:
        failure = "its fix overlaps another file's fix in the same test batch"
    else:
        async with ctx.pool.lease() as sandbox:
            failure = await run_suite(ctx, sandbox, texts)
    _progress(runtime, f"{batch}: the tests " + ("pass" if failure is None else "fail"))
    # A confirming batch was never counted open (a routing function cannot write state).
    update: dict[str, Any] = {"suite_runs": 1, "batches_open": 0 if job["confirm"] else -1}
    paths = job["paths"]
    if failure is None:
        key = "confirmed" if job["confirm"] else "tests_passed"
        update[key] = paths
        return Command(update=update)
    if len(paths) == 1:
        narrowed = None
        if texts is not None and not job["confirm"] and can_narrow(ctx):
            path = paths[0]

            def trial(kind: Literal["attempt", "verified", "rejected"], message: str,
                      attempt: int) -> None:
                if kind == "attempt" and message.startswith("narrowing"):
                    _progress(runtime, message, path)
                elif kind == "attempt":
                    _progress(runtime, f"{message} again: its fix breaks the tests", path)

            narrowed, runs = await narrow_staged(ctx, path, failure, trial)
            update["suite_runs"] += runs
        if narrowed is not None:
            update["tests_passed"] = paths
            update["tests_narrowed"] = [asdict(narrowed)]
            return Command(update=update)
        update["tests_failed"] = [{"path": paths[0], "reason": failure}]
        return Command(update=update)
    if job["confirm"]:
        # Passing halves broke the tests together: keep none of them rather than guess.
        update["tests_failed"] = [
            {"path": p, "reason": f"{_TOGETHER}, not with the others: {failure}"}
            for p in paths
        ]
        return Command(update=update)
    middle = len(paths) // 2
    ctx.tests.planned += 2
    update["tests_split"] = 1
    update["batches_open"] += 2
    return Command(
        update=update,
        goto=[
            Send("suite_batch", BatchJob(paths=paths[:middle], confirm=False)),
            Send("suite_batch", BatchJob(paths=paths[middle:], confirm=False)),
        ],
    )


def after_batches(state: Mapping[str, Any], *, runtime: Runtime[RunContext]) -> list[Send] | str:
    """Once every batch ended: confirm split-up passes together, once, or finish.

    LangGraph's deferred nodes wait for one superstep, not for batches a Send starts later,
    so the batches count themselves: `batches_open` is back at zero when the last ends.
    """
    if (state.get("batches_open") or 0) > 0:
        return []
    passed = sorted(state.get("tests_passed") or [])
    if state.get("tests_split") and len(passed) > 1 and not state.get("confirmed"):
        already = {entry["path"] for entry in state.get("tests_failed") or []}
        if not already & set(passed) and not _confirming(state):
            runtime.context.tests.planned += 1
            return [Send("suite_batch", BatchJob(paths=passed, confirm=True))]
    return "finish_tests"


def _confirming(state: Mapping[str, Any]) -> bool:
    failed = state.get("tests_failed") or []
    return any(str(entry.get("reason", "")).startswith(_TOGETHER) for entry in failed)


async def finish_tests(state: Mapping[str, Any], *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Deliver what the tests verified: merge those staged fixes into the run's result."""
    ctx = runtime.context
    staged = ctx.tests.staged
    if not staged:
        return {}
    split = bool(state.get("tests_split")) and len(state.get("tests_passed") or []) > 1
    verified = set((state.get("confirmed") if split else state.get("tests_passed")) or [])
    failed = {entry["path"] for entry in state.get("tests_failed") or []}
    extra: list[dict[str, str]] = []
    for path in sorted(staged):
        if path in failed:
            continue
        if path not in verified:
            extra.append({"path": path, "reason": "not verified by a passing test run"})
            continue
        fix = staged[path]
        merged = await ctx.result.merge(fix.base, fix.texts)
        if not merged.clean:
            extra.append({"path": path, "reason": "overlaps an earlier fix; not applied"})
    for entry in [*(state.get("tests_failed") or []), *extra]:
        _log_rejection(ctx, entry["path"], entry["reason"])
    return {"tests_failed": extra} if extra else {}


def _log_rejection(ctx: RunContext, path: str, reason: str) -> None:
    log = ctx.log_dir / log_name(path)
    with log.open("a", encoding="utf-8", errors="surrogateescape") as out:
        out.write(f"===== stomper: the batched test run rejects {path} =====\nreason: {reason}\n\n")


def apply_test_verdicts(
    outcomes: list[FileOutcome], failed: Sequence[Mapping[str, str]],
    narrowed: Sequence[Mapping[str, Any]] = (),
) -> None:
    """A narrowed file reports what of its fix was kept; a file whose fix broke the tests
    is reported as failed, with the run's tail (also after narrowing, if the confirming
    run rejects it)."""
    narrowings = {entry["path"]: NarrowedFile(**entry) for entry in narrowed}
    reasons = {entry["path"]: entry["reason"] for entry in failed}
    for outcome in outcomes:
        if outcome.path in narrowings:
            narrowings[outcome.path].apply_to(outcome)
        reason = reasons.get(outcome.path)
        if reason is None:
            continue
        outcome.attempt_reports.append(AttemptReport(
            attempt=outcome.attempts, verdict="rejected", reason=reason,
            test_tail=reason.partition("\n")[2],
        ))
        outcome.status = FileStatus.FAILED
        outcome.message = reason
        outcome.issues_after = outcome.issues_before
        outcome.issues_fixed = 0
        outcome.changed_paths = []
