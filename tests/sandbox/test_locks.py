from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.process import ProcessResult
from stomper_lsp.sandbox import worktrees as worktrees_module
from stomper_lsp.sandbox.locks import worktree_admin_lock
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.sandbox.sweep import sweep_stale_sandboxes
from tests.sandbox.conftest import RepoFactory

_HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


async def test_worktree_metadata_changes_never_overlap(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo({f"m{i}.py": f"v = {i}\n" for i in range(20)})
    snapshot = await create_snapshot(repo.root)
    active = 0
    peak = 0
    admin_commands: list[str] = []
    real_run_git_dir = worktrees_module.run_git_dir

    async def spying(git_dir: Path, args: Sequence[str], **kwargs: Any) -> ProcessResult:
        nonlocal active, peak
        is_admin = args[:1] == ["worktree"] and args[1] in ("add", "remove", "prune")
        if not is_admin:
            return await real_run_git_dir(git_dir, args, **kwargs)
        assert git_dir == snapshot.shadow_dir  # never the user's repository
        admin_commands.append(args[1])
        active += 1
        peak = max(peak, active)
        try:
            return await real_run_git_dir(git_dir, args, **kwargs)
        finally:
            active -= 1

    monkeypatch.setattr(worktrees_module, "run_git_dir", spying)
    pools = [WorktreePool(snapshot, 4) for _ in range(2)]  # two runs on one repository

    async def use(pool: WorktreePool) -> None:
        async with pool:

            async def hold() -> None:
                async with pool.lease():
                    await asyncio.sleep(0.05)

            await asyncio.gather(*(hold() for _ in range(4)))

    await asyncio.gather(*(use(pool) for pool in pools), sweep_stale_sandboxes(repo.root))

    assert admin_commands.count("add") == 8
    assert admin_commands.count("remove") == 8
    assert peak == 1
    assert repo.worktrees() == [str(repo.root)]


async def test_another_process_holding_the_lock_makes_us_wait(tmp_path: Path) -> None:
    lock_file = tmp_path / "locks" / "repo.lock"
    lock_file.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(lock_file), "0.6"], stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        async with worktree_admin_lock(tmp_path / "repo" / ".git", lock_file):
            waited = time.monotonic() - started
        assert waited > 0.3
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
