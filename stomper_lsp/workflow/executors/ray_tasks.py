"""The worker side of a Ray run: one file's verified-fix body on a cluster node.

Everything a task receives is plain data (settings, the file's issues, object refs of the
snapshot bundles and the baseline); the worker builds its own services from it (agent,
checkers, confinement, a worktree pool at the snapshot) exactly as a local run would, with
the coordinator's trust decisions baked into the settings. What comes back is plain data
too: the `VerifiedFix`, the events the body emitted and its log.

A slot worker (ray_slots.py) runs one file at a time and is kept for the next, so it keeps
the run's services and its warm worktree on an event loop of its own between files; a run
idle for `_IDLE_CLOSE_S`, a file of another run, or the run's end (`close_worker_runs`)
closes them. Each run's scratch folder carries an owner file, so a worker that was killed
instead leaves nothing the next run on its node does not sweep.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stomper_lsp.agents.base import Agent
from stomper_lsp.agents.registry import build_agent
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.runner import CheckRunner
from stomper_lsp.config import StomperConfig
from stomper_lsp.confinement import Mechanism, confinement_for_run
from stomper_lsp.confinement.attempts import AttemptGuard
from stomper_lsp.confinement.orphans import mark_run_dir, sweep_run_dirs
from stomper_lsp.project import Project
from stomper_lsp.sandbox.layout import remove_tree
from stomper_lsp.sandbox.node_repository import NodeRepository
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.user_dirs import user_path
from stomper_lsp.workflow.executors.child_signal import restore_child_reaping
from stomper_lsp.workflow.verified_fix import FixRequest, VerifiedFix, find_verified_fix

_T = TypeVar("_T")
Event = tuple[str, str, int]
"""What the body emits: (kind, message, attempt)."""
_IDLE_CLOSE_S = 120.0
EVENT_POLL_AFTER_S = 0.5
"""A file still running after this long has its events asked for while it runs."""
_LOG_TAIL = 1_000_000
_log = logging.getLogger(__name__)

NODE_BASE_ENV = "STOMPER_NODE_DIR"


def node_base() -> Path:
    """Where a node keeps its repositories' shadows and sandboxes."""
    return user_path("cache", "cluster", override=NODE_BASE_ENV)


@dataclass(frozen=True)
class BundleRefs:
    """Object refs travel inside a list so Ray hands them over unresolved: a worker
    downloads only the bundle it needs."""

    ref: str
    """The ref each bundle carries (it names the snapshot commit)."""
    delta: list[Any]
    """[ObjectRef] of `prerequisite..snapshot`, or [] when there is no prerequisite."""
    prerequisite: str | None
    full: list[Any]
    """[ObjectRef] of every object, or [] until some node asked for it."""


@dataclass(frozen=True)
class RunPlan:
    """What every task of one run shares."""

    run_id: str
    repo_key: str
    commit: str
    project_prefix: str
    object_format: str
    shadow_config: bytes
    config: dict[str, Any]
    trusted: bool
    bundles: BundleRefs
    baseline: list[Any]
    """[ObjectRef] of {path: [issue dicts]}: the snapshot's issues, fetched once per run."""


@dataclass(frozen=True)
class FileTask:
    path: str
    issues: list[dict[str, Any]]
    max_attempts: int
    agent_timeout: float
    test_command: list[str] | None
    test_bisect_budget: int = 0


@dataclass
class TaskResult:
    found: VerifiedFix | None = None
    needs_full_bundle: bool = False
    node: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    events: list[Event] = field(default_factory=list)
    log_text: str | None = None


def node_name() -> str:
    """Host name plus Ray's node id: several nodes may share a host (and a test cluster)."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    return f"{socket.gethostname()}/{node_id[:8]}"


class EventLog:
    """The running file's events, for the coordinator to long-poll while the body runs.

    A file is one plain call (cheapest for Ray); only a file still running after
    `EVENT_POLL_AFTER_S` is asked for its events, and each ask returns as soon as there
    are new ones, so a long file costs a message per batch of events, a fast one none.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._key = ""
        self._events: list[Event] = []
        self._done = False

    def begin(self, key: str) -> None:
        with self._changed:
            self._key, self._events, self._done = key, [], False
            self._changed.notify_all()

    def add(self, event: Event) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def end(self) -> list[Event]:
        with self._changed:
            self._done = True
            self._changed.notify_all()
            return list(self._events)

    def after(self, key: str, seen: int, timeout: float) -> list[Event]:
        """Events of file `key` past the first `seen`, once there are any (or it ended, or
        `timeout` passed)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._key != key or self._done or len(self._events) > seen, timeout
            )
            return self._events[seen:] if self._key == key else []


def fix_on_worker(plan: RunPlan, task: FileTask, key: str, log: EventLog) -> TaskResult:
    """The body; its events go to `log` as they happen and, all of them, into the result."""
    restore_child_reaping()
    log.begin(key)
    try:
        result = _WORKER.submit(_fix(plan, task, log.add)).result()
    finally:
        events = log.end()
    result.events = events
    return result


async def _fix(plan: RunPlan, task: FileTask, on_event: Callable[[Event], None]) -> TaskResult:
    started = time.time()
    node = node_name()
    run = await _WORKER.run_for(plan)
    if run is None:
        return TaskResult(needs_full_bundle=True, node=node, started_at=started)
    return await run.fix(task, node, started, on_event)


class _Loop:
    """A private event loop in a daemon thread: it outlives each task, so the run's pool
    (asyncio objects, a warm worktree) serves the process's next task too."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.runs: dict[str, _NodeRun] = {}
        self._idle: asyncio.TimerHandle | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="stomper-worker")
                thread.daemon = True
                thread.start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure())

    async def run_for(self, plan: RunPlan) -> _NodeRun | None:
        """The run's services in this process (None: this node needs the full bundle)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        for run_id in [r for r in self.runs if r != plan.run_id]:
            await self.runs.pop(run_id).close()  # one run at a time per worker process
        run = self.runs.get(plan.run_id)
        if run is None:
            run = await _NodeRun.open(plan)
            if run is None:
                return None
            self.runs[plan.run_id] = run
        return run

    def idle(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(_IDLE_CLOSE_S, lambda: asyncio.ensure_future(self.close_all()))

    async def close_all(self) -> None:
        while self.runs:
            await self.runs.popitem()[1].close()

    def close_now(self, timeout: float) -> None:
        """Close every run's services from another thread, waiting up to `timeout`."""
        with self._lock:
            started = self._loop is not None
        if started:
            self.submit(self.close_all()).result(timeout)


_WORKER = _Loop()


def close_worker_runs(timeout: float) -> None:
    """Remove this worker's warm worktrees and scratch folders before Ray kills it (a
    killed worker would leave them for the next run's sweep on the node)."""
    _WORKER.close_now(timeout)


@dataclass
class _NodeRun:
    plan: RunPlan
    pool: WorktreePool
    agent: Agent
    runner: CheckRunner
    guard: AttemptGuard
    baseline: dict[str, list[Issue]]
    scratch: Path

    @classmethod
    async def open(cls, plan: RunPlan) -> _NodeRun | None:
        repository = NodeRepository(node_base(), plan.repo_key)
        await repository.open(plan.object_format, plan.shadow_config)
        if not await repository.has_commit(plan.commit):
            bundles = plan.bundles
            usable_delta = bool(bundles.delta) and bundles.prerequisite is not None and (
                await repository.has_commit(bundles.prerequisite)
            )
            chosen = bundles.delta if usable_delta else bundles.full
            if not chosen:
                return None
            data: bytes = await asyncio.to_thread(_fetch_object, chosen[0])
            await repository.fetch_bundle(data, bundles.ref, plan.commit)
        healed = await repository.heal()
        healed.extend(str(path) for path in await asyncio.to_thread(sweep_run_dirs))
        if healed:
            _log.warning("healed what killed workers left on this node: %s", healed)
        config = StomperConfig.model_validate(plan.config)
        scratch = Path(tempfile.mkdtemp(prefix=f"stomper-run-{plan.run_id}-"))
        await asyncio.to_thread(mark_run_dir, scratch, repository.repo_dir)
        environment = ProjectEnvironment(scratch, python=config.python, trusted=plan.trusted)
        project = Project(scratch, config, environment)
        confinement = await confinement_for_run(
            plan.run_id, allow_unconfined=False, extra_writable=config.agent_writable_dirs
        )
        if confinement.mechanism is Mechanism.NONE:  # confinement_for_run refuses first
            raise RuntimeError(f"{socket.gethostname()} cannot confine agents")
        snapshot = repository.snapshot(plan.commit, plan.project_prefix)
        pool = WorktreePool(snapshot, 1, run_id=f"{plan.run_id}-p{os.getpid()}")
        await pool.open()
        try:
            agent = await build_agent(config, environment)
            raw_baseline: dict[str, list[dict[str, Any]]] = await asyncio.to_thread(
                _fetch_object, plan.baseline[0]
            )
        except BaseException:
            await pool.close()
            raise
        baseline = {
            path: [Issue.model_validate(i) for i in issues] for path, issues in raw_baseline.items()
        }
        guard = AttemptGuard(
            confinement,
            temp_root=scratch,
            watch_roots=[repository.repo_dir],
            readable=[repository.shadow, scratch],
            snapshot=plan.commit,
        )
        runner = project.check_runner(mypy_cache_dir=scratch / "mypy-cache")
        return cls(plan, pool, agent, runner, guard, baseline, scratch)

    async def fix(
        self, task: FileTask, node: str, started: float, on_event: Callable[[Event], None]
    ) -> TaskResult:
        log_path = self.scratch / "logs" / "file.log"
        await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            log_path.unlink()
        request = FixRequest(
            path=task.path,
            issues=[Issue.model_validate(i) for i in task.issues],
            baseline=self.baseline,
            max_attempts=task.max_attempts,
            agent_timeout=task.agent_timeout,
            log_path=log_path,
            prompt_dir=self.scratch / "prompts",
            test_command=task.test_command,
            test_bisect_budget=task.test_bisect_budget,
        )
        try:
            async with self.pool.lease() as sandbox:
                found = await find_verified_fix(
                    request,
                    agent=self.agent,
                    sandbox=sandbox,
                    runner=self.runner,
                    emit=lambda kind, message, attempt: on_event((kind, message, attempt)),
                    guard=self.guard,
                )
        finally:
            _WORKER.idle()
        return TaskResult(
            found=found, node=node, started_at=started, finished_at=time.time(),
            log_text=await asyncio.to_thread(_tail, log_path),
        )

    async def close(self) -> None:
        try:
            await self.pool.close()
        finally:
            await asyncio.to_thread(remove_tree, self.scratch)


def _fetch_object(ref: Any) -> Any:
    """An object from the object store (blocking: call it off the loop)."""
    import ray

    return ray.get(ref)


def _tail(path: Path) -> str | None:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - _LOG_TAIL))
            return log.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
