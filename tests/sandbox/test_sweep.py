from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from stomper_lsp.sandbox.layout import (
    OwnerRecord,
    owner_alive,
    remove_tree,
    repo_sandbox_dir,
)
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.shadow_refs import PRUNE_AT_LOOSE
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.sandbox.sweep import sweep_stale_sandboxes
from tests.sandbox.conftest import (
    Repo,
    RepoFactory,
    shadow_git,
    shadow_worktrees,
    stomper_refs,
)


@pytest.fixture(autouse=True)
def private_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep also removes dead runs' `$TMPDIR/stomper-run-*` folders, whatever their
    repository: with the shared temp folder, what earlier tests' killed runs left (a
    SIGKILLed Ray worker's scratch) would show up in these tests' exact lists."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))


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


def dead_owner(repo: Repo) -> OwnerRecord:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(30)
    return dataclasses.replace(OwnerRecord.for_this_process(repo.root), pid=finished.pid)


def legacy_sandbox(repo: Repo, run_dir: Path, owner: OwnerRecord) -> Path:
    """What Stomper before the shadow repository left: a run folder with its owner file
    and a worktree registered in the user's own repository."""
    run_dir.mkdir(parents=True)
    (run_dir / "owner.json").write_text(json.dumps(dataclasses.asdict(owner)))
    worktree = run_dir / f"{run_dir.name}-slot0"
    repo.git("worktree", "add", "-q", "--detach", "--no-checkout", str(worktree), "HEAD")
    return worktree


async def test_sweep_removes_what_a_killed_run_left_and_spares_live_runs(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    user_before = repo.state()
    dead_run, dead_worktrees = crash_a_run(repo, sandbox_dir)
    shadow = repo.shadow(sandbox_dir)
    assert sorted(shadow_worktrees(shadow)) == sorted(str(w) for w in dead_worktrees)
    assert len(stomper_refs(shadow)) == 1  # the dead run's pin
    assert repo.state() == user_before  # the killed run left nothing in the user's repo
    snapshot = await create_snapshot(repo.root)

    live_pool = WorktreePool(snapshot, 1, base_dir=sandbox_dir)
    async with live_pool, live_pool.lease() as live:
        removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

        assert removed == [dead_run]
        assert not dead_run.exists()
        assert live.path.is_dir() and live_pool.run_dir is not None
        assert (live_pool.run_dir / "owner.json").is_file()
        assert shadow_worktrees(shadow) == [str(live.path)]
        assert stomper_refs(shadow) == [f"refs/stomper/{live_pool.run_id}"]
        assert await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir) == []
    assert shadow_worktrees(shadow) == []
    assert stomper_refs(shadow) == []
    assert repo.state() == user_before


async def test_sweep_unregisters_worktrees_whose_run_folder_was_wiped(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    run_dir, worktrees = crash_a_run(repo, sandbox_dir)
    remove_tree(run_dir)  # a temp cleaner took the run folder, not the shadow
    shadow = repo.shadow(sandbox_dir)

    removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

    assert removed == sorted(worktrees)
    assert shadow_worktrees(shadow) == []
    assert not list((shadow / "worktrees").glob("*"))
    assert stomper_refs(shadow) == []


async def test_a_wiped_sandbox_folder_is_rebuilt_by_the_next_run(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    crash_a_run(repo, sandbox_dir)
    remove_tree(sandbox_dir)  # the temp folder was cleared at reboot, shadow included

    assert await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir) == []
    snapshot = await create_snapshot(repo.root, {"a.py": "a = 2\n"})
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        assert (sandbox.path / "a.py").read_text() == "a = 2\n"
    assert repo.worktrees() == [str(repo.root)]


async def test_sweep_removes_dead_sandboxes_older_versions_left_in_the_users_repository(
    new_repo: RepoFactory, sandbox_dir: Path, tmp_path: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    base = sandbox_dir.resolve()
    repo_dir = repo_sandbox_dir(base, repo.root.resolve())
    dead = legacy_sandbox(repo, repo_dir / "old run", dead_owner(repo))
    # Another worktree of the same repository had its own sandbox folder.
    elsewhere = legacy_sandbox(repo, base / "0123456789abcdef" / "other", dead_owner(repo))
    alive = legacy_sandbox(repo, repo_dir / "live run", OwnerRecord.for_this_process(repo.root))
    users_own = tmp_path / "users own worktree"
    repo.git("worktree", "add", "-q", "-b", "topic", str(users_own))
    not_ours = legacy_sandbox(repo, base / "not a hash" / "run", dead_owner(repo))

    removed = await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

    assert removed == sorted([dead.parent, elsewhere.parent])
    assert not dead.parent.exists() and not elsewhere.parent.exists()
    assert sorted(repo.worktrees()) == sorted(
        str(p) for p in (repo.root, alive, users_own, not_ours)
    )
    assert alive.is_dir() and users_own.is_dir()


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
    assert pool.snapshot.shadow_dir.is_dir()  # the shadow is no run folder
    assert stomper_refs(pool.snapshot.shadow_dir) == []


async def test_only_an_idle_sweep_drops_agents_refs_and_old_unreferenced_objects(
    new_repo: RepoFactory, sandbox_dir: Path, tmp_path: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    old = await create_snapshot(repo.root, {"a.py": "a = 2  # an old run's snapshot\n"})
    shadow = old.shadow_dir
    many = tmp_path / "old blobs"  # enough loose objects for a prune to be worth it
    many.mkdir()
    for k in range(PRUNE_AT_LOOSE):
        (many / f"{k}.py").write_text(f"old = {k}\n")
    blobs = subprocess.run(
        ["git", "--git-dir", str(shadow), "hash-object", "-w", "--stdin-paths"],
        input="".join(f"{p}\n" for p in many.iterdir()), capture_output=True, text=True,
        check=True,
    ).stdout.split()
    two_hours_ago = time.time() - 2 * 3600
    for loose in (shadow / "objects").glob("??/*"):
        os.utime(loose, (two_hours_ago, two_hours_ago))
    snapshot = await create_snapshot(repo.root, {"a.py": "a = 3  # this run\n"})

    def exists(commit: str) -> bool:
        return subprocess.run(
            ["git", "--git-dir", str(shadow), "cat-file", "-e", commit], capture_output=True
        ).returncode == 0

    async with WorktreePool(snapshot, 1, base_dir=sandbox_dir) as pool, pool.lease() as box:
        subprocess.run(["git", "branch", "agent-branch"], cwd=box.path, check=True)
        await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)
        assert exists(old.commit)  # a live run may still need anything
        assert "refs/heads/agent-branch" in shadow_git(shadow, "for-each-ref")

    await sweep_stale_sandboxes(repo.root, base_dir=sandbox_dir)

    assert shadow_git(shadow, "for-each-ref") == ""
    assert not exists(old.commit)
    assert not any(exists(blob) for blob in blobs)
    assert exists(snapshot.commit)  # younger than the grace period: a run may be starting


def test_owner_liveness_sees_dead_and_recycled_pids(tmp_path: Path) -> None:
    me = OwnerRecord.for_this_process(tmp_path)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(30)

    assert owner_alive(me)
    assert not owner_alive(dataclasses.replace(me, pid=finished.pid))
    if me.start_ticks is not None:  # Linux: a recycled pid is not the owner
        assert not owner_alive(dataclasses.replace(me, start_ticks=me.start_ticks + 1))
    assert owner_alive(dataclasses.replace(me, pid=finished.pid, host="another machine"))


async def test_folders_of_repositories_that_are_gone_are_swept(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    gone, recent, kept, current = (
        new_repo({"a.py": "a = 1\n"}, name=name) for name in ("gone", "recent", "kept", "current")
    )
    for repo in (gone, recent, kept, current):
        await create_snapshot(repo.root, base_dir=sandbox_dir)
    folders = {repo.root.name: repo.shadow(sandbox_dir).parent for repo in (gone, recent, kept)}
    hour_ago = time.time() - 3600
    for name in ("gone", "kept"):
        os.utime(folders[name], (hour_ago, hour_ago))
    remove_tree(gone.root)
    remove_tree(recent.root)  # gone too, but its folder was used minutes ago: left alone

    removed = await sweep_stale_sandboxes(current.root, base_dir=sandbox_dir)

    assert removed == [folders["gone"]]
    assert not folders["gone"].exists()
    assert folders["recent"].is_dir() and folders["kept"].is_dir()
    assert current.shadow(sandbox_dir).is_dir()
