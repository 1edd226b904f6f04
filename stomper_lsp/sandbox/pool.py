"""A pool of git worktrees at the snapshot, one per parallel file, reused between files.

The worktrees belong to the shadow repository, never to the user's (see shadow.py), and
the run pins its snapshot there while the pool is open. Slots are created lazily on first
lease, reset between files by restoring only the paths the previous file changed (so reuse
does not get dearer on a big repository), thrown away and recreated when a reset cannot
make them clean, and all removed on close, whether the run succeeded, failed, timed out or
was cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Collection, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, TypeVar

from stomper_lsp.sandbox.changes import (
    GitAdminGuard,
    SandboxChanges,
    TreeDelta,
    collect_delta,
    restore,
    summarize,
)
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.layout import (
    OwnerRecord,
    create_run_dir,
    ensure_outside_workspace,
    prepare_repo_dir,
    remove_tree,
    sandbox_base_dir,
    shadow_lock_file,
)
from stomper_lsp.sandbox.quick_look import (
    only_untracked_caches,
    quick_delta,
    restore_directly,
)
from stomper_lsp.sandbox.shadow_refs import pin_run, unpin_run
from stomper_lsp.sandbox.snapshot import (
    UNTRACKED_NOISE_DIRS,
    Snapshot,
    decode_text,
    to_repo_path,
)
from stomper_lsp.sandbox.snapshot_reader import SnapshotReader
from stomper_lsp.sandbox.watch import MAX_PATHS, TreeWatch
from stomper_lsp.sandbox.worktrees import Worktree, add_worktree, remove_worktrees

__all__ = ["Sandbox", "SandboxChanges", "WorktreePool"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


async def _finish_despite_cancellation(task: Awaitable[_T]) -> _T:
    """Await cleanup to the end even if we are cancelled meanwhile, then re-raise that."""
    future = asyncio.ensure_future(task)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


class Sandbox:
    """One leased worktree: the agent works in `project_dir`, the engine inspects it."""

    def __init__(
        self, worktree: Worktree, slot: int, snapshot: Snapshot, watch: TreeWatch | None = None,
        reader: SnapshotReader | None = None,
    ) -> None:
        self.path = worktree.path
        self.project_dir = (
            worktree.path / snapshot.project_prefix if snapshot.project_prefix else worktree.path
        )
        self.slot = slot
        self.snapshot = snapshot
        self._worktree = worktree
        self._guard = GitAdminGuard(worktree)
        self._last_delta: TreeDelta | None = None
        self._watch = watch
        self._since_clean: set[str] | None = set() if watch is not None else None
        """Paths written since the sandbox was last clean; None: unknown, walk the tree."""
        self._since_look: set[str] | None = set() if watch is not None else None
        """Paths written since the last look at the tree (None: unknown)."""
        self._reader = reader
        """The snapshot's blobs, to look at and restore written files without git."""
        self._index_seen = self._index_stamp()

    def __repr__(self) -> str:
        return f"Sandbox(slot={self.slot}, path={str(self.path)!r})"

    @property
    def admin_dir(self) -> Path:
        """`<shadow>/worktrees/<name>`: this worktree's own HEAD and index (see confinement)."""
        return self._worktree.admin_dir

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()

    async def changes(self) -> SandboxChanges:
        """Differences from the snapshot commit, ignoring files git ignores."""
        if self._guard.tampered():
            # Do not even ask git: a rewritten `.git` file may point at another repository.
            return SandboxChanges([], [], [], [], touched_git=True)
        delta = self._last_delta = await self._delta()
        return summarize(delta, self.snapshot.project_prefix, self._guard.tampered())

    def mark_dirty(self) -> None:
        """Something may write here again (an agent, a test command): the last look is stale."""
        self._last_delta = None

    async def read_text(self, path: str) -> str | None:
        """Text of a project-relative file; None when absent, not a regular file, or a
        symlink (which could lead out of the sandbox)."""
        full = self.path / to_repo_path(self.snapshot.project_prefix, path)
        root = os.path.realpath(self.path)
        if full.is_symlink() or not os.path.realpath(full).startswith(root + os.sep):
            return None
        try:
            if not full.is_file():
                return None
            return decode_text(await asyncio.to_thread(full.read_bytes))
        except OSError:
            return None

    async def written_since_look(self) -> list[str] | None:
        """Repo-relative paths written since the last look, checker caches left out
        (`.ruff_cache`, `__pycache__`, ...); None when the watch cannot say.

        Lets a caller confirm nothing moved during a re-check without asking git, whose
        `status` costs milliseconds on a big index even for one path.
        """
        taken = await self._take_written()
        if taken is None:
            return None
        return [
            path for path in taken
            if not any(part in UNTRACKED_NOISE_DIRS for part in PurePosixPath(path).parts)
        ]

    async def discard(self, paths: Collection[str]) -> None:
        """Put project-relative `paths` an agent wrote back to the snapshot, and only them.

        Used for what an attempt may not deliver (notes, caches, non-Python edits), so the
        re-check sees exactly the tree that would be delivered.
        """
        if not paths:
            return
        wanted = {to_repo_path(self.snapshot.project_prefix, path) for path in paths}
        delta = self._last_delta or await self._delta()
        subset = TreeDelta(
            {path: status for path, status in delta.indexed.items() if path in wanted},
            [path for path in delta.untracked if path.rstrip("/") in wanted],
            delta.staged & wanted,
        )
        self._last_delta = None
        await self._restore(subset)

    async def reset(self) -> bool:
        """Back to the snapshot, touching only what changed; False when it is not clean.

        What changed comes from the last look (`changes()` since the last `mark_dirty()`)
        or a new one. When the watch saw nothing written since that look but untracked
        checker caches, putting back what the look found makes the slot clean, and what
        the restore itself wrote is looked at again by the next file's first look (its
        events wait in the watch). Otherwise a look afterwards checks the restored paths
        (and, with a watch, whatever else was written meanwhile), since restoring cannot
        change anything else.
        """
        if self._guard.tampered():
            return False
        fresh = self._last_delta is None
        delta = self._last_delta or await self._delta()
        walked_now = fresh and self._since_look is None  # `_delta` just walked the tree
        self._last_delta = None
        vouched = await self._only_caches_since_look()
        await self._restore(delta)
        if vouched and self._watch is not None and self._watch.alive:
            if self._guard.tampered():
                return False
            self._clean()
            return True
        written = await self._written_paths()
        if written is not None:
            after = await self._look({*written, *delta.paths})
        elif self._watch is None or walked_now:
            # The look above walked the tree: what it found is all there was.
            after = await self._look(delta.paths)
        else:
            # The watch lost track since the look (overflow, the index moved): walk.
            after = await self._look(None)
        clean = after.clean and not self._guard.tampered()
        if clean and self._watch is not None and self._watch.alive:
            self._clean()
        return clean

    def _clean(self) -> None:
        self._since_clean = set()
        self._since_look = set()

    async def _only_caches_since_look(self) -> bool:
        """Since the last look, the watch saw writes to untracked checker caches only."""
        if self._reader is None or await self._take_written() is None:
            return False
        if self._since_look is None:
            return False
        return await only_untracked_caches(self.path, self._since_look, self._reader)

    async def _restore(self, delta: TreeDelta) -> None:
        """Put `delta` back: files only changed on disk from the snapshot's blobs, the
        rest (staged changes, folders, conversions) with git."""
        if delta.clean:
            return
        if delta.untracked:
            await restore(self._worktree, self.snapshot.commit, TreeDelta({}, delta.untracked))
        rest = TreeDelta(delta.indexed, [], delta.staged)
        if self._reader is not None and rest.indexed:
            rest = await restore_directly(self.path, rest, self._reader)
        if rest.indexed:
            await restore(self._worktree, self.snapshot.commit, rest)
            self._index_seen = self._index_stamp()  # restoring rewrote the index

    async def _delta(self) -> TreeDelta:
        """Differences from the snapshot: over the paths written since the sandbox was
        clean when the watch can name them (compared with the snapshot's blobs when that
        is enough, see quick_look.py), else over the whole tree."""
        paths = await self._written_paths()
        self._since_look = set() if paths is not None else None
        if paths is not None and self._reader is not None:
            quick = await quick_delta(self.path, paths, self._reader)
            if quick is not None:
                return quick
        return await self._look(paths)

    async def _look(self, paths: Collection[str] | None) -> TreeDelta:
        """`git status` over `paths` (None: the whole tree); no paths at all is clean."""
        if paths is None:
            delta = await collect_delta(self._worktree)
        elif paths:
            delta = await collect_delta(self._worktree, only=sorted(paths))
        else:
            delta = TreeDelta()
        self._index_seen = self._index_stamp()  # our `status` may have refreshed the index
        return delta

    async def _take_written(self) -> list[str] | None:
        """What the watch saw since it was last asked, also added to `_since_clean`; None
        (and the watch no longer trusted until the slot is clean) when it cannot vouch."""
        if self._watch is None or self._since_clean is None:
            return None
        taken = await asyncio.to_thread(self._watch.take)
        # `git add` and friends change the index without writing in the tree: walk then.
        if taken is None or self._index_stamp() != self._index_seen:
            self._since_clean = self._since_look = None
            return None
        self._since_clean.update(taken)
        if self._since_look is not None:
            self._since_look.update(taken)
        return taken

    async def _written_paths(self) -> list[str] | None:
        if await self._take_written() is None or self._since_clean is None:
            return None
        if len(self._since_clean) > MAX_PATHS:
            self._since_clean = self._since_look = None
            return None
        return sorted(self._since_clean)

    def _index_stamp(self) -> tuple[int, int, int] | None:
        try:
            found = (self._worktree.admin_dir / "index").stat()
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns


class WorktreePool:
    """`size` sandboxes for one run; use as `async with WorktreePool(...) as pool`."""

    def __init__(
        self,
        snapshot: Snapshot,
        size: int,
        *,
        base_dir: Path | None = None,
        run_id: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a worktree pool needs at least one slot, got {size}")
        self.snapshot = snapshot
        self.size = size
        self.run_id = run_id or uuid.uuid4().hex[:12]
        # Beside the snapshot's shadow unless told otherwise: the worktrees are its own.
        beside_shadow = snapshot.shadow_dir.parent.parent
        self.base_dir = sandbox_base_dir(base_dir) if base_dir is not None else beside_shadow
        self.run_dir: Path | None = None
        self.created_slots = 0
        """Worktrees created so far (a slot thrown away and recreated counts twice)."""
        self._lock_file = shadow_lock_file(snapshot.shadow_dir)
        self._free: asyncio.LifoQueue[int | None] = asyncio.LifoQueue()
        for slot in reversed(range(size)):
            self._free.put_nowait(slot)
        self._sandboxes: dict[int, Sandbox] = {}
        self._generations: dict[int, int] = {}
        self._worktree_paths: set[Path] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._close_task: asyncio.Task[None] | None = None
        self._reader = SnapshotReader(snapshot)
        """Shared by the slots: their looks and resets read the snapshot's blobs from one
        running `git cat-file` instead of starting git for each file."""

    @property
    def snapshot_reader(self) -> SnapshotReader:
        """The pool's running reader of the snapshot, for the run's other reads too (one
        `git cat-file` and one cache of blobs instead of two); the pool closes it."""
        return self._reader

    async def __aenter__(self) -> WorktreePool:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.close()
        except SandboxError:
            if exc is None:
                raise
            _log.warning("sandbox cleanup after a failed run left something behind", exc_info=True)

    async def open(self) -> None:
        """Create this run's folder (with its owner file) outside the workspace, then pin
        the snapshot in the shadow (in that order: see shadow_refs.py)."""
        if self.run_dir is not None:
            return
        ensure_outside_workspace(self.base_dir, self.snapshot.repo_root)
        repo_dir = await asyncio.to_thread(
            prepare_repo_dir, self.base_dir, self.snapshot.repo_root
        )
        owner = OwnerRecord.for_this_process(self.snapshot.repo_root)
        run_dir = await asyncio.to_thread(create_run_dir, repo_dir, self.run_id, owner)
        try:
            await pin_run(self.snapshot.shadow_dir, self.run_id, self.snapshot.commit)
        except BaseException:
            await asyncio.to_thread(remove_tree, run_dir)
            raise
        self.run_dir = run_dir

    def lease(self) -> AbstractAsyncContextManager[Sandbox]:
        """Wait for a free slot and hold its sandbox; on exit it is reset for the next file."""
        return self._lease()

    @contextlib.asynccontextmanager
    async def _lease(self) -> AsyncIterator[Sandbox]:
        if self.run_dir is None:
            raise RuntimeError("WorktreePool.lease() before open(): use `async with pool`")
        slot = await self._free.get()
        if slot is None or self._close_task is not None:
            self._free.put_nowait(slot)  # let every other waiter see the pool is closed
            raise SandboxError("The sandbox pool is closed; the run is over.")
        creation: asyncio.Task[Sandbox] | None = None
        try:
            sandbox = self._sandboxes.get(slot)
            if sandbox is None:
                creation = self._spawn(self._create(slot))
                sandbox = await asyncio.shield(creation)
            yield sandbox
        finally:
            await asyncio.shield(self._spawn(self._release(slot, creation)))

    def prewarm(self, count: int) -> None:
        """Create up to `count` idle slots' worktrees in the background.

        On a big repository each checkout takes a while; started while the run's first
        check is going on, they are ready when the files fan out instead of delaying them.
        """
        for _ in range(min(count, self._free.qsize())):
            self._spawn(self._prewarm_one())

    async def _prewarm_one(self) -> None:
        try:
            slot = self._free.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            if slot is not None and self._close_task is None and slot not in self._sandboxes:
                await self._create(slot)
        except Exception:  # a lease retries the creation and reports what goes wrong
            _log.info("pre-creating sandbox slot %s failed", slot, exc_info=True)
        finally:
            self._free.put_nowait(slot)

    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        """Run bookkeeping that must finish even if the leaseholder is cancelled."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _slot_path(self, slot: int) -> Path:
        assert self.run_dir is not None
        generation = self._generations.get(slot, 0)
        suffix = f"-{generation}" if generation else ""
        return self.run_dir / f"{self.run_id}-slot{slot}{suffix}"

    async def _create(self, slot: int) -> Sandbox:
        path = self._slot_path(slot)
        self._worktree_paths.add(path)  # before git runs: a half-made worktree is ours too
        watch: TreeWatch | None = None
        try:
            worktree = await add_worktree(
                self.snapshot.shadow_dir, self._lock_file, path, self.snapshot.commit
            )
            (path / self.snapshot.project_prefix).mkdir(parents=True, exist_ok=True)
            watch = await asyncio.to_thread(TreeWatch.open, worktree.path)
            sandbox = Sandbox(worktree, slot, self.snapshot, watch, self._reader)
        except BaseException:
            if watch is not None:
                watch.close()
            self._generations[slot] = self._generations.get(slot, 0) + 1
            await self._remove([path])
            raise
        self.created_slots += 1
        self._sandboxes[slot] = sandbox
        return sandbox

    async def _release(self, slot: int, creation: asyncio.Task[Sandbox] | None) -> None:
        try:
            if creation is not None:
                await asyncio.wait([creation])
            sandbox = self._sandboxes.get(slot)
            if sandbox is None or self._close_task is not None:
                return
            try:
                clean = await sandbox.reset()
            except SandboxError:
                _log.info("resetting sandbox slot %d failed", slot, exc_info=True)
                clean = False
            if not clean:
                _log.info("sandbox slot %d is not clean after reset; recreating it", slot)
                del self._sandboxes[slot]
                sandbox.close()
                self._generations[slot] = self._generations.get(slot, 0) + 1
                await self._remove([sandbox.path])
        finally:
            self._free.put_nowait(slot)

    async def _remove(self, paths: list[Path]) -> list[Path]:
        try:
            leftovers = await remove_worktrees(self.snapshot.shadow_dir, self._lock_file, paths)
        except SandboxError:
            _log.warning("removing sandboxes %s failed", paths, exc_info=True)
            return paths
        self._worktree_paths.difference_update(set(paths) - set(leftovers))
        return leftovers

    async def close(self) -> None:
        """Remove every worktree of this run and its folder; safe to call twice.

        Runs to the end even when the caller is cancelled meanwhile (then re-raises the
        cancellation), so a cancelled run leaves nothing behind.
        """
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        await _finish_despite_cancellation(self._close_task)

    async def _close(self) -> None:
        self._free.put_nowait(None)  # wakes every lease still waiting for a slot
        while self._background:
            await asyncio.wait(list(self._background))
        for sandbox in self._sandboxes.values():
            sandbox.close()
        self._sandboxes.clear()
        await self._reader.close()
        leftovers = await self._remove(sorted(self._worktree_paths))
        if self.run_dir is not None:
            if not await unpin_run(self.snapshot.shadow_dir, self.run_id):
                _log.warning("could not drop the pin of run %s; the next sweep does", self.run_id)
            await asyncio.to_thread(remove_tree, self.run_dir)
            if self.run_dir.exists():
                leftovers.append(self.run_dir)
        if leftovers:
            raise SandboxError(
                "Could not remove these sandboxes: "
                + ", ".join(str(p) for p in leftovers)
                + ". Stomper's next run sweeps them."
            )
