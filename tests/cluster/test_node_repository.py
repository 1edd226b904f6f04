"""A cluster node's copy of the repository: fed by bundles (delta when it has HEAD, full
once otherwise), and healed after a worker was killed inside `git worktree add`."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from stomper_lsp.sandbox.bundles import create_bundle, snapshot_parent
from stomper_lsp.sandbox.node_repository import NodeRepository
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.shadow_refs import pin_run, run_ref, unpin_run
from stomper_lsp.sandbox.snapshot import Snapshot, create_snapshot
from tests.workflow.repos import git


async def _pinned_snapshot(root: Path, overlays: dict[str, str], run: str) -> Snapshot:
    snapshot = await create_snapshot(root, overlays)
    await pin_run(snapshot.shadow_dir, run, snapshot.commit)
    return snapshot


async def _config(snapshot: Snapshot) -> bytes:
    return (snapshot.shadow_dir / "config").read_bytes()


async def test_full_bundle_once_then_deltas(make_repo: Any, tmp_path: Path) -> None:
    files = {
        f"pkg/m{i}.py": "".join(f"x{j} = {hashlib.sha256(f'{i}.{j}'.encode()).hexdigest()!r}\n"
                                for j in range(20))
        for i in range(200)
    }
    root = make_repo(files)
    node = NodeRepository(tmp_path / "node", "k1")
    first = await _pinned_snapshot(root, {"pkg/m1.py": "x = 'unsaved'\n"}, "run1")
    await node.open("sha1", await _config(first))
    parent = await snapshot_parent(first)
    assert parent == git(root, "rev-parse", "HEAD").strip()
    assert not await node.has_commit(parent)  # a new node: the delta cannot apply
    full = await create_bundle(first, run_ref("run1"), since=None)
    await node.fetch_bundle(full.data, full.ref, first.commit)
    assert await node.has_commit(first.commit) and await node.has_commit(parent)
    # The next run's snapshot (other unsaved text, same HEAD): only what differs travels.
    second = await _pinned_snapshot(root, {"pkg/m2.py": "x = 'other'\n"}, "run2")
    delta = await create_bundle(second, run_ref("run2"), since=parent)
    assert len(delta.data) * 20 < len(full.data), (len(delta.data), len(full.data))
    assert not await node.has_commit(second.commit)
    await node.fetch_bundle(delta.data, delta.ref, second.commit)
    assert await node.has_commit(second.commit)
    # The node's worktree holds exactly the snapshot, unsaved text included.
    pool = WorktreePool(node.snapshot(second.commit, ""), 1, run_id="w1")
    async with pool, pool.lease() as sandbox:
        assert (sandbox.project_dir / "pkg/m2.py").read_text() == "x = 'other'\n"
        assert (sandbox.project_dir / "pkg/m1.py").read_text() == files["pkg/m1.py"]
    for run in ("run1", "run2"):
        await unpin_run(first.shadow_dir, run)


def _killed_worktree_add(shadow: Path, commit: str, target: Path) -> bool:
    """SIGKILL a real `git worktree add` while it checks out; True once git left the
    worktree registered as `locked: initializing`."""
    for delay in (0.02, 0.04, 0.08, 0.15, 0.3):
        proc = subprocess.Popen(
            ["git", "--git-dir", str(shadow), "worktree", "add", "--detach", str(target), commit],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # with its checkout child, as Ray's subreaper does
        proc.wait()
        locks = list((shadow / "worktrees").glob("*/locked"))
        if any(lock.read_text().strip() == "initializing" for lock in locks):
            return True
        subprocess.run(["git", "--git-dir", str(shadow), "worktree", "remove", "--force",
                        "--force", str(target)], capture_output=True)
        subprocess.run(["rm", "-rf", str(target)], check=True)
    return False


async def test_heal_clears_a_worktree_add_killed_midway(make_repo: Any, tmp_path: Path) -> None:
    root = make_repo({f"m{i}.py": f"x = {i}\n" for i in range(3000)})
    node = NodeRepository(tmp_path / "node", "k2")
    snapshot = await _pinned_snapshot(root, {}, "run3")
    await node.open("sha1", await _config(snapshot))
    bundle = await create_bundle(snapshot, run_ref("run3"), since=None)
    await node.fetch_bundle(bundle.data, bundle.ref, snapshot.commit)
    victim = node.repo_dir / "deadrun" / "deadrun-slot0"
    assert _killed_worktree_add(node.shadow, snapshot.commit, victim), "git was never caught"
    listing = subprocess.run(["git", "--git-dir", str(node.shadow), "worktree", "list"],
                             capture_output=True, text=True, check=True).stdout
    assert "locked" in listing
    healed = await node.heal()
    assert str(victim) in healed
    listing = subprocess.run(["git", "--git-dir", str(node.shadow), "worktree", "list"],
                             capture_output=True, text=True, check=True).stdout
    assert "locked" not in listing and str(victim) not in listing
    assert not victim.exists() and not list((node.shadow / "worktrees").glob("*"))
    # The same path can be used again, and pools work.
    subprocess.run(["git", "--git-dir", str(node.shadow), "worktree", "add", "--detach",
                    str(victim), snapshot.commit], capture_output=True, check=True)
    pool = WorktreePool(node.snapshot(snapshot.commit, ""), 1, run_id="w2")
    async with pool, pool.lease() as sandbox:
        assert (sandbox.project_dir / "m7.py").read_text() == "x = 7\n"
    await unpin_run(snapshot.shadow_dir, "run3")
