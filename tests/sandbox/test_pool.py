from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.sandbox import pool as pool_module
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.pool import Sandbox, WorktreePool
from stomper_lsp.sandbox.snapshot import Snapshot, create_snapshot
from tests.sandbox.conftest import (
    Repo,
    RepoFactory,
    shadow_git,
    shadow_worktrees,
    stomper_refs,
)

FILES = {
    ".gitignore": ".ruff_cache/\n*.log\n",
    "app/main ü.py": "x = 1\n",
    "app/keep.py": "k = 1\n",
    "docs/readme.md": "hello\n",
}


async def snapshot_of(repo: Repo, project: str = "") -> Snapshot:
    return await create_snapshot(repo.root / project if project else repo.root)


def assert_no_sandbox_left(repo: Repo, pool: WorktreePool) -> None:
    assert pool.run_dir is not None
    assert not pool.run_dir.exists()
    assert repo.worktrees() == [str(repo.root)]
    assert not (repo.root / ".git" / "worktrees").exists()
    shadow = pool.snapshot.shadow_dir
    assert shadow_worktrees(shadow) == []
    assert not list((shadow / "worktrees").glob("*"))
    assert stomper_refs(shadow) == []  # the run's pin is gone


async def test_a_lease_is_a_worktree_of_the_snapshot_outside_the_workspace(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root / "app", {"main ü.py": "x = 2  # unsaved\n"})

    async with WorktreePool(snapshot, 2, run_id="run one") as pool:
        async with pool.lease() as sandbox:
            assert sandbox.project_dir == sandbox.path / "app"
            assert (sandbox.project_dir / "main ü.py").read_text() == "x = 2  # unsaved\n"
            assert (sandbox.path / "docs" / "readme.md").read_text() == "hello\n"
            assert sandbox.path.parent == pool.run_dir
            assert pool.run_dir.parent.parent == sandbox_dir.resolve()
            assert pool.run_dir.name == "run one"
            assert not sandbox.path.is_relative_to(repo.root)
            owner = json.loads((pool.run_dir / "owner.json").read_text())
            assert owner["pid"] == os.getpid()
            head = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=sandbox.path, capture_output=True, text=True
            ).stdout.strip()
            assert head == snapshot.commit
            assert await sandbox.changes() == await sandbox.changes()
            assert (await sandbox.changes()).changed == []
            assert await sandbox.read_text("main ü.py") == "x = 2  # unsaved\n"
            assert await sandbox.read_text("missing.py") is None
        assert shadow_worktrees(snapshot.shadow_dir) == [str(sandbox.path)]
        assert repo.worktrees() == [str(repo.root)]  # nothing registered in the user's repo
    assert_no_sandbox_left(repo, pool)


async def test_the_next_lease_waits_until_a_slot_is_released(new_repo: RepoFactory) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)
    entered: list[int] = []
    release = {k: asyncio.Event() for k in range(3)}

    async with WorktreePool(snapshot, 2) as pool:

        async def hold(k: int) -> Path:
            async with pool.lease() as sandbox:
                entered.append(k)
                await release[k].wait()
                return sandbox.path

        first = asyncio.create_task(hold(0))
        second = asyncio.create_task(hold(1))
        while len(entered) < 2:
            await asyncio.sleep(0.01)
        third = asyncio.create_task(hold(2))
        await asyncio.sleep(0.3)
        assert entered == [0, 1]  # both slots busy: the third waits
        release[1].set()
        second_path = await second
        await asyncio.wait_for(_until(lambda: 2 in entered), 10)
        release[0].set()
        release[2].set()
        first_path, third_path = await first, await third
        assert third_path == second_path  # it got the slot the second one released
        assert first_path != second_path
        assert pool.created_slots == 2
    assert_no_sandbox_left(repo, pool)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_release_restores_only_what_changed_and_reuses_the_slot(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)

    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            first_path = sandbox.path
            (sandbox.path / "app" / "main ü.py").write_text("x = 99\n")
            (sandbox.path / "app" / "keep.py").unlink()
            (sandbox.path / "app" / "new pkg ü").mkdir()
            (sandbox.path / "app" / "new pkg ü" / "mod.py").write_text("new\n")
            (sandbox.path / "docs" / "readme.md").chmod(0o755)
            subprocess.run(["git", "add", "-A"], cwd=sandbox.path, check=True)
            (sandbox.path / "untracked.py").write_text("u\n")
        async with pool.lease() as sandbox:
            assert sandbox.path == first_path
            assert (sandbox.path / "app" / "main ü.py").read_text() == "x = 1\n"
            assert (sandbox.path / "app" / "keep.py").read_text() == "k = 1\n"
            assert not (sandbox.path / "app" / "new pkg ü").exists()
            assert not (sandbox.path / "untracked.py").exists()
            assert not os.access(sandbox.path / "docs" / "readme.md", os.X_OK)
            assert (await sandbox.changes()).changed == []
            status = subprocess.run(
                ["git", "status", "--porcelain"], cwd=sandbox.path, capture_output=True,
                text=True, check=True,
            ).stdout
            assert status == ""
        assert pool.created_slots == 1
    assert_no_sandbox_left(repo, pool)


async def test_changes_reports_edits_inside_and_outside_the_project(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo, "app")

    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        (sandbox.project_dir / "main ü.py").write_text("x = 2\n")
        (sandbox.project_dir / "keep.py").unlink()
        (sandbox.project_dir / "sub dir").mkdir()
        (sandbox.project_dir / "sub dir" / "added ü.py").write_text("a\n")
        (sandbox.project_dir / ".ruff_cache").mkdir()
        (sandbox.project_dir / ".ruff_cache" / "cache").write_text("ignored by git\n")
        (sandbox.project_dir / "__pycache__").mkdir()
        (sandbox.project_dir / "__pycache__" / "m.pyc").write_bytes(b"\0")
        (sandbox.path / "docs" / "readme.md").write_text("changed outside\n")
        (sandbox.path / "top.py").write_text("new outside\n")

        changes = await sandbox.changes()

    assert changes.modified == ["main ü.py"]
    assert changes.added == ["sub dir/added ü.py"]
    assert changes.deleted == ["keep.py"]
    assert changes.outside_project == ["docs/readme.md", "top.py"]
    assert changes.changed == ["keep.py", "main ü.py", "sub dir/added ü.py"]
    assert changes.touched_git is False


@pytest.mark.parametrize(
    "tamper",
    [
        "rewrite the .git file",
        "write the worktree config",
        "commit in the sandbox",
        "create a nested repository",
    ],
)
async def test_writes_into_git_are_detected_and_the_slot_is_rebuilt(
    new_repo: RepoFactory, tamper: str
) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)
    user_before = repo.state()

    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            _tamper(sandbox, tamper, repo)
            changes = await sandbox.changes()
            assert changes.touched_git is True
        async with pool.lease() as sandbox:
            assert (await sandbox.changes()).touched_git is False
            assert (await sandbox.changes()).changed == []
            assert (sandbox.project_dir / "app" / "main ü.py").read_text() == "x = 1\n"
        if tamper == "create a nested repository":
            assert pool.created_slots == 1  # a plain reset removes the nested repo
        else:
            assert pool.created_slots == 2  # the tampered slot was thrown away
    assert_no_sandbox_left(repo, pool)
    assert repo.state() == user_before


def _tamper(sandbox: Sandbox, how: str, repo: Repo) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=agent", "-c", "user.email=a@b", *args],
            cwd=sandbox.path, check=True, capture_output=True,
        )

    if how == "rewrite the .git file":
        (sandbox.path / ".git").write_text(f"gitdir: {repo.root / '.git'}\n")
    elif how == "write the worktree config":
        admin = Path((sandbox.path / ".git").read_text().removeprefix("gitdir:").strip())
        (admin / "config.worktree").write_text("[core]\n\tfsmonitor = evil\n")
    elif how == "commit in the sandbox":
        (sandbox.path / "app" / "main ü.py").write_text("x = 5\n")
        git("commit", "-qam", "agent commit")
    else:
        nested = sandbox.path / "app" / "vendored"
        nested.mkdir()
        (nested / "lib.py").write_text("v\n")
        subprocess.run(["git", "init", "-q"], cwd=nested, check=True)


async def test_read_text_does_not_follow_symlinks_out_of_the_sandbox(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = new_repo(FILES)
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    snapshot = await snapshot_of(repo)

    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        (sandbox.path / "leak.py").symlink_to(secret)
        (sandbox.path / "linked dir").symlink_to(tmp_path, target_is_directory=True)
        assert await sandbox.read_text("leak.py") is None
        assert await sandbox.read_text("linked dir/secret.txt") is None
        assert await sandbox.read_text("app/keep.py") == "k = 1\n"
    assert secret.read_text() == "private\n"


async def test_cleanup_after_an_exception_inside_the_pool(new_repo: RepoFactory) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)
    pool = WorktreePool(snapshot, 3)

    with pytest.raises(RuntimeError, match="agent exploded"):
        async with pool:

            async def work() -> None:
                async with pool.lease() as sandbox:
                    (sandbox.path / "scratch.py").write_text("half-written\n")
                    await asyncio.sleep(0)
                    raise RuntimeError("agent exploded")

            await asyncio.gather(work(), work(), work())

    assert_no_sandbox_left(repo, pool)
    with pytest.raises(SandboxError, match="closed"):
        async with pool.lease():
            pass


async def test_cleanup_when_the_run_is_cancelled(new_repo: RepoFactory) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)
    pool = WorktreePool(snapshot, 2)
    inside = asyncio.Event()

    async def run() -> None:
        async with pool:

            async def work() -> None:
                async with pool.lease() as sandbox:
                    (sandbox.path / "app" / "main ü.py").write_text("editing\n")
                    inside.set()
                    await asyncio.sleep(3600)

            await asyncio.gather(work(), work(), work())  # the third waits for a slot

    task = asyncio.create_task(run())
    await asyncio.wait_for(inside.wait(), 30)
    await asyncio.sleep(0.05)  # let the second lease's worktree creation start
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert_no_sandbox_left(repo, pool)


async def test_cleanup_survives_a_second_cancellation_during_cleanup(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)
    pool = WorktreePool(snapshot, 2)
    inside = asyncio.Event()
    cleaning = asyncio.Event()
    real_remove = pool_module.remove_worktrees

    async def slow_remove(*args: Any) -> list[Path]:
        cleaning.set()
        await asyncio.sleep(0.2)
        return await real_remove(*args)

    monkeypatch.setattr(pool_module, "remove_worktrees", slow_remove)

    async def run() -> None:
        async with pool, pool.lease():
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    await asyncio.wait_for(inside.wait(), 30)
    task.cancel()
    await asyncio.wait_for(cleaning.wait(), 30)
    task.cancel()  # impatient caller (Ctrl-C twice)
    with pytest.raises(asyncio.CancelledError):
        await task

    assert_no_sandbox_left(repo, pool)


async def test_eight_slots_created_concurrently_keep_git_metadata_sound(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({f"pkg/m{i}.py": f"v = {i}\n" for i in range(40)})
    snapshot = await snapshot_of(repo)
    all_in = asyncio.Event()
    paths: list[Path] = []

    async with WorktreePool(snapshot, 8) as pool:

        async def hold() -> None:
            async with pool.lease() as sandbox:
                paths.append(sandbox.path)
                if len(paths) == 8:
                    all_in.set()
                await all_in.wait()
                assert (await sandbox.changes()).changed == []

        await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(8))), 60)
        assert len(set(paths)) == 8
        assert pool.created_slots == 8
        shadow = snapshot.shadow_dir
        assert sorted(shadow_worktrees(shadow)) == sorted(str(p) for p in paths)
        assert len(list((shadow / "worktrees").iterdir())) == 8
        check = shadow_git(shadow, "worktree", "prune", "--dry-run", "--verbose")
        assert check == ""  # nothing stale or broken
        assert repo.worktrees() == [str(repo.root)]
    assert_no_sandbox_left(repo, pool)


async def test_a_sandbox_folder_inside_the_repository_is_refused(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo(FILES)
    snapshot = await snapshot_of(repo)

    with pytest.raises(SandboxError, match="inside the repository"):
        async with WorktreePool(snapshot, 1, base_dir=repo.root / ".stomper"):
            pass
    assert not (repo.root / ".stomper").exists()


async def test_prewarm_creates_idle_slots_in_the_background(new_repo: RepoFactory) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    async with WorktreePool(snapshot, 3) as pool:
        async with pool.lease():
            pool.prewarm(5)  # more than idle: only the two idle slots
            async with pool.lease() as second:  # waits for a pre-created slot, no new one
                assert second.path.exists()
            await asyncio.sleep(0)
        for _ in range(200):
            if pool.created_slots == 3:
                break
            await asyncio.sleep(0.02)
        assert pool.created_slots == 3
