"""The run's slot workers: one Ray actor per file the run may fix at once.

A Ray task asks its raylet for a worker lease each time one is submitted while nothing of
the same kind is queued, which is every time here (LangGraph submits a file only when one
finishes): about 20 ms of dispatch and 0.8 ms of the coordinator's CPU per file, measured.
An actor holds its `stomper_slot` and its process for the whole run, so a file is one
direct call to an idle actor. The actors are spread over the nodes, handed out one file
at a time, and killed when the run ends.

- An actor that died (its process killed, its node lost) is replaced; the replacement
  takes files only once Ray has placed it, so a file never waits on an actor whose node
  is gone. The caller runs the lost file again.
- A cancelled call kills its actor, and with it the file's agent (the agent dies with its
  worker: bubblewrap's --die-with-parent, Ray's subreaper).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import ray
import ray.exceptions

from stomper_lsp.workflow.executors.ray_tasks import (
    Event,
    FileTask,
    TaskResult,
    stream_fix_on_worker,
)

SLOT_RESOURCE = "stomper_slot"


class SlotWorker:
    """The actor: a file's body, streamed (its events while it runs, then its result)."""

    @ray.method(num_returns="streaming")
    def fix(self, plan: Any, task: FileTask) -> Iterator[list[Event] | TaskResult]:
        yield from stream_fix_on_worker(plan, task)

    def ready(self) -> bool:
        return True


_SlotActor: Any = ray.remote(SlotWorker).options(
    num_cpus=0, resources={SLOT_RESOURCE: 1}, max_restarts=0, max_task_retries=0,
    scheduling_strategy="SPREAD",
)


class SlotWorkers:
    """`count` actors; `call` runs one file on an idle one."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._actors: set[Any] = set()
        self._idle: collections.deque[Any] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._placing: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for _ in range(self._count):
            self._add()

    def _add(self) -> None:
        actor = _SlotActor.remote()
        self._actors.add(actor)
        placing = asyncio.ensure_future(self._when_placed(actor))
        self._placing.add(placing)
        placing.add_done_callback(self._placing.discard)

    async def _when_placed(self, actor: Any) -> None:
        try:
            await actor.ready.remote()
        except ray.exceptions.RayError:
            self._actors.discard(actor)  # died before its first file: nothing to replace
            return
        self._release(actor)

    def _release(self, actor: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(actor)
                return
        self._idle.append(actor)

    async def _acquire(self) -> Any:
        if self._idle:
            return self._idle.popleft()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as we were cancelled
            raise

    async def call(
        self, plan: Any, task: FileTask, on_events: Callable[[list[Event]], None]
    ) -> TaskResult:
        """One execution of `task`, its events handed on as they come; Ray's errors
        propagate (a dead actor is replaced)."""
        actor = await self._acquire()
        try:
            result: TaskResult | None = None
            async for ref in actor.fix.remote(plan, task):
                item = await ref
                if isinstance(item, TaskResult):
                    result = item
                else:
                    on_events(item)
            if result is None:
                raise RuntimeError("the slot worker's stream ended without a result")
        except asyncio.CancelledError:
            self._kill(actor)
            raise
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError):
            self._kill(actor)
            self._add()
            raise
        except BaseException:
            self._release(actor)  # the file's own failure: the actor is fine
            raise
        self._release(actor)
        return result

    def _kill(self, actor: Any) -> None:
        self._actors.discard(actor)
        with contextlib.suppress(Exception):
            ray.kill(actor)

    async def close(self) -> None:
        for placing in list(self._placing):
            placing.cancel()
        for actor in list(self._actors):
            self._kill(actor)
        self._idle.clear()
        for waiter in self._waiters:
            waiter.cancel()
