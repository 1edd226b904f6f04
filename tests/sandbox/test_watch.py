"""The inotify watch must see every change the whole-tree walk sees: same answers, less work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.sandbox import pool as pool_module
from stomper_lsp.sandbox.changes import SandboxChanges, TreeDelta, collect_delta
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import create_snapshot
from stomper_lsp.sandbox.watch import MAX_PATHS, TreeWatch
from tests.sandbox.conftest import RepoFactory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inotify is Linux's; elsewhere sandboxes walk"
)

FILES = {
    ".gitignore": ".ruff_cache/\n*.log\n",
    "app/keep.py": "k = 1\n",
    "app/deep/er/mod.py": "m = 1\n",
    "docs/readme.md": "hello\n",
    "run.sh": "echo hi\n",
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=agent", "-c", "user.email=a@b", *args],
        cwd=root, check=True, capture_output=True,
    )


def _nested_folders(root: Path) -> None:
    (root / "new" / "a" / "b").mkdir(parents=True)
    (root / "new" / "a" / "b" / "c.py").write_text("c\n")
    (root / "new" / "top.py").write_text("t\n")


def _rename_folder(root: Path) -> None:
    (root / "app" / "deep").rename(root / "moved")
    (root / "moved" / "er" / "mod.py").write_text("m = 2\n")


def _folder_out_and_back(root: Path) -> None:
    outside = root.parent / f"{root.name}-outside"
    (root / "app").rename(outside)
    (outside / "keep.py").write_text("k = 3\n")  # written while away
    outside.rename(root / "app")


def _file_becomes_folder(root: Path) -> None:
    (root / "app" / "keep.py").unlink()
    (root / "app" / "keep.py").mkdir()
    (root / "app" / "keep.py" / "inner.py").write_text("i\n")


def _git_rm_cached(root: Path) -> None:
    _git(root, "rm", "-q", "--cached", "app/keep.py")  # only the index changes


def _git_add(root: Path) -> None:
    (root / "staged.py").write_text("s\n")
    _git(root, "add", "staged.py")


def _noise(root: Path) -> None:
    (root / ".ruff_cache").mkdir()
    (root / ".ruff_cache" / "x").write_text("ignored\n")
    (root / "app" / "__pycache__").mkdir()
    (root / "app" / "__pycache__" / "keep.pyc").write_bytes(b"\0")
    (root / "trace.log").write_text("ignored\n")


ELSEWHERE: list[Path] = []


def _replace_by_link(path: Path) -> None:
    path.unlink()
    path.symlink_to("deep/er/mod.py")


def _folder_for_link(root: Path) -> None:
    """Restoring `app/keep.py` must not follow `app` out of the sandbox."""
    outside = Path(tempfile.mkdtemp(prefix="stomper-elsewhere-"))
    ELSEWHERE.append(outside)
    (outside / "keep.py").write_text("outside, must stay\n")
    shutil.rmtree(root / "app")
    (root / "app").symlink_to(outside)


def _same_bytes(root: Path) -> None:
    (root / "app" / "keep.py").write_text("k = 1\n")


SCENARIOS: dict[str, Callable[[Path], object]] = {
    "edit a file": lambda root: (root / "app" / "keep.py").write_text("k = 2\n"),
    "rewrite a file with the same bytes": _same_bytes,
    "new nested folders written at once": _nested_folders,
    "delete a folder": lambda root: shutil.rmtree(root / "app"),
    "rename a folder and edit inside": _rename_folder,
    "move a folder out, edit it, move it back": _folder_out_and_back,
    "a file becomes a folder": _file_becomes_folder,
    "make a file executable": lambda root: (root / "run.sh").chmod(0o755),
    "add a symlink": lambda root: (root / "link.py").symlink_to("app/keep.py"),
    "a file replaced by a symlink": lambda root: _replace_by_link(root / "app" / "keep.py"),
    "a folder swapped for a symlink out of the sandbox": _folder_for_link,
    "git add a new file": _git_add,
    "git rm --cached": _git_rm_cached,
    "ignored files and caches": _noise,
    "a nested repository": lambda root: _git(root / "app", "init", "-q", "vendored"),
    "nothing": lambda root: None,
}


# Only files written in place (or nothing): no new path git might ignore, no folder, no mode.
DECIDED_WITHOUT_GIT = {"edit a file", "rewrite a file with the same bytes", "nothing"}


async def _observe(
    repo_root: Path, change: Callable[[Path], object], monkeypatch: pytest.MonkeyPatch
) -> tuple[SandboxChanges, bool, str, list[Sequence[str] | None]]:
    """(changes, reset clean, git status after the reset, `only` of every status run)."""
    snapshot = await create_snapshot(repo_root)
    looks: list[Sequence[str] | None] = []

    async def spy(worktree: Any, only: Sequence[str] | None = None) -> TreeDelta:
        looks.append(only)
        return await collect_delta(worktree, only)

    monkeypatch.setattr(pool_module, "collect_delta", spy)
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        looks.clear()
        change(sandbox.path)
        changes = await sandbox.changes()
        first_look = list(looks)
        clean = await sandbox.reset()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=sandbox.path, capture_output=True, text=True, check=True,
        ).stdout
    return changes, clean, status, first_look


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_the_watch_sees_what_the_walk_sees(
    new_repo: RepoFactory, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    (repo.root / "run.sh").chmod(0o644)

    watched = await _observe(repo.root, SCENARIOS[scenario], monkeypatch)
    monkeypatch.setattr(TreeWatch, "open", classmethod(lambda cls, root: None))
    walked = await _observe(repo.root, SCENARIOS[scenario], monkeypatch)

    assert watched[:3] == walked[:3]
    assert walked[1] is True  # the reset made the sandbox clean (caches aside)
    assert walked[3] == [None]  # without a watch: one whole-tree walk
    if scenario.startswith("git "):
        assert watched[3] == [None]  # the index changed under the watch: it defers to git
    elif scenario in DECIDED_WITHOUT_GIT:
        assert watched[3] == []  # compared with the snapshot's blobs (quick_look.py)
    else:
        assert len(watched[3]) == 1 and watched[3][0]  # one look, at the written paths only
    while ELSEWHERE:
        outside = ELSEWHERE.pop()
        assert (outside / "keep.py").read_text() == "outside, must stay\n"
        assert os.listdir(outside) == ["keep.py"]
        shutil.rmtree(outside)


def test_take_names_written_paths_once(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a\n")
    watch = TreeWatch.open(tmp_path)
    assert watch is not None
    try:
        assert watch.take() == []
        (tmp_path / "pkg" / "a.py").write_text("b\n")
        (tmp_path / "pkg" / "new").mkdir()
        (tmp_path / "pkg" / "new" / "b.py").write_text("b\n")
        assert watch.take() == ["pkg/a.py", "pkg/new"]
        assert watch.take() == []
        (tmp_path / "pkg" / "new" / "b.py").write_text("c\n")  # the new folder is watched
        assert watch.take() == ["pkg/new/b.py"]
        (tmp_path / "pkg" / ".git").mkdir()
        assert watch.take() is None  # anything under a .git: let git look at everything
    finally:
        watch.close()
    assert watch.take() is None


def test_too_many_paths_or_an_unreadable_folder_mean_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = TreeWatch.open(tmp_path)
    assert watch is not None
    try:
        for i in range(MAX_PATHS + 1):
            (tmp_path / f"f{i}").write_bytes(b"")
        assert watch.take() is None  # one walk beats a pathspec per path
        assert watch.take() == []
    finally:
        watch.close()
    real_walk = os.walk

    def walk_hitting_a_locked_folder(top: Any, onerror: Any = None) -> Any:
        onerror(PermissionError(13, "Permission denied", str(top)))  # as os.walk reports it
        return real_walk(top)

    monkeypatch.setattr(os, "walk", walk_hitting_a_locked_folder)
    assert TreeWatch.open(tmp_path) is None


def test_an_overflowing_queue_means_walk_then_the_watch_recovers(tmp_path: Path) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 200_000:
        pytest.skip("the kernel's event queue is too long to overflow quickly")
    (tmp_path / "one").write_text("")
    (tmp_path / "two").write_text("")
    watch = TreeWatch.open(tmp_path)
    assert watch is not None
    try:
        fds = [os.open(tmp_path / name, os.O_WRONLY) for name in ("one", "two")]
        for i in range(limit + 10):
            os.write(fds[i % 2], b"x")  # alternating, so the kernel cannot merge them
        for fd in fds:
            os.close(fd)
        assert watch.take() is None
        (tmp_path / "one").write_text("again\n")
        assert watch.take() == ["one"]
    finally:
        watch.close()


def _inotify_fds() -> int:
    fds = Path("/proc/self/fd")
    found = 0
    for fd in fds.iterdir():
        try:
            found += os.readlink(fd) == "anon_inode:inotify"
        except OSError:
            continue  # the listing's own descriptor, closed already
    return found


async def test_every_watch_is_closed_with_its_slot(new_repo: RepoFactory) -> None:
    repo = new_repo(FILES)
    snapshot = await create_snapshot(repo.root)
    before = _inotify_fds()

    async with WorktreePool(snapshot, 2) as pool:
        async with pool.lease() as one, pool.lease():
            assert _inotify_fds() == before + 2
            (one.path / ".git").write_text("gitdir: /elsewhere\n")  # the slot gets rebuilt
        async with pool.lease(), pool.lease():
            assert pool.created_slots == 3
            assert _inotify_fds() == before + 2
    assert _inotify_fds() == before
