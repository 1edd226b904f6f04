"""The Ray executor against the local one, and what a cluster run costs. Prints figures.

    .venv/bin/python benchmarks/cluster.py [--files 200] [--big-files 10000]
        [--bundle-files 50000] [--only local,overhead,throughput,bundles,resume]

1. overhead: N broken files, a zero-delay agent (`sed`, about 1 ms), k=4: wall, files/s,
   the coordinator's CPU per file (its own threads plus its child processes) for the local
   executor and for Ray on a two-node local cluster (2 slots each, warm: a second run).
   Per-file overhead through Ray = (Ray wall - local wall) x k / N.
   `--only local` runs just the local row (no Ray cluster started).
2. throughput: `--big-files` files through the same cluster: files/s, where the time goes.
3. bundles: a `--bundle-files` repository: full bundle (size, time), and a delta bundle of
   20 edited files.
4. resume: a coordinator SIGKILLed mid-run, then `--resume`: finished files lost.
Results go in docs/performance.md ("Ray executor").
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stomper_lsp.project import Project
from stomper_lsp.sandbox.bundles import create_bundle, snapshot_parent
from stomper_lsp.sandbox.shadow_refs import pin_run, run_ref, unpin_run
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.executors.child_signal import restore_child_reaping
from stomper_lsp.workflow.report import FileStatus, FixReport

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_agents" / "fake_agent.py"
STOMPER = str(Path(sys.executable).parent / "stomper")
BROKEN = "import os\n\n\ndef check_{i}(x):\n    return x == None\n"
SED_AGENT = ["sed", "-i", "-e", "/^import os$/d", "-e", "s/== None/is None/", "{file}"]
SLOTS = 2


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=b", *args], cwd=root,
                   check=True, capture_output=True)


def _repo(work: Path, name: str, broken: int, clean: int = 0) -> Path:
    root = work / name
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "E711"]\n')
    for i in range(broken):
        (root / f"m{i}.py").write_text(BROKEN.format(i=i))
    for i in range(clean):
        folder = root / "pkg" / f"d{i // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"c{i}.py").write_text(_module(i))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    return root


def _module(i: int) -> str:
    """About 3 KB of source that compresses like code, not like a repeated line."""
    digest = hashlib.sha256(str(i).encode()).hexdigest()
    lines = [f'"""Module {i}: {digest}."""', ""]
    for j in range(24):
        word = hashlib.sha256(f"{i}.{j}".encode()).hexdigest()[: 8 + j % 16]
        lines += [f"def f_{word}(x_{j}: int) -> int:", f"    return x_{j} * {i + j} + {j}", ""]
    return "\n".join(lines) + "\n"


def _reset(root: Path) -> None:
    _git(root, "checkout", "-q", ".")


def _project(root: Path, **overrides: Any) -> Project:
    settings = {"tools": ["ruff"], "agent": "command", "agent_command": SED_AGENT,
                "max_attempts": 1, **overrides}
    return Project.load(root, overrides=settings, trusted=True)


@dataclass(frozen=True)
class _Timed:
    report: FixReport
    wall: float
    cpu: float
    """The coordinator's CPU seconds: this process's threads plus its children."""
    loop_cpu: float
    """The event loop's own thread: the part that cannot spread over cores."""
    child_cpu: float
    """Processes the coordinator started (the first check, git for the snapshot)."""
    threads: dict[str, float]
    """CPU seconds of the other threads, by name (Ray's own threads have theirs)."""


def _name_python_threads() -> None:
    """Give Python's threads their names in /proc too (Python 3.11 leaves them "python"),
    so the breakdown tells the to_thread workers from Ray's Python threads."""
    import ctypes
    import threading

    libc = ctypes.CDLL(None)
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named(self: threading.Thread) -> None:
        libc.prctl(15, self.name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
        original(self)

    threading.Thread._bootstrap_inner = named  # type: ignore[attr-defined]


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """{thread id: (name, CPU seconds)} of this process's threads, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _threads_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU spent between the two readings, summed per thread name (the main thread is
    counted apart as the event loop); threads that ended meanwhile are not seen."""
    spent: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        if tid == os.getpid():
            continue
        used = cpu - before.get(tid, (name, 0.0))[1]
        spent[name] = spent.get(name, 0.0) + used
    return spent


async def _timed(project: Project) -> _Timed:
    cpu = time.process_time()
    loop_thread = time.thread_time()
    threads = _thread_cpu()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    report = await run_fix(project)
    wall = time.perf_counter() - started
    loop_cpu = time.thread_time() - loop_thread
    threads_spent = _threads_delta(threads, _thread_cpu())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return _Timed(report, wall, time.process_time() - cpu + child_cpu, loop_cpu, child_cpu,
                  threads_spent)


def _breakdown(timed: _Timed, files: int) -> str:
    """Where the coordinator's CPU per file went (thread CPU has a 10 ms resolution)."""
    named = sorted(timed.threads.items(), key=lambda item: -item[1])
    parts = [f"event loop {timed.loop_cpu / files * 1000:.2f}",
             f"child processes {timed.child_cpu / files * 1000:.2f}"]
    parts += [f"{name} {spent / files * 1000:.2f}" for name, spent in named if spent > 0]
    # Threads that ended before the run did (the run's writer thread) are in no reading.
    ended = timed.cpu - timed.loop_cpu - timed.child_cpu - sum(timed.threads.values())
    parts.append(f"threads that ended {max(ended, 0.0) / files * 1000:.2f}")
    return "    coordinator ms/file by thread: " + ", ".join(parts)


def _line(label: str, timed: _Timed, files: int) -> str:
    report, wall, cpu = timed.report, timed.wall, timed.cpu
    fixed = sum(1 for o in report.files if o.status is FileStatus.FIXED)
    timings = ", ".join(f"{k} {v:.2f}" for k, v in report.timings.items())
    outside = [o.duration_s - o.body_s for o in report.files if o.body_s is not None]
    body = [o.body_s for o in report.files if o.body_s is not None]
    return (f"{label:<22} wall {wall:6.2f} s {files / wall:6.1f} files/s  coordinator CPU "
            f"{cpu / files * 1000:5.1f} ms/file (event loop thread "
            f"{timed.loop_cpu / files * 1000:4.1f})  "
            f"body {statistics.median(body) * 1000:5.1f} ms"
            f"  outside the body {statistics.median(outside) * 1000:5.1f} ms (median)  "
            f"fixed {fixed}/{files}  [{timings}]")


def _start_cluster() -> Any:
    import ray
    from ray.cluster_utils import Cluster

    from stomper_lsp.workflow.executors.ray_cluster import SUBREAPER_ENV

    os.environ[SUBREAPER_ENV] = "true"
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "resources": {"stomper_slot": SLOTS}})
    cluster.add_node(num_cpus=1, resources={"stomper_slot": SLOTS})
    ray.init(address=cluster.address, log_to_driver=False)
    restore_child_reaping()
    return cluster


async def local(work: Path, files: int) -> None:
    """Just the local row of `overhead`: no Ray cluster is started."""
    root = _repo(work, "local", files)
    print(f"\n== local: {files} files, sed agent, k=4")
    print(_line("local", await _timed(_project(root, max_parallel_files=4)), files))


async def overhead(work: Path, files: int, cluster: Any) -> None:
    root = _repo(work, "overhead", files)
    print(f"\n== overhead: {files} files, sed agent, k=4 (2 nodes x {SLOTS} slots for Ray)")
    print(_line("local", await _timed(_project(root, max_parallel_files=4)), files))
    for label in ("ray (cold: first run)", "ray (warm)"):
        timed = await _timed(
            _project(root, max_parallel_files=4, executor="ray", ray_address=cluster.address)
        )
        print(_line(label, timed, files))
        print(_breakdown(timed, files))
    print("per-file overhead through Ray = its 'outside the body' minus the local one "
          "(dispatch, argument and result transfer)")


async def throughput(work: Path, files: int, cluster: Any) -> None:
    root = _repo(work, "throughput", files)
    print(f"\n== throughput: {files} files on the 2-node cluster, sed agent, k={2 * SLOTS}")
    timed = await _timed(
        _project(root, max_parallel_files=2 * SLOTS, executor="ray", ray_address=cluster.address)
    )
    print(_line("ray", timed, files))
    print(_breakdown(timed, files))
    report = timed.report
    per_node = report.peak_concurrent_per_node
    nodes: dict[str, int] = {}
    for outcome in report.files:
        nodes[outcome.node or "?"] = nodes.get(outcome.node or "?", 0) + 1
    print(f"files per node {nodes}; peak per node {per_node}; "
          f"mean per-file duration {sum(o.duration_s for o in report.files) / files:.3f} s")


async def bundles(work: Path, files: int) -> None:
    root = _repo(work, "bundles", 0, clean=files)
    size = sum(p.stat().st_size for p in root.rglob("*.py"))
    print(f"\n== bundles: {files} files, {size / 1e6:.1f} MB of Python")
    snapshot = await create_snapshot(root, {})
    await pin_run(snapshot.shadow_dir, "bench-full", snapshot.commit)
    started = time.perf_counter()
    full = await create_bundle(snapshot, run_ref("bench-full"), since=None)
    print(f"full bundle: {len(full.data) / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")
    edits = {f"pkg/d{i // 500}/c{i}.py": _module(i) + "EDITED = True\n"
             for i in range(0, files, max(1, files // 20))}
    second = await create_snapshot(root, edits)
    await pin_run(second.shadow_dir, "bench-delta", second.commit)
    parent = await snapshot_parent(second)
    started = time.perf_counter()
    delta = await create_bundle(second, run_ref("bench-delta"), since=parent)
    print(f"delta bundle ({len(edits)} edited files): {len(delta.data) / 1e3:.1f} KB in "
          f"{time.perf_counter() - started:.3f} s")
    for run in ("bench-full", "bench-delta"):
        await unpin_run(snapshot.shadow_dir, run)


def resume(work: Path, cluster: Any) -> None:
    files = 12
    root = _repo(work, "resume", files)
    writable = work / "agent-out"  # must exist: confinement binds only existing folders
    writable.mkdir()
    announce = writable / "announce"
    agent = [sys.executable, str(FAKE), "{file}", "--announce", str(announce), "--sleep", "1",
             "--replace", "import os\\n\\n\\n", "", "--replace", "== None", "is None"]
    config = work / "stomper.toml"
    config.write_text(f'agent = "command"\nagent_command = {json.dumps(agent)}\n'
                      f'max_parallel_files = 4\ntools = ["ruff"]\n'
                      f'agent_writable_dirs = [{str(writable)!r}]\n')
    env = {**os.environ, "STOMPER_CONFIG": str(config)}
    command = [STOMPER, "fix", "--json", "--executor", "ray", "--ray-address", cluster.address]
    proc = subprocess.Popen(command, cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finished(before: float) -> set[str]:
        """Files whose agent ended before `before` (wall clock)."""
        records = [json.loads(p.read_text()) for p in announce.glob("*.json")]
        return {r["target"] for r in records if r.get("end", before) < before}

    deadline = time.monotonic() + 120
    while len(finished(time.time())) < files // 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    killed_at = time.time()
    os.killpg(proc.pid, signal.SIGKILL)
    # A file is finished once its body is done too (re-check, transfer, merge): count those
    # whose agent ended over 0.25 s before the kill.
    done_at_kill = finished(killed_at - 0.25)
    proc.wait()
    seen = {p.name for p in announce.glob("*.json")}
    resumed = subprocess.run([*command, "--resume"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=300)
    if resumed.returncode not in (0, 1):
        print(f"\n== resume: the resumed run failed ({resumed.returncode}): "
              f"{resumed.stderr[-800:]}")
        return
    report = json.loads(resumed.stdout)
    stored = {f["path"] for f in report["files"] if f["resumed"]}
    fixed = sum(1 for f in report["files"] if f["status"] == "fixed")
    rerun = {json.loads(p.read_text())["target"] for p in announce.glob("*.json")
             if p.name not in seen}
    lost = done_at_kill & rerun
    print(f"\n== resume: {files} files, k=4, coordinator SIGKILLed with {len(done_at_kill)} "
          f"files finished: stored {len(stored)}, re-run {len(rerun)}, finished work lost "
          f"{len(lost)} ({sorted(lost)}); {fixed}/{files} fixed after the resume")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--big-files", type=int, default=10000)
    parser.add_argument("--bundle-files", type=int, default=50000)
    parser.add_argument("--only", default="overhead,throughput,bundles,resume")
    args = parser.parse_args()
    only = set(args.only.split(","))
    _name_python_threads()
    with tempfile.TemporaryDirectory(prefix="stomper-bench-cluster-") as tmp:
        work = Path(tmp)
        os.environ["STOMPER_OUTCOME_DB"] = str(work / "outcomes.db")
        os.environ["STOMPER_LOG_DIR"] = str(work / "logs")
        os.environ["STOMPER_NODE_DIR"] = str(work / "nodes")
        cluster = _start_cluster() if only & {"overhead", "throughput", "resume"} else None
        try:
            if "local" in only:
                await local(work, args.files)
            if "overhead" in only:
                await overhead(work, args.files, cluster)
            if "throughput" in only:
                await throughput(work, args.big_files, cluster)
            if "bundles" in only:
                await bundles(work, args.bundle_files)
            if "resume" in only:
                resume(work, cluster)
        finally:
            if cluster is not None:
                import ray

                ray.shutdown()
                cluster.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
