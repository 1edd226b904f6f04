"""The run's slot workers: one Ray actor per file the run may fix at once.

A Ray task asks its raylet for a worker lease each time one is submitted while nothing of
the same kind is queued, which is every time here (LangGraph submits a file only when one
finishes): about 20 ms of dispatch and 0.8 ms of the coordinator's CPU per file, measured.
An actor holds its `stomper_slot` and its process for the whole run, so a file is one
direct call to an idle actor. The actors are spread over the nodes, handed out one file
at a time, and when the run ends asked to close their worktrees and scratch folders, then
killed.

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
from collections.abc import Callable
from typing import Any

import ray
import ray.exceptions

from stomper_lsp.workflow.executors.ray_tasks import (
    EVENT_POLL_AFTER_S,
    Event,
    EventLog,
    FileTask,
    TaskResult,
    close_worker_runs,
    fix_on_worker,
)

SLOT_RESOURCE = "stomper_slot"


_POLL_TIMEOUT_S = 30.0
"""How long one ask for events may wait on the worker (it returns early on news)."""
_CLOSE_TIMEOUT_S = 10.0
"""How long the run's end waits for idle actors to tidy up before killing them."""


class SlotWorker:
    """The actor: one file at a time, and its events asked for beside it (two threads)."""

    def __init__(self) -> None:
        self._log = EventLog()
        self._plan: Any = None

    def fix(self, plan: Any, task: FileTask, key: str) -> TaskResult:
        """`plan` None: the one the last call brought (sent once per actor, not per file)."""
        if plan is not None:
            self._plan = plan
        if self._plan is None:
            raise RuntimeError("a slot worker was asked to fix a file before it had a plan")
        return fix_on_worker(self._plan, task, key, self._log)

    def events(self, key: str, seen: int) -> list[Event]:
        return self._log.after(key, seen, _POLL_TIMEOUT_S)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        close_worker_runs(_CLOSE_TIMEOUT_S)


_SlotActor: Any = ray.remote(SlotWorker).options(
    num_cpus=0, resources={SLOT_RESOURCE: 1}, max_restarts=0, max_task_retries=0,
    scheduling_strategy="SPREAD", max_concurrency=2,
)


class SlotWorkers:
    """`count` actors; `call` runs one file on an idle one."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._actors: set[Any] = set()
        self._idle: collections.deque[Any] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._placing: set[asyncio.Task[None]] = set()
        self._calls = 0
        self._has_plan: dict[Any, Any] = {}
        """actor -> the plan ref it was last handed (a file of its own passes None): a ref
        argument cost the driver ~0.08 ms per call measured alone (borrower bookkeeping)."""

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
        """One execution of `task`, every event of it handed to `on_events` (as they come, for
        a long file); Ray's errors propagate (a dead actor is replaced)."""
        actor = await self._acquire()
        self._calls += 1
        key = str(self._calls)
        sent = None if self._has_plan.get(actor) is plan else plan
        try:
            result = await _with_live_events(actor, actor.fix.remote(sent, task, key), key,
                                             on_events)
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
        self._has_plan[actor] = plan
        self._release(actor)
        return result

    def _kill(self, actor: Any) -> None:
        self._actors.discard(actor)
        self._has_plan.pop(actor, None)
        with contextlib.suppress(Exception):
            ray.kill(actor)

    async def close(self) -> None:
        """Idle actors tidy up first (busy ones are running a cancelled file: killed)."""
        for placing in list(self._placing):
            placing.cancel()
        closing = [asyncio.ensure_future(actor.close.remote()) for actor in self._idle]
        if closing:
            await asyncio.wait(closing, timeout=_CLOSE_TIMEOUT_S)
            for call in closing:
                if not call.done():
                    call.cancel()
                elif not call.cancelled():
                    call.exception()  # a worker that died meanwhile: nothing to tidy
        for actor in list(self._actors):
            self._kill(actor)
        self._idle.clear()
        for waiter in self._waiters:
            waiter.cancel()


async def _with_live_events(
    actor: Any, call: Any, key: str, on_events: Callable[[list[Event]], None]
) -> TaskResult:
    """The call's result; its events are asked for only if it runs past the first pause."""
    running: asyncio.Future[TaskResult] = asyncio.ensure_future(call)
    seen = 0
    try:
        await asyncio.wait([running], timeout=EVENT_POLL_AFTER_S)
        while not running.done():
            asked: asyncio.Future[Any] = asyncio.ensure_future(actor.events.remote(key, seen))
            try:
                await asyncio.wait({running, asked}, return_when=asyncio.FIRST_COMPLETED)
                if not asked.done():
                    continue
                if asked.cancelled() or asked.exception() is not None:
                    await asyncio.wait([running])  # the worker is going: its call says how
                    break
                batch = asked.result()
                seen += len(batch)
                on_events(batch)
            finally:
                if not asked.done():
                    asked.cancel()
        result = running.result()
    finally:
        if not running.done():
            running.cancel()
    on_events(result.events[seen:])
    return result
