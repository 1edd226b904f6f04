"""The coordinator side of `--executor ray`: each file's body runs on a Ray node.

LangGraph still schedules (one `Send` per file, `max_concurrency` as the global bound) and
the merge still happens here under the one lock; Ray only runs bodies on the nodes. Ray is
imported when this module is, and this module only when a run asks for Ray.

- Per-node bound: each slot worker holds one `stomper_slot` (a custom resource a node offers
  with `ray start --resources '{"stomper_slot": 4}'`); no CPU is reserved (agents wait on
  models).
- The snapshot travels as git bundles in the object store: `HEAD..snapshot` for nodes that
  have HEAD, a full bundle built the first time a node lacks it.
- Bodies run on the run's slot workers (`ray_slots.py`: one actor per file at once, so a
  file is one direct call, not a worker lease per file).
- Faults: a file whose worker or node died runs again (Ray's own retries are off, so each
  start is counted in `executions`); the body's own exception is that file's failure.
- Cancel: cancelling the branch kills its worker; its agents die with it (bubblewrap's
  --die-with-parent; Ray's subreaper setting, which a Ray started here turns on, catches
  the rest).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stomper_lsp.sandbox.bundles import create_bundle, snapshot_parent
from stomper_lsp.sandbox.git import run_git_dir
from stomper_lsp.sandbox.shadow_refs import run_ref
from stomper_lsp.workflow.errors import FixRunError
from stomper_lsp.workflow.executors.base import FixExecution
from stomper_lsp.workflow.executors.child_signal import restore_child_reaping
from stomper_lsp.workflow.executors.ray_tasks import (
    BundleRefs,
    Event,
    FileTask,
    RunPlan,
    TaskResult,
)
from stomper_lsp.workflow.verified_fix import Emit, FixRequest

if TYPE_CHECKING:
    from stomper_lsp.workflow.context import RunContext

try:
    import ray
    import ray.exceptions
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise FixRunError(
        "executor 'ray' needs Ray: install it with `pip install 'stomper-lsp[ray]'` (or "
        "`pipx inject stomper-lsp 'ray>=2.60,<3'`), or use the local executor."
    ) from exc

from stomper_lsp.workflow.executors.ray_slots import SLOT_RESOURCE, SlotWorkers

MAX_EXECUTIONS = 4
"""A file whose worker dies this often is reported failed (its agent may be what kills it)."""
_PROBE_TIMEOUT_S = 3.0
SUBREAPER_ENV = "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper"
# The worker or node is gone, not the file's body: run it again.
_LOST = (
    ray.exceptions.RayActorError,
    ray.exceptions.ActorUnschedulableError,
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.RaySystemError,
)


class RayExecutor:
    name = "ray"

    def __init__(self, context: RunContext) -> None:
        self._ctx = context
        config = context.project.config
        self._address = config.ray_address or os.environ.get("RAY_ADDRESS") or None
        self._started_here = False
        self._parallel = 1
        self._plan: RunPlan | None = None
        self._plan_ref: Any = None
        """The plan in the object store: serialised once per run, not once per file."""
        self._plan_lock = asyncio.Lock()
        self._full: list[Any] = []
        self._slots: SlotWorkers | None = None
        self._intervals: dict[str, list[tuple[float, float]]] = {}

    @property
    def parallel(self) -> int:
        return self._parallel

    async def start(self) -> None:
        """Connect (or start Ray here), check the slots, ship the delta bundle."""
        await asyncio.to_thread(self._connect)
        restore_child_reaping()
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        slots = int(resources.get(SLOT_RESOURCE, 0))
        if slots < 1:
            raise FixRunError(
                f"the Ray cluster at {self._address} offers no '{SLOT_RESOURCE}' resource, so "
                "no file could ever be scheduled. Start every node with "
                f"`ray start ... --resources '{{\"{SLOT_RESOURCE}\": 4}}'` (4 agents per node)."
            )
        self._parallel = min(self._ctx.project.config.max_parallel_files, slots)
        self._slots = SlotWorkers(self._parallel)
        self._slots.start()

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        # Ray's start-up notes (no SIGTERM handler off the main thread, which is what we
        # want; token auth on for a local Ray, also what we want) are not the user's news.
        logging.getLogger("ray").setLevel(logging.ERROR)
        config = self._ctx.project.config
        if self._address is None:
            # A Ray of our own for this run: slots as the run allows; agents' process
            # trees die with a killed worker.
            os.environ.setdefault(SUBREAPER_ENV, "true")
            ray.init(
                resources={SLOT_RESOURCE: config.max_parallel_files},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started_here = True
            return
        _probe(self._address)
        try:
            ray.init(address=self._address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise FixRunError(
                f"cannot connect to the Ray cluster at {self._address!r}: {exc}. Check that "
                "`ray status` there works, or drop --ray-address to start Ray on this machine."
            ) from exc

    async def close(self) -> None:
        if self._slots is not None:
            await self._slots.close()
        if self._started_here:
            await asyncio.to_thread(ray.shutdown)

    async def _run_plan(self) -> tuple[RunPlan, Any]:
        """Built on the first file (collect has filled the baseline by then); with its ref."""
        async with self._plan_lock:
            if self._plan is None:
                self._plan = await self._build_plan()
                self._plan_ref = ray.put(self._plan)
            return self._plan, self._plan_ref

    async def _build_plan(self) -> RunPlan:
        ctx = self._ctx
        snapshot = ctx.snapshot
        ref = run_ref(ctx.pool.run_id)  # the pool pinned the snapshot under this ref
        parent = await snapshot_parent(snapshot)
        delta: list[Any] = []
        if parent is not None:
            bundle = await create_bundle(snapshot, ref, since=parent)
            delta = [ray.put(bundle.data)]
        baseline = {
            path: [issue.model_dump(mode="json") for issue in issues]
            for path, issues in ctx.baseline.items()
        }
        shadow_config = await asyncio.to_thread((snapshot.shadow_dir / "config").read_bytes)
        return RunPlan(
            run_id=ctx.pool.run_id,
            repo_key=repository_key(snapshot.repo_root),
            commit=snapshot.commit,
            project_prefix=snapshot.project_prefix,
            object_format=await _object_format(snapshot.shadow_dir),
            shadow_config=shadow_config,
            config=ctx.project.config.model_dump(mode="json"),
            trusted=ctx.project.environment.trusted,
            bundles=BundleRefs(ref=ref, delta=delta, prerequisite=parent, full=self._full),
            baseline=[ray.put(baseline)],
        )

    async def _with_full_bundle(self) -> Any:
        """A node lacks HEAD: bundle every object, once per run. The plan's `full` list
        is `self._full`; the plan is stored again so later submissions carry the bundle."""
        plan, _ = await self._run_plan()
        async with self._plan_lock:
            if not self._full:
                bundle = await create_bundle(self._ctx.snapshot, plan.bundles.ref, since=None)
                self._full.append(ray.put(bundle.data))
                self._plan_ref = ray.put(plan)
            return self._plan_ref

    async def find_fix(self, request: FixRequest, emit: Emit) -> FixExecution:
        _, plan = await self._run_plan()
        task = FileTask(
            path=request.path,
            issues=[issue.model_dump(mode="json") for issue in request.issues],
            max_attempts=request.max_attempts,
            agent_timeout=request.agent_timeout,
            test_command=list(request.test_command) if request.test_command else None,
            test_bisect_budget=request.test_bisect_budget,
        )
        executions = 0
        lost: list[str] = []

        def on_events(batch: list[Event]) -> None:
            for kind, message, attempt in batch:
                emit(kind, message, attempt)  # type: ignore[arg-type]  # the body's own kinds

        while True:
            executions += 1
            result = await self._submit(plan, task, lost, executions, on_events)
            if result is None:
                continue
            if result.needs_full_bundle:
                executions -= 1  # nothing ran: the node only asked for the objects
                plan = await self._with_full_bundle()
                continue
            break
        log_text = result.log_text
        if log_text is not None:
            self._ctx.writes.submit(lambda: _write_log(request.log_path, log_text))
        assert result.found is not None
        self._intervals.setdefault(result.node, []).append(
            (result.started_at, result.finished_at)
        )
        return FixExecution(
            result.found, node=result.node, executions=executions,
            started_at=result.started_at, finished_at=result.finished_at,
            log_written=log_text is not None,
        )

    def node_peaks(self) -> dict[str, int]:
        return {node: peak_overlap(spans) for node, spans in sorted(self._intervals.items())}

    async def _submit(
        self, plan: Any, task: FileTask, lost: list[str], executions: int,
        on_events: Callable[[list[Event]], None],
    ) -> TaskResult | None:
        """One execution (`plan`: the RunPlan's ref); None when its worker or node was lost."""
        assert self._slots is not None
        try:
            result = await self._slots.call(plan, task, on_events)
        except _LOST as exc:
            lost.append(f"{type(exc).__name__}")
            if executions >= MAX_EXECUTIONS:
                raise WorkerLostError(
                    f"the Ray worker running this file died {executions} times "
                    f"({', '.join(lost)}); its agent may be what kills it"
                ) from exc
            return None
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            raise WorkerTaskError(f"on a Ray worker: {type(cause).__name__}: {cause}") from exc
        return result


class WorkerLostError(RuntimeError):
    pass


class WorkerTaskError(RuntimeError):
    pass


def _probe(address: str) -> None:
    """Ray retries a dead address for minutes without a word: fail fast and say so."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" or a form Ray resolves itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise FixRunError(
            f"nothing answers at the Ray address {address!r} ({exc.strerror or exc}). Start "
            "the head node there (`ray start --head --resources '{\"stomper_slot\": 4}'`), "
            "fix --ray-address / ray_address / RAY_ADDRESS, or drop it to start Ray here."
        ) from exc


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (a span ending as another starts: not both)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
                   key=lambda edge: (edge[0], edge[1]))
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def repository_key(repo_root: Path) -> str:
    """Names the user's repository on every node: this host and its path, hashed."""
    raw = f"{socket.gethostname()}\0{repo_root}"
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:16]


async def _object_format(shadow: Path) -> str:
    result = await run_git_dir(shadow, ["rev-parse", "--show-object-format"], check=False)
    return result.stdout_text.strip() or "sha1"


def _write_log(path: Path, text: str) -> None:
    """Plain os calls: through pathlib and a text stream it cost a third more CPU."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:  # the run's log folder is made at its start; gone since
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
