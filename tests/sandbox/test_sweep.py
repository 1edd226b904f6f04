from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

from stomper_lsp.sandbox.layout import OwnerRecord, owner_alive, remove_tree
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.sandbox.sweep import sweep_stale_sandboxes
from tests.sandbox.conftest import Repo, RepoFactory

# A run that is killed while it holds two sandboxes with edits in them.
_CRASHING_RUN = """
import asyncio, sys
from pathlib import Path
from stomper_lsp.sandbox import WorktreePool, create_snapshot

async def main() -> None:
    snapshot = await create_snapshot(Path(sys.argv[1]))
    pool = WorktreePool(snapshot, 2, base_dir=Path(sys.argv[2]))
    await pool.open()
    for k in range(2):
        sandbox = await pool.lease().__aenter__()
        (sandbox.project_dir / f"edit {k}.py").write_text("half done\\n")
        print(sandbox.path, flush=True)
    print(pool.run_dir, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def crash_a_run(repo: Repo, base: Path) -> tuple[Path, list[Path]]:
    """Start a run in a child process, SIGKILL it mid-run; (its run dir, its worktrees)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_RUN, str(repo.root), str(base)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline().strip() for _ in range(3)]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()
    *worktrees, run_dir = (Path(line) for line in lines)
    assert run_dir.is_dir() and all(w.is_dir() for w in worktrees), lines
    return run_dir, worktrees


async def test_sweep_removes_what_a_killed_run_left_and_spares_live_runs(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    dead_run, dead_worktrees = crash_a_run(repo, sandbox_dir)
    assert len(repo.worktrees()) == 3
    snapshot = await create_snapshot(repo.root)

    live_pool = WorktreePool(snapshot, 1, base_dir=sandbox_dir)
    async with live_pool, live_pool.lease() as live:
        removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

        assert removed == [dead_run]
        assert not dead_run.exists()
        assert live.path.is_dir() and live_pool.run_dir is not None
        assert (live_pool.run_dir / "owner.json").is_file()
        assert repo.worktrees() == [str(repo.root), str(live.path)]
        assert await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir) == []
    assert repo.worktrees() == [str(repo.root)]
    assert not any(str(w) in repo.git("worktree", "list") for w in dead_worktrees)


async def test_sweep_unregisters_worktrees_whose_folders_were_wiped(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    _, worktrees = crash_a_run(repo, sandbox_dir)
    remove_tree(sandbox_dir)  # the temp folder was cleared at reboot

    removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

    assert removed == sorted(worktrees)
    assert repo.worktrees() == [str(repo.root)]
    assert not list((repo.root / ".git" / "worktrees").glob("*"))


async def test_run_folders_without_an_owner_are_swept(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    pool = WorktreePool(await create_snapshot(repo.root), 1, base_dir=sandbox_dir)
    await pool.open()
    assert pool.run_dir is not None
    (pool.run_dir / "owner.json").unlink()
    foreign = sandbox_dir / "not this repo's hash" / "run"
    foreign.mkdir(parents=True)

    removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

    assert removed == [pool.run_dir]
    assert foreign.is_dir()  # other repositories' folders are not ours to judge


def test_owner_liveness_sees_dead_and_recycled_pids(tmp_path: Path) -> None:
    me = OwnerRecord.for_this_process(tmp_path)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(30)

    assert owner_alive(me)
    assert not owner_alive(dataclasses.replace(me, pid=finished.pid))
    if me.start_ticks is not None:  # Linux: a recycled pid is not the owner
        assert not owner_alive(dataclasses.replace(me, start_ticks=me.start_ticks + 1))
    assert owner_alive(dataclasses.replace(me, pid=finished.pid, host="another machine"))
