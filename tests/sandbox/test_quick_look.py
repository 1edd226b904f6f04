"""A slot reset without git must leave exactly what the reset with git left, and fall back
to git whenever the watch cannot vouch for what was written (quick_look.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.sandbox import pool as pool_module
from stomper_lsp.sandbox.changes import TreeDelta, collect_delta
from stomper_lsp.sandbox.pool import Sandbox, WorktreePool
from stomper_lsp.sandbox.quick_look import restore_directly
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.sandbox.snapshot_reader import SnapshotReader
from tests.sandbox.conftest import RepoFactory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inotify is Linux's; elsewhere sandboxes walk"
)

FILES = {
    ".gitignore": "*.log\n",
    "app/keep.py": "k = 1\n",
    "app/tool.sh": "echo hi\n",
    "docs/readme.md": "hello\n",
}


def _status(sandbox: Sandbox) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored"],
        cwd=sandbox.path, capture_output=True, text=True, check=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # our looks, not the index, are tested
    ).stdout


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[Sequence[str] | None]:
    looks: list[Sequence[str] | None] = []

    async def spy(worktree: Any, only: Sequence[str] | None = None) -> TreeDelta:
        looks.append(only)
        return await collect_delta(worktree, only)

    monkeypatch.setattr(pool_module, "collect_delta", spy)
    return looks


async def test_a_plain_edit_is_found_and_put_back_without_git(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    os.chmod(repo.root / "app" / "tool.sh", 0o755)
    repo.git("add", "-A")
    repo.git("commit", "-qm", "exec")
    snapshot = await create_snapshot(repo.root)
    looks = _spy(monkeypatch)
    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            (sandbox.path / "app" / "keep.py").write_text("k = 2\n")
            (sandbox.path / "app" / "tool.sh").write_text("echo changed\n")
            (sandbox.path / "docs" / "readme.md").unlink()
            (sandbox.path / ".ruff_cache").mkdir()
            (sandbox.path / ".ruff_cache" / "x").write_text("cache\n")
            changes = await sandbox.changes()
            assert changes.modified == ["app/keep.py", "app/tool.sh"]
            assert changes.deleted == ["docs/readme.md"]
        async with pool.lease() as again:
            assert again is sandbox
            assert _status(again) == "?? .ruff_cache/x\n"  # caches stay, as with git
            assert os.access(again.path / "app" / "tool.sh", os.X_OK)
            assert (again.path / "docs" / "readme.md").read_text() == "hello\n"
            assert (await again.changes()).changed == []
        assert pool.created_slots == 1
    assert looks == []  # neither the look nor the reset started git


async def test_a_write_after_the_look_makes_the_reset_ask_git(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    looks = _spy(monkeypatch)
    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            (sandbox.path / "app" / "keep.py").write_text("k = 2\n")
            assert (await sandbox.changes()).modified == ["app/keep.py"]
            # Written after the look (a lingering process, a test command): not caches.
            (sandbox.path / "app" / "dropping.py").write_text("left behind\n")
            (sandbox.path / "docs" / "readme.md").write_text("late edit\n")
        async with pool.lease() as again:
            assert _status(again) == ""
            assert not (again.path / "app" / "dropping.py").exists()
            assert (again.path / "docs" / "readme.md").read_text() == "hello\n"
        assert pool.created_slots == 2  # git found what the look had not: a new slot
    assert len(looks) == 1 and looks[0] is not None  # git looked, at the written paths
    assert {"app/dropping.py", "docs/readme.md", "app/keep.py"} <= set(looks[0])


async def test_when_the_watch_cannot_vouch_the_reset_walks_the_tree(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    looks = _spy(monkeypatch)
    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            (sandbox.path / "app" / "keep.py").write_text("k = 2\n")
            assert (await sandbox.changes()).modified == ["app/keep.py"]
            (sandbox.path / "missed.py").write_text("the watch lost this\n")
            assert sandbox._watch is not None
            monkeypatch.setattr(sandbox._watch, "take", lambda: None)  # e.g. a queue overflow
        monkeypatch.undo()
        assert looks == [None]  # one whole-tree walk
        async with pool.lease() as again:
            assert _status(again) == ""
            assert (again.path / "app" / "keep.py").read_text() == "k = 1\n"


async def test_a_write_right_after_a_reset_is_seen_by_the_next_look(
    new_repo: RepoFactory,
) -> None:
    """The reset without git does not confirm what it restored; the next file's first look
    covers those paths, so a late write there is still found."""
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            (sandbox.path / "app" / "keep.py").write_text("k = 2\n")
            await sandbox.changes()
        (sandbox.path / "app" / "keep.py").write_text("k = 3, after the reset\n")
        async with pool.lease() as again:
            assert (await again.changes()).modified == ["app/keep.py"]


async def test_restoring_never_writes_through_a_symlinked_folder(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.py").write_text("not ours\n")
    reader = SnapshotReader(snapshot)
    try:
        async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
            subprocess.run(["rm", "-r", str(sandbox.path / "app")], check=True)
            (sandbox.path / "app").symlink_to(outside)
            (sandbox.path / "docs" / "readme.md").write_text("changed\n")
            delta = TreeDelta({"app/keep.py": "D", "docs/readme.md": "M"})
            rest = await restore_directly(sandbox.path, delta, reader)
            assert rest.indexed == {"app/keep.py": "D"}  # left to git
            assert (outside / "keep.py").read_text() == "not ours\n"
            assert (sandbox.path / "docs" / "readme.md").read_text() == "hello\n"
    finally:
        await reader.close()


async def test_the_admin_guard_sees_a_rewrite_that_keeps_size_and_mtime(
    new_repo: RepoFactory,
) -> None:
    """The guard trusts an unchanged stat instead of reading the admin files; a rewrite
    always moves the ctime, whatever it does to the mtime."""
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        guard = sandbox._guard
        await asyncio.sleep(0.15)  # older than the guard's "too recent to trust"
        assert not guard.tampered()
        assert guard._verified_stamp is not None
        assert not guard.tampered()  # from the stat alone
        head = sandbox.admin_dir / "HEAD"
        before = head.stat()
        text = head.read_text()
        head.write_text(text[:-2] + ("0" if text[-2] != "0" else "1") + "\n")
        os.utime(head, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert head.stat().st_size == before.st_size
        await asyncio.sleep(0.15)
        assert guard.tampered()


@pytest.mark.parametrize("conversion", ["a .gitattributes", "core.autocrlf=input", "a big file"])
async def test_what_git_may_convert_or_a_big_file_is_left_to_git(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch, conversion: str
) -> None:
    files = dict(FILES)
    target = "app/keep.py"
    if conversion == "a .gitattributes":
        files["app/.gitattributes"] = "*.py text eol=crlf\n"
    if conversion == "a big file":
        target = "app/big.py"
        files[target] = "# filler\n" * 500_000  # 4.5 MB
    repo = new_repo(files)
    if conversion == "core.autocrlf=input":
        repo.git("config", "core.autocrlf", "input")
    snapshot = await create_snapshot(repo.root)
    looks = _spy(monkeypatch)
    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            before = (sandbox.path / target).read_bytes()
            (sandbox.path / target).write_bytes(before[:-1] + b"2\n")
            assert (await sandbox.changes()).modified == [target]
        async with pool.lease() as again:
            assert again is sandbox  # restored by git, and clean
            assert (again.path / target).read_bytes() == before
            assert _status(again) == ""
    assert looks and all(only is not None for only in looks)  # git looked, at the paths
