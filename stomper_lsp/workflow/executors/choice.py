"""Pick the run's executor from its settings; Ray is imported only when chosen."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from stomper_lsp.config import EXECUTOR_NAMES
from stomper_lsp.workflow.executors.base import Executor
from stomper_lsp.workflow.executors.local import LocalExecutor

if TYPE_CHECKING:
    from stomper_lsp.workflow.context import RunContext

__all__ = ["EXECUTOR_NAMES", "open_executor"]


@contextlib.asynccontextmanager
async def open_executor(context: RunContext) -> AsyncIterator[Executor]:
    if context.project.config.executor != "ray":
        if context.agent is None:
            raise RuntimeError("the local executor needs the run's agent")
        yield LocalExecutor(context.pool, context.agent, context.runner_for, context.guard)
        return
    from stomper_lsp.workflow.executors.ray_cluster import RayExecutor

    executor = RayExecutor(context)
    try:
        await executor.start()
        yield executor
    finally:
        await executor.close()


def disconnect_cluster() -> None:
    """End this process's Ray connection, if a run made one (a CLI run, once it is over:
    Ray's notice thread would otherwise go on printing cluster news into its output)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
