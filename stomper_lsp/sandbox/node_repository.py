"""A cluster node's copy of a user's repository: a shadow fed by bundles, healed on use.

Laid out exactly like a local sandbox folder (`<base>/<repo hash>/shadow.git` beside the
run folders), so pools, pins and the dead-run sweep work unchanged. The repository root a
node names is virtual (`/stomper-cluster/<key>`): the user's checkout is not on this
machine, and nothing here ever reads it.

Healing: a worker killed during `git worktree add` leaves a worktree registered as
`locked: initializing` that no prune removes and that blocks its path for good; a worker
killed mid-run leaves its run folder and pin. Both are cleared, under the same file lock
every worktree change takes, before a process opens its pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git_dir
from stomper_lsp.sandbox.layout import (
    SHADOW_DIR_NAME,
    remove_tree,
    repo_sandbox_dir,
    shadow_lock_file,
    write_if_changed,
)
from stomper_lsp.sandbox.locks import worktree_admin_lock
from stomper_lsp.sandbox.shadow import create_bare_shadow, is_shadow
from stomper_lsp.sandbox.shadow_guard import remember
from stomper_lsp.sandbox.snapshot import Snapshot
from stomper_lsp.sandbox.sweep import sweep_dead_runs
from stomper_lsp.sandbox.worktrees import read_gitdir_file

_FETCH_TIMEOUT_S = 1800.0
_INITIALIZING = "initializing"
_log = logging.getLogger(__name__)
_STALE_LOCK_S = 60.0
_REPOSITORY_LOCKS = ("packed-refs.lock", "shallow.lock", "config.lock", "HEAD.lock")


@dataclass(frozen=True)
class NodeRepository:
    base: Path
    key: str
    """Names the user's repository across the cluster (the coordinator chooses it)."""

    @property
    def repo_root(self) -> Path:
        return Path("/stomper-cluster") / self.key

    @property
    def repo_dir(self) -> Path:
        return repo_sandbox_dir(self.base, self.repo_root)

    @property
    def shadow(self) -> Path:
        return self.repo_dir / SHADOW_DIR_NAME

    @property
    def lock_file(self) -> Path:
        return shadow_lock_file(self.shadow)

    def snapshot(self, commit: str, project_prefix: str) -> Snapshot:
        return Snapshot(
            repo_root=self.repo_root,
            git_common_dir=self.shadow,
            project_prefix=project_prefix,
            commit=commit,
            shadow_dir=self.shadow,
        )

    async def open(self, object_format: str, config: bytes) -> None:
        """Create the shadow on first use; its settings are the coordinator's shadow's
        (the user's checkout settings), recorded so an agent cannot change them."""
        await asyncio.to_thread(self.repo_dir.mkdir, parents=True, exist_ok=True)
        async with worktree_admin_lock(self.shadow, self.lock_file):
            if not await asyncio.to_thread(is_shadow, self.shadow):
                await create_bare_shadow(self.shadow, object_format)
            await asyncio.to_thread(write_if_changed, self.shadow / "config", config)
            await asyncio.to_thread(remember, self.shadow)

    async def has_commit(self, commit: str) -> bool:
        result = await run_git_dir(
            self.shadow, ["cat-file", "-e", f"{commit}^{{commit}}"], check=False
        )
        return result.returncode == 0

    async def fetch_bundle(self, data: bytes, ref: str, commit: str) -> None:
        """Take the bundle's objects; afterwards `commit` is here (else SandboxError)."""
        fd, name = tempfile.mkstemp(prefix="stomper-bundle-", suffix=".bundle")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            async with worktree_admin_lock(self.shadow, self.lock_file):
                if await self.has_commit(commit):
                    return  # another worker process of this node fetched it meanwhile
                await _drop_stale_git_locks(self.shadow)
                result = await run_git_dir(
                    self.shadow,
                    ["-c", "transfer.unpackLimit=1", "fetch", "--quiet", "--no-tags",
                     "--no-write-fetch-head", name,
                     f"+{ref}:refs/stomper-snapshots/{commit}"],
                    timeout=_FETCH_TIMEOUT_S,
                    check=False,
                )
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        if not await self.has_commit(commit):
            raise SandboxError(
                f"fetching the snapshot {commit[:12]} into {self.shadow} failed: "
                f"{result.stderr_text.strip() or result.returncode}"
            )

    async def heal(self) -> list[str]:
        """Clear what killed workers left: half-added worktrees, dead runs, stale locks."""
        healed: list[str] = []
        async with worktree_admin_lock(self.shadow, self.lock_file):
            await _drop_stale_git_locks(self.shadow)
            for admin in await asyncio.to_thread(_half_added_worktrees, self.shadow):
                worktree = read_gitdir_file_of_admin(admin)
                try:
                    if worktree is not None:
                        await asyncio.to_thread(remove_tree, worktree)
                    await asyncio.to_thread(remove_tree, admin)
                except OSError:  # e.g. the killed git's checkout child still writing
                    _log.warning("could not remove the half-added worktree %s", admin,
                                 exc_info=True)
                    continue
                healed.append(str(worktree or admin))
            if healed:
                await run_git_dir(self.shadow, ["worktree", "prune"], check=False)
        healed.extend(str(path) for path in await sweep_dead_runs(self.repo_dir))
        return healed


def read_gitdir_file_of_admin(admin: Path) -> Path | None:
    """The worktree an admin dir (`worktrees/<name>`) belongs to, from its `gitdir` file."""
    try:
        text = (admin / "gitdir").read_text(encoding="utf-8", errors="surrogateescape").strip()
    except OSError:
        return None
    dot_git = Path(text)
    if not dot_git.is_absolute():
        return None
    worktree = dot_git.parent
    # Only a worktree whose .git points back here is ours to delete.
    return worktree if read_gitdir_file(worktree) in (admin, None) else None


def _half_added_worktrees(shadow: Path) -> list[Path]:
    """Admin dirs git marks `initializing`: under the admin lock, no add is in progress,
    so each one is a killed `git worktree add`."""
    found: list[Path] = []
    with contextlib.suppress(FileNotFoundError):
        for admin in sorted((shadow / "worktrees").iterdir()):
            try:
                reason = (admin / "locked").read_text(errors="replace").strip()
            except OSError:
                continue
            if reason == _INITIALIZING:
                found.append(admin)
    return found


async def _drop_stale_git_locks(shadow: Path) -> None:
    """`*.lock` files of the shared repository (refs, packed-refs, shallow) that a killed
    git left: git holds one for milliseconds, so one older than a minute is nobody's."""
    def drop() -> None:
        now = time.time()
        candidates = [shadow / name for name in _REPOSITORY_LOCKS]
        candidates.extend((shadow / "refs").rglob("*.lock"))
        for lock in candidates:
            with contextlib.suppress(FileNotFoundError):
                if now - lock.stat().st_mtime > _STALE_LOCK_S:
                    lock.unlink()

    await asyncio.to_thread(drop)
