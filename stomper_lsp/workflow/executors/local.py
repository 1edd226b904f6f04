"""The default executor: each file's body runs in this process, in a leased worktree."""

from __future__ import annotations

import time
from collections.abc import Callable

from stomper_lsp.agents.base import Agent
from stomper_lsp.checkers.runner import CheckRunner
from stomper_lsp.confinement.attempts import AttemptGuard
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.workflow.executors.base import FixExecution
from stomper_lsp.workflow.verified_fix import Emit, FixRequest, find_verified_fix


class LocalExecutor:
    name = "local"

    def __init__(
        self,
        pool: WorktreePool,
        agent: Agent,
        runner_for: Callable[[int], CheckRunner],
        guard: AttemptGuard | None,
    ) -> None:
        self._pool = pool
        self._agent = agent
        self._runner_for = runner_for
        self._guard = guard

    @property
    def parallel(self) -> int:
        return self._pool.size

    def node_peaks(self) -> dict[str, int]:
        return {}

    async def find_fix(self, request: FixRequest, emit: Emit) -> FixExecution:
        async with self._pool.lease() as sandbox:
            started = time.time()
            found = await find_verified_fix(
                request,
                agent=self._agent,
                sandbox=sandbox,
                runner=self._runner_for(sandbox.slot),
                emit=emit,
                guard=self._guard,
            )
        return FixExecution(found, started_at=started, finished_at=time.time())
