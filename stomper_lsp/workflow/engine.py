"""The library API every front end drives: `run_fix(project, ...) -> FixReport`.

Cancel by cancelling the task awaiting `run_fix`: LangGraph cancels the running branches
(their agents' process groups die), queued branches never start, and the sandbox pool is
removed before the CancelledError propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from stomper_lsp.agents.base import Agent, AgentUnavailableError
from stomper_lsp.agents.registry import build_agent
from stomper_lsp.confinement import ConfinementError, Mechanism, confinement_for_run
from stomper_lsp.confinement.attempts import AttemptGuard
from stomper_lsp.confinement.orphans import mark_run_dir
from stomper_lsp.project import Project
from stomper_lsp.sandbox.placement import all_bases, choose_base_dir
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import SandboxError, create_snapshot, locate_repository
from stomper_lsp.sandbox.sweep import sweep_bases
from stomper_lsp.user_dirs import user_path
from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.errors import FixRunError
from stomper_lsp.workflow.executors import open_executor
from stomper_lsp.workflow.graph import build_graph
from stomper_lsp.workflow.outcome_store import OutcomeStore, run_key
from stomper_lsp.workflow.progress import ProgressTracker
from stomper_lsp.workflow.report import (
    FileChange,
    FileOutcome,
    FixReport,
    ProgressEvent,
    RunStatus,
)
from stomper_lsp.workflow.run_logs import RunLogDir, prune_run_logs
from stomper_lsp.workflow.test_queue import apply_test_verdicts


def log_root() -> Path:
    return user_path("cache", "logs", override="STOMPER_LOG_DIR")


async def run_fix(
    project: Project,
    *,
    paths: Sequence[str] | None = None,
    overlays: Mapping[str, str] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    agent: Agent | None = None,
    resume: bool = False,
    outcome_store: OutcomeStore | None = None,
) -> FixReport:
    """Fix `paths` (project-relative; None: every file with issues) and report.

    Nothing in the user's workspace is written: the report carries the new texts, and the
    caller (CLI or language server) delivers them. Every finished file's outcome is stored
    (workflow/outcome_store.py); with `resume`, files an interrupted run with the same
    snapshot tree and settings already finished are taken from there instead of re-run.
    """
    started = time.monotonic()
    config = project.config
    timings: dict[str, float] = {}
    run_id = uuid.uuid4().hex[:12]
    try:
        # On Ray the workers build the agent (their CLIs and credentials): this machine
        # need not have it.
        chosen = agent
        if chosen is None and config.executor == "local":
            chosen = await build_agent(config, project.environment)
        confinement = await confinement_for_run(
            run_id,
            allow_unconfined=config.allow_unconfined,
            extra_writable=config.agent_writable_dirs,
        )
        location = await locate_repository(project.root)
        base_dir = await choose_base_dir(location, config.max_parallel_files)
        snapshot = await create_snapshot(
            project.root, overlays, base_dir=base_dir, location=location
        )
    except (AgentUnavailableError, SandboxError, ConfinementError) as exc:
        raise FixRunError(str(exc)) from exc
    await sweep_bases(location, all_bases())
    store = outcome_store or OutcomeStore()
    key = await run_key(snapshot, config)
    resumable = await store.load(key) if resume else {}
    await store.prune()
    timings["snapshot"] = time.monotonic() - started
    # Unconfined attempts run one at a time (see confinement/escapes.py): one slot suffices.
    # On Ray, this machine's pool serves only the first check and batched test runs.
    parallel = 1 if confinement.mechanism is Mechanism.NONE else config.max_parallel_files
    if config.executor == "ray" and not (config.test_command and config.test_mode == "batch"):
        parallel = 1
    run_logs = RunLogDir(log_root(), run_id)
    await asyncio.to_thread(run_logs.__enter__)
    log_dir = run_logs.path
    await asyncio.to_thread(prune_run_logs, log_root())
    run_dir = Path(tempfile.mkdtemp(prefix=f"stomper-run-{run_id}-"))
    context: RunContext | None = None
    try:
        await asyncio.to_thread(mark_run_dir, run_dir, project.root)
        async with WorktreePool(snapshot, parallel, run_id=run_id) as pool:
            context = RunContext(
                project=project,
                agent=chosen,
                snapshot=snapshot,
                pool=pool,
                run_dir=run_dir,
                log_dir=log_dir,
                test_command=config.test_command,
                test_mode=config.test_mode,
                guard=AttemptGuard(
                    confinement,
                    temp_root=run_dir,
                    watch_roots=[snapshot.repo_root, snapshot.shadow_dir.parent],
                    readable=[snapshot.shadow_dir.parent, run_dir],
                    snapshot=snapshot.commit,
                ),
                outcome_store=store,
                run_key=key,
                resumable=resumable,
                snapshot_reader=pool.snapshot_reader,
                progress=ProgressTracker(on_progress),
            )
            fan_out_started = time.monotonic()
            async with open_executor(context) as executor:
                context.executor_ = executor
                final = await _drive(context, list(paths) if paths is not None else None)
            timings["collect"] = float(final.get("collect_s") or 0.0)
            timings["fix"] = time.monotonic() - fan_out_started - timings["collect"]
            cleanup_started = time.monotonic()
    finally:
        if context is not None:
            await context.writes.close()  # outcomes stored, logs written
            if context.snapshot_reader is not None:
                await context.snapshot_reader.close()
        await asyncio.to_thread(shutil.rmtree, run_dir, True)
        run_logs.__exit__(None, None, None)
        if outcome_store is None:
            await store.close()
    timings["cleanup"] = time.monotonic() - cleanup_started
    report = _report(project, context, final, snapshot.commit, time.monotonic() - started)
    report.timings = {phase: round(seconds, 3) for phase, seconds in timings.items()}
    return report


async def _drive(context: RunContext, paths: list[str] | None) -> dict[str, Any]:
    """Run the graph to its final state (progress goes to the tracker's sink directly)."""
    graph = build_graph()
    final: dict[str, Any] = {}
    run_config: Any = {
        "max_concurrency": context.executor.parallel,
        "recursion_limit": 25,
    }
    # astream is an async generator; its annotation says AsyncIterator, which has no aclose.
    stream = cast(
        AsyncGenerator[dict[str, Any], None],
        graph.astream({"paths": paths}, config=run_config, context=context,
                      stream_mode="values"),
    )
    # aclosing: breaking out of astream would otherwise leave branches running.
    async with contextlib.aclosing(stream):
        async for chunk in stream:
            final = dict(chunk)
    return final


def _report(
    project: Project,
    context: RunContext,
    final: Mapping[str, Any],
    snapshot: str,
    duration: float,
) -> FixReport:
    outcomes = sorted(
        (FileOutcome.model_validate(o) for o in final.get("outcomes") or []),
        key=lambda o: o.path,
    )
    apply_test_verdicts(
        outcomes, final.get("tests_failed") or [], final.get("tests_narrowed") or []
    )
    errors = list(final.get("collect_errors") or []) + list(final.get("branch_errors") or [])
    changes = [
        FileChange(path=path, base_text=context.result.base_texts.get(path), new_text=text)
        for path, text in sorted(context.result.texts.items())
        if text != context.result.base_texts.get(path)
    ]
    issues_before = int(final.get("issues_before") or 0)
    attempts = [report for outcome in outcomes for report in outcome.attempt_reports]
    tokens = [a.tokens for a in attempts if a.tokens is not None]
    spent = [a.usd for a in attempts if a.usd is not None]
    if context.breaker.tripped:
        errors.append(context.breaker.tripped)
    return FixReport(
        status=RunStatus.FAILED if final.get("collect_errors") else RunStatus.COMPLETED,
        root=str(project.root),
        snapshot=snapshot,
        files=outcomes,
        changes=changes,
        issues_before=issues_before,
        issues_after=int(final.get("issues_after", issues_before)),
        peak_concurrent_files=context.files_gauge.peak,
        peak_concurrent_merges=context.result.gauge.peak,
        duration_s=round(duration, 3),
        errors=errors,
        confinement=context.guard.run.label if context.guard else "none",
        executor=context.executor.name,
        peak_concurrent_per_node=context.executor.node_peaks(),
        suite_runs=int(final.get("suite_runs") or 0),
        resumed_files=sum(1 for o in outcomes if o.resumed),
        stopped=context.breaker.tripped,
        tokens=sum(tokens) if tokens else None,
        usd=round(sum(spent), 6) if spent else None,
    )
