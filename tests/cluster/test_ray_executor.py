"""`--executor ray` on a real two-node Ray cluster (ray.cluster_utils.Cluster, 2 slots each).

Nothing of Ray is mocked: tasks run in Ray worker processes, the snapshot travels as git
bundles through the object store, and faults are real SIGKILLs and a removed raylet.
The agents are the fake agent (there is no AI model here); `--announce` tells the tests
which agents run, with which pid, when.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.executors.child_signal import restore_child_reaping
from stomper_lsp.workflow.report import FileStatus
from tests.conftest import SUPPORT
from tests.processes import is_dead
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, load, user_state

ray = pytest.importorskip("ray", reason="the Ray extra is not installed: pip install -e '.[ray]'")
from ray.cluster_utils import Cluster  # noqa: E402

from stomper_lsp.workflow.executors.ray_cluster import SUBREAPER_ENV  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
STOMPER = str(Path(sys.executable).parent / "stomper")
SLOTS_PER_NODE = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Head + one worker node. Workers inherit this environment: their own node folder,
    and Landlock-only confinement where available so recorded pids are the host's."""
    saved = dict(os.environ)
    os.environ["STOMPER_NODE_DIR"] = str(tmp_path_factory.mktemp("nodes"))
    os.environ[SUBREAPER_ENV] = "true"
    if SUPPORT.landlock:
        os.environ["STOMPER_CONFINEMENT"] = "landlock"
    started = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {"stomper_slot": SLOTS_PER_NODE}},
    )
    started.add_node(num_cpus=1, resources={"stomper_slot": SLOTS_PER_NODE})
    ray.init(address=started.address, log_to_driver=False)
    restore_child_reaping()  # as run_fix does after its own ray.init (child_signal.py)
    try:
        yield started
    finally:
        ray.shutdown()
        started.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def _ray(**overrides: Any) -> dict[str, Any]:
    return {"executor": "ray", "agent": "command", **overrides}


def _started_run(root: Path, agent: list[str], parallel: int) -> asyncio.Future[Any]:
    """A Ray fix run going on in the background (the test acts on it meanwhile)."""
    return asyncio.ensure_future(
        run_fix(load(root, max_parallel_files=parallel, agent_command=agent, **_ray()))
    )


def _announced(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _ray_worker_of(pid: int) -> int:
    """The Ray worker process an agent runs under (its nearest `ray::` ancestor)."""
    current = pid
    while current > 1:
        cmdline = Path(f"/proc/{current}/cmdline").read_bytes()
        if cmdline.startswith(b"ray::"):
            return current
        current = int(Path(f"/proc/{current}/stat").read_text().split(") ", 1)[1].split()[1])
    raise AssertionError(f"no Ray worker above pid {pid}")


def _scratch_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("stomper-run-*"))


async def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_files_spread_over_nodes_within_slots_and_the_global_bound(
    cluster: Cluster, make_repo: Any, agent_out: Path
) -> None:
    files = [f"m{i}.py" for i in range(8)]
    root = make_repo(dict.fromkeys(files, BROKEN))
    before = user_state(root)
    scratch_before = _scratch_folders()
    agent = fake("--announce", str(agent_out / "a"), "--sleep", "0.8", *FIX_BOTH)
    bounded = await run_fix(load(root, max_parallel_files=3, agent_command=agent, **_ray()))
    assert bounded.executor == "ray"
    assert [(o.path, o.status, o.executions) for o in bounded.files] == [
        (path, FileStatus.FIXED, 1) for path in files
    ]
    assert [(c.path, c.new_text) for c in bounded.changes] == [(p, FIXED) for p in files]
    assert bounded.peak_concurrent_files == 3
    assert len(bounded.peak_concurrent_per_node) == 2, bounded.peak_concurrent_per_node
    assert all(1 <= peak <= SLOTS_PER_NODE for peak in bounded.peak_concurrent_per_node.values())
    assert {o.node for o in bounded.files} == set(bounded.peak_concurrent_per_node)
    # More files allowed at once than the cluster has slots: the slots bound it.
    wide = await run_fix(load(root, max_parallel_files=8, agent_command=agent, **_ray()))
    assert wide.peak_concurrent_files == 2 * SLOTS_PER_NODE
    assert sorted(wide.peak_concurrent_per_node.values()) == [SLOTS_PER_NODE, SLOTS_PER_NODE]
    assert all(o.status is FileStatus.FIXED for o in wide.files)
    assert user_state(root) == before
    # The workers tidied up before the runs ended (killed actors would leave them behind).
    assert _scratch_folders() == scratch_before


async def test_a_files_attempts_are_shown_while_its_agent_runs(
    cluster: Cluster, make_repo: Any
) -> None:
    files = [f"m{i}.py" for i in range(2)]
    root = make_repo(dict.fromkeys(files, BROKEN))
    seen: list[tuple[float, str, str | None]] = []
    agent = fake("--sleep", "2", *FIX_BOTH)
    report = await run_fix(
        load(root, max_parallel_files=2, agent_command=agent, **_ray()),
        on_progress=lambda event: seen.append((time.monotonic(), event.kind, event.path)),
    )
    assert all(o.status is FileStatus.FIXED for o in report.files)
    for path in files:
        attempt = min(t for t, kind, p in seen if kind == "attempt" and p == path)
        merged = min(t for t, kind, p in seen if kind == "merged" and p == path)
        # The agent sleeps 2 s after the attempt began: its event came while it slept.
        assert merged - attempt > 1.0, (path, merged - attempt)


async def test_a_sigkilled_worker_reruns_its_file_which_still_has_one_outcome(
    cluster: Cluster, make_repo: Any, agent_out: Path
) -> None:
    files = [f"m{i}.py" for i in range(4)]
    root = make_repo(dict.fromkeys(files, BROKEN))
    before = user_state(root)
    announce = agent_out / "a"
    agent = fake("--announce", str(announce), "--sleep", "2", *FIX_BOTH)
    run = _started_run(root, agent, 4)
    await _wait_for(lambda: len(_announced(announce)) >= 1, 60, "an agent to start")
    victim = _announced(announce)[0]
    os.kill(_ray_worker_of(victim["pid"]), signal.SIGKILL)
    report = await asyncio.wait_for(run, 120)
    assert [(o.path, o.status) for o in report.files] == [(p, FileStatus.FIXED) for p in files]
    executions = {o.path: o.executions for o in report.files}
    assert executions[victim["target"]] == 2, executions
    assert sum(executions.values()) == len(files) + 1
    assert [(c.path, c.new_text) for c in report.changes] == [(p, FIXED) for p in files]
    await _wait_for(lambda: is_dead(victim["pid"]), 5, "the killed worker's agent to die")
    assert user_state(root) == before


async def test_a_lost_node_reruns_its_files_elsewhere(
    cluster: Cluster, make_repo: Any, agent_out: Path
) -> None:
    extra = cluster.add_node(num_cpus=1, resources={"stomper_slot": SLOTS_PER_NODE})
    cluster.wait_for_nodes()
    files = [f"m{i}.py" for i in range(6)]
    root = make_repo(dict.fromkeys(files, BROKEN))
    announce = agent_out / "a"
    agent = fake("--announce", str(announce), "--sleep", "2", *FIX_BOTH)
    run = _started_run(root, agent, 6)
    await _wait_for(lambda: len(_announced(announce)) >= 6, 60, "every file's agent to start")
    cluster.remove_node(extra, allow_graceful=False)
    report = await asyncio.wait_for(run, 150)
    assert [(o.path, o.status) for o in report.files] == [(p, FileStatus.FIXED) for p in files]
    assert any(o.executions == 2 for o in report.files), [o.executions for o in report.files]
    assert [(c.path, c.new_text) for c in report.changes] == [(p, FIXED) for p in files]


async def test_cancel_kills_running_agents_and_starts_nothing_more(
    cluster: Cluster, make_repo: Any, agent_out: Path
) -> None:
    root = make_repo({f"m{i}.py": BROKEN for i in range(8)})
    before = user_state(root)
    announce = agent_out / "a"
    agent = fake("--announce", str(announce), "--sleep", "60", *FIX_BOTH)
    run = _started_run(root, agent, 4)
    await _wait_for(lambda: len(_announced(announce)) >= 2, 60, "agents to start")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    cancelled_at = time.monotonic()
    started = _announced(announce)
    await _wait_for(
        lambda: all(is_dead(a["pid"]) for a in _announced(announce)), 3,
        "every agent to be gone within 3 s of the cancel",
    )
    assert time.monotonic() - cancelled_at < 3
    await asyncio.sleep(1.0)
    assert len(_announced(announce)) == len(started)  # nothing started after the cancel
    assert user_state(root) == before


def test_a_killed_coordinator_resumes_without_rerunning_finished_files(
    cluster: Cluster, make_repo: Any, agent_out: Path
) -> None:
    files = [f"m{i}.py" for i in range(6)]
    root = make_repo(dict.fromkeys(files, BROKEN))
    announce = agent_out / "a"
    agent = fake("--announce", str(announce), "--sleep", "1", *FIX_BOTH)
    with Path(os.environ["STOMPER_CONFIG"]).open("a", encoding="utf-8") as config:
        config.write(f'agent = "command"\nagent_command = {json.dumps(agent)}\n'
                     'max_parallel_files = 2\ntools = ["ruff"]\n')
    before = user_state(root)
    command = [STOMPER, "fix", "--json", "--executor", "ray", "--ray-address", cluster.address]
    proc = subprocess.Popen(command, cwd=root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if sum(1 for a in _announced(announce) if "end" in a) >= 3:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # the finished files' outcomes reach the store
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {a["target"] for a in _announced(announce) if "end" in a}
    assert len(finished) >= 3, _announced(announce)
    # The dead coordinator's running tasks die with its Ray job, agents included.
    orphans = [a["pid"] for a in _announced(announce) if "end" not in a]
    deadline = time.monotonic() + 20
    while any(not is_dead(pid) for pid in orphans) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in orphans if not is_dead(pid)], "agents outlived their coordinator"
    assert user_state(root) == before
    seen = {p.name for p in announce.glob("*.json")}
    resumed = subprocess.run(
        [*command, "--resume"], cwd=root, capture_output=True, text=True, timeout=150
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # Only the report on stdout: Ray's notices about the node removed earlier go to stderr.
    report = json.loads(resumed.stdout)
    by_path = {f["path"]: f for f in report["files"]}
    assert sorted(by_path) == files
    stored = {path for path, f in by_path.items() if f["resumed"]}
    assert stored >= finished - {None}, (stored, finished)
    rerun = [json.loads(p.read_text())["target"] for p in announce.glob("*.json")
             if p.name not in seen]
    assert not set(rerun) & stored  # no stored file ran again
    assert all(root.joinpath(p).read_text() == FIXED for p in files)
