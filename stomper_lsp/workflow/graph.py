"""The run's graph: collect -> Send("fix_file") per file -> aggregate (deferred).

Concurrency is LangGraph's own: the caller passes `max_concurrency` in the run config, which
bounds the Send branches exactly. No hand-made semaphore.
"""

from __future__ import annotations

import time
from typing import Any, cast

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from stomper_lsp.checkers.files import discover_python_files
from stomper_lsp.checkers.model import group_by_path
from stomper_lsp.workflow import langgraph_fixes
from stomper_lsp.workflow.circuit_breaker import CircuitBreaker
from stomper_lsp.workflow.context import RunContext
from stomper_lsp.workflow.fix_file import fix_file
from stomper_lsp.workflow.report import FileStatus
from stomper_lsp.workflow.state import FileJob, RunState
from stomper_lsp.workflow.test_queue import (
    after_batches,
    finish_tests,
    plan_batches,
    suite_batch,
)


async def collect(state: RunState, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Check the snapshot (in a sandbox, so unsaved buffers count) and plan one job per file."""
    ctx = runtime.context
    config = ctx.project.config
    started = time.monotonic()
    async with ctx.pool.lease() as sandbox:
        # The other slots' checkouts overlap this check (as many as the run can use).
        wanted = state.get("paths")
        ctx.pool.prewarm(len(wanted) - 1 if wanted else ctx.pool.size - 1)
        files = await discover_python_files(
            sandbox.project_dir,
            paths=state.get("paths") or (),
            include=config.include,
            exclude=config.exclude,
        )
        report = await ctx.runner_for(sandbox.slot).run(sandbox.project_dir, files)
    elapsed = round(time.monotonic() - started, 3)
    if report.errors:
        return {
            "jobs": [],
            "files_checked": len(files),
            "issues_before": len(report.issues),
            "collect_errors": [e.describe() for e in report.errors],
            "collect_s": elapsed,
        }
    grouped = group_by_path(report.issues)
    ctx.baseline.update(grouped)
    jobs: list[FileJob] = [
        {"path": path, "issues": [i.model_dump(mode="json") for i in issues]}
        for path, issues in grouped.items()
    ]
    ctx.progress.total = len(jobs)
    if ctx.snapshot_reader is not None:  # branches start in this order: read their bases ahead
        ctx.snapshot_reader.expect([job["path"] for job in jobs])
    ctx.breaker = CircuitBreaker.for_run(config.max_parallel_files, len(jobs))
    for job in jobs:
        ctx.progress.event("queued", job["path"])
    return {
        "jobs": jobs,
        "files_checked": len(files),
        "issues_before": len(report.issues),
        "collect_errors": [],
        "collect_s": elapsed,
    }


def fan_out(state: RunState) -> list[Send] | str:
    jobs = state.get("jobs") or []
    return [Send("fix_file", job) for job in jobs] or "aggregate"


async def aggregate(state: RunState) -> dict[str, Any]:
    """Runs once after every branch (defer=True); reducers already merged their outcomes."""
    applied = {FileStatus.FIXED.value, FileStatus.PARTIAL.value}
    broke_tests = {entry["path"] for entry in state.get("tests_failed") or []}
    narrowed = {e["path"]: int(e["issues_after"]) for e in state.get("tests_narrowed") or []}
    after = sum(
        o["issues_before"] if o["path"] in broke_tests or o["status"] not in applied
        else narrowed.get(o["path"], o["issues_after"])
        for o in state.get("outcomes") or []
    )
    return {"issues_after": after}


async def fixes_done(state: RunState, *, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Runs once after every file's branch (defer=True): the test stage starts from here."""
    return {"batches_open": 1 if runtime.context.tests.staged else 0}


async def batches_done(state: RunState) -> dict[str, Any]:
    """Runs after each superstep of suite batches; `after_batches` routes on from here."""
    return {}


def build_graph() -> CompiledStateGraph[RunState, RunContext, RunState, RunState]:
    """collect -> Send(fix_file) per file -> Send(suite_batch) per batch/half -> aggregate."""
    langgraph_fixes.apply()
    graph = StateGraph(RunState, context_schema=RunContext)
    graph.add_node("collect", collect)
    graph.add_node("fix_file", fix_file)
    graph.add_node("fixes_done", fixes_done, defer=True)
    # A batch node answers with Command(goto=[Send(half), Send(half)]), a shape add_node's
    # overloads do not list.
    graph.add_node("suite_batch", cast(Any, suite_batch), destinations=("suite_batch",))
    graph.add_node("batches_done", batches_done)
    graph.add_node("finish_tests", finish_tests)
    graph.add_node("aggregate", aggregate, defer=True)
    graph.add_edge(START, "collect")
    graph.add_conditional_edges("collect", fan_out, ["fix_file", "aggregate"])
    graph.add_edge("fix_file", "fixes_done")
    graph.add_conditional_edges("fixes_done", plan_batches, ["suite_batch", "finish_tests"])
    graph.add_edge("suite_batch", "batches_done")
    graph.add_conditional_edges("batches_done", after_batches, ["suite_batch", "finish_tests"])
    graph.add_edge("finish_tests", "aggregate")
    graph.add_edge("aggregate", END)
    return graph.compile()
