"""The one interface both executors implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stomper_lsp.workflow.verified_fix import Emit, FixRequest, VerifiedFix


@dataclass
class FixExecution:
    """One file's body result plus where and how often it ran."""

    found: VerifiedFix
    node: str | None = None
    """The executor's name for the machine; None: this process."""
    executions: int = 1
    """How many times the body was started (a worker killed mid-file makes it 2)."""
    started_at: float | None = None
    """Wall-clock start of the body that produced `found`, on its node."""
    finished_at: float | None = None
    log_written: bool = False
    """The body's log is at the request's `log_path` (or queued to be, before the run
    ends): nobody needs to look for it."""


class Executor(Protocol):
    name: str

    @property
    def parallel(self) -> int:
        """The global bound on files in flight (LangGraph's `max_concurrency`)."""

    async def find_fix(self, request: FixRequest, emit: Emit) -> FixExecution:
        """Run the file's verified-fix body; cancelling the caller stops it."""

    def node_peaks(self) -> dict[str, int]:
        """The most bodies that ran at once per node ({} when all ran in this process)."""
