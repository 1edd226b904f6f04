"""Services a run's nodes need. They travel in LangGraph's runtime context, never in state
(state must stay plain data: services in state break any checkpointer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.agents.base import Agent
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.runner import CheckRunner
from stomper_lsp.confinement.attempts import AttemptGuard
from stomper_lsp.project import Project
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import Snapshot, read_snapshot_files
from stomper_lsp.sandbox.snapshot_reader import SnapshotReader
from stomper_lsp.workflow.circuit_breaker import CircuitBreaker
from stomper_lsp.workflow.executors.base import Executor
from stomper_lsp.workflow.gauges import ConcurrencyGauge
from stomper_lsp.workflow.outcome_store import OutcomeStore, StoredFile
from stomper_lsp.workflow.progress import ProgressTracker
from stomper_lsp.workflow.run_result import RunResult
from stomper_lsp.workflow.test_queue_state import SuiteQueue
from stomper_lsp.workflow.write_behind import WriteBehind


@dataclass
class RunContext:
    project: Project
    agent: Agent | None
    """The local executor's agent (None on Ray: each worker builds its own)."""
    snapshot: Snapshot
    pool: WorktreePool
    run_dir: Path
    """Outside the workspace: prompts and per-slot mypy caches (removed after the run)."""
    log_dir: Path
    """Per-file agent logs; kept after the run so the report can point at them."""
    test_command: list[str] | None = None
    test_mode: str = "per-file"
    """"batch": fixes are verified by the checkers, then tested together (test_queue.py)."""
    tests: SuiteQueue = field(default_factory=SuiteQueue)
    result: RunResult = field(default_factory=RunResult)
    files_gauge: ConcurrencyGauge = field(default_factory=ConcurrencyGauge)
    progress: ProgressTracker = field(default_factory=ProgressTracker)
    baseline: dict[str, list[Issue]] = field(default_factory=dict)
    """Issues per project-relative path in the snapshot, filled by collect."""
    guard: AttemptGuard | None = None
    """Confines agents and the test command (None: unconfined, for library use)."""
    outcome_store: OutcomeStore | None = None
    """Where each finished file's outcome is written the moment it finishes (None: nowhere)."""
    writes: WriteBehind = field(default_factory=WriteBehind)
    """The run's writer thread: stored outcomes, logs sent back by Ray workers."""
    run_key: str = ""
    resumable: dict[str, StoredFile] = field(default_factory=dict)
    """Outcomes an interrupted earlier run already stored (`--resume`): not re-run."""
    breaker: CircuitBreaker = field(default_factory=lambda: CircuitBreaker(window=0))
    """Stops the queued files once the first ones show the agent cannot work at all."""
    snapshot_reader: SnapshotReader | None = None
    """Reads the snapshot's files with one running git (sandbox/snapshot_reader.py)."""
    executor_: Executor | None = None
    """Where each file's body runs (executors/); set by the engine once it is open."""
    _runners: dict[int, CheckRunner] = field(default_factory=dict)

    async def read_snapshot(self, paths: Sequence[str]) -> dict[str, str | None]:
        if self.snapshot_reader is None:
            return await read_snapshot_files(self.snapshot, paths)
        return await self.snapshot_reader.read(paths)

    @property
    def executor(self) -> Executor:
        if self.executor_ is None:
            raise RuntimeError("RunContext.executor before the engine opened one")
        return self.executor_

    @property
    def tests_in_batches(self) -> bool:
        return bool(self.test_command) and self.test_mode == "batch"

    def runner_for(self, slot: int) -> CheckRunner:
        """One checker set per sandbox slot, so each slot keeps its own warm mypy cache."""
        runner = self._runners.get(slot)
        if runner is None:
            cache = self.run_dir / "mypy-cache" / f"slot-{slot}"
            runner = self._runners[slot] = self.project.check_runner(mypy_cache_dir=cache)
        return runner
