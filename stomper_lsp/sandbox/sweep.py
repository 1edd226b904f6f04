"""Start-up cleanup of what crashed runs left behind.

A run killed with SIGKILL (or a machine that lost power) cannot clean up: its run folder,
its worktrees, their metadata in the shadow's `worktrees/` and its pin stay. The owner file
tells dead runs from live ones (another editor window or CLI run may be working right now).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.layout import (
    CREATING_SUFFIX,
    SHADOW_DIR_NAME,
    lock_file_for,
    owner_alive,
    read_owner,
    remove_tree,
    repo_sandbox_dir,
    sandbox_base_dir,
    shadow_lock_file,
)
from stomper_lsp.sandbox.repository import RepositoryLocation, locate_repository
from stomper_lsp.sandbox.shadow import is_shadow
from stomper_lsp.sandbox.shadow_refs import (
    STOMPER_REFS,
    delete_refs,
    list_refs,
    prune_objects,
    run_ref,
)
from stomper_lsp.sandbox.worktrees import registered_worktrees, remove_worktrees

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_REPO_HASH = re.compile(r"[0-9a-f]{16}")
# A run folder is born by renaming a staging folder; one older than this was abandoned.
_STAGING_GRACE_S = 60.0
# A repository's folder untouched this long whose repository is gone is an orphan.
_ORPHAN_GRACE_S = 600.0


def _stale_runs(repo_dir: Path) -> tuple[list[Path], set[Path]]:
    """(run folders to remove, run folders of live runs)."""
    stale: list[Path] = []
    live: set[Path] = set()
    try:
        children = sorted(repo_dir.iterdir())
    except FileNotFoundError:
        return stale, live
    for child in children:
        if not child.is_dir() or child.is_symlink() or child.name == SHADOW_DIR_NAME:
            continue
        if child.name.startswith("."):
            abandoned = child.name.endswith(CREATING_SUFFIX) and (
                time.time() - child.stat().st_mtime > _STAGING_GRACE_S
            )
            if abandoned:
                stale.append(child)
            continue
        owner = read_owner(child)
        if owner is not None and owner_alive(owner):
            live.add(child)
        else:
            stale.append(child)
    return stale, live


def _orphaned_repo_dirs(base: Path, current: Path) -> list[Path]:
    """This user's folders for repositories that no longer exist (their shadow borrows from
    an object store that is gone) with no live run: nothing will ever use them again."""
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    found: list[Path] = []
    for entry in entries:
        if entry == current or not _REPO_HASH.fullmatch(entry.name) or entry.is_symlink():
            continue
        try:
            info = entry.stat()
            alternates = (entry / SHADOW_DIR_NAME / "objects" / "info" / "alternates")
            borrowed = alternates.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            continue
        if time.time() - info.st_mtime < _ORPHAN_GRACE_S or not borrowed:
            continue
        if Path(borrowed[0]).exists() or _stale_runs(entry)[1]:
            continue
        found.append(entry)
    return found


async def sweep_stale_sandboxes(repo_root: Path, *, base_dir: Path | None = None) -> list[Path]:
    """Remove sandboxes of dead runs of this repository, their git metadata and pins.

    Also removes what Stomper versions before the shadow repository left in the user's
    own repository: worktrees registered in its `.git/worktrees` that are sandboxes of a
    dead run. When no run of this repository is alive, the shadow is tidied too (every
    ref agents left, and old unreferenced objects once there are many).

    Best effort once the repository is found (SandboxError only when `repo_root` is not in
    a git work tree): a sweep that cannot remove something logs it and lets the run go on.

    Folders of other repositories that no longer exist go too (their shadows would stay in
    the sandbox folder, often RAM, for good).

    Returns the removed run folders, plus worktrees whose run folder had already vanished
    (a temp cleaner took it) but which git still listed, plus the removed folders of
    repositories that are gone.
    """
    location = await locate_repository(Path(repo_root).resolve())
    return await sweep_bases(location, [sandbox_base_dir(base_dir)])


async def sweep_bases(location: RepositoryLocation, bases: Sequence[Path]) -> list[Path]:
    """`sweep_stale_sandboxes` over several sandbox folders (every place a run may have
    used), listing the repository's own worktrees once for all of them; also kills agents
    of dead runs and removes their `$TMPDIR/stomper-run-*` folders (confinement/orphans.py)."""
    # Imported here: confinement builds on sandbox.layout, which imports this package.
    from stomper_lsp.confinement.orphans import sweep_leftovers

    user_worktrees = await _best_effort(registered_worktrees(location.git_common_dir), [])
    leftovers = asyncio.ensure_future(asyncio.to_thread(sweep_leftovers))
    swept = await asyncio.gather(
        *(_sweep_base(location, user_worktrees, sandbox_base_dir(base)) for base in bases)
    )
    killed, run_dirs = await leftovers
    if killed:
        _log.warning("killed %d agent process(es) left by a dead run: %s", len(killed), killed)
    return sorted({path for paths in swept for path in paths} | set(run_dirs))


async def _sweep_base(
    location: RepositoryLocation, user_worktrees: list[Path], base: Path
) -> list[Path]:
    repo_dir = Path(os.path.realpath(repo_sandbox_dir(base, location.repo_root)))
    shadow = repo_dir / SHADOW_DIR_NAME
    # Refs and worktrees (the user's too, listed by the caller) are listed before the run
    # folders: a pool creates its folder before its pin and worktrees, so whatever is
    # listed here belongs to a folder that already exists below, and a run starting
    # meanwhile is never taken for a dead one.
    refs, shadow_worktrees = await _best_effort(_shadow_listings(shadow), ([], []))
    stale, live = await asyncio.to_thread(_stale_runs, repo_dir)
    doomed = [
        worktree
        for worktree in shadow_worktrees[1:]  # [0]: the bare repository itself
        if worktree.parent.parent == repo_dir and worktree.parent not in live
    ]
    base_real = Path(os.path.realpath(base))
    legacy = await asyncio.to_thread(
        _legacy_sandboxes, user_worktrees[1:], location.repo_root, base_real
    )
    cleanups = []
    if shadow_worktrees:  # it lists at least the shadow itself, if there is one
        cleanups.append(_best_effort(_tidy_shadow(shadow, refs, doomed, live), None))
    if legacy:
        git_dir = location.git_common_dir
        lock = lock_file_for(base, git_dir)  # the lock those versions took
        cleanups.append(_best_effort(_remove(git_dir, lock, legacy), None))
    await asyncio.gather(*cleanups)
    legacy_runs = {worktree.parent for worktree in legacy}
    runs = [run for run in {*stale, *legacy_runs} if run.is_dir()]
    await asyncio.gather(*(asyncio.to_thread(remove_tree, run) for run in runs))
    orphans = [worktree for worktree in doomed + legacy if worktree.parent not in runs]
    gone = await asyncio.to_thread(_orphaned_repo_dirs, base, repo_dir)
    await asyncio.gather(*(asyncio.to_thread(remove_tree, folder) for folder in gone))
    return [*runs, *orphans, *gone]


async def sweep_dead_runs(repo_dir: Path) -> list[Path]:
    """Remove dead runs' folders, worktrees and pins beside one shadow (a cluster node's:
    no user repository to look at). Returns the removed run folders."""
    shadow = repo_dir / SHADOW_DIR_NAME
    refs, shadow_worktrees = await _best_effort(_shadow_listings(shadow), ([], []))
    stale, live = await asyncio.to_thread(_stale_runs, repo_dir)
    doomed = [
        worktree
        for worktree in shadow_worktrees[1:]
        if worktree.parent.parent == repo_dir and worktree.parent not in live
    ]
    if shadow_worktrees:
        await _best_effort(_tidy_shadow(shadow, refs, doomed, live), None)
    runs = [run for run in stale if run.is_dir()]
    await asyncio.gather(*(asyncio.to_thread(remove_tree, run) for run in runs))
    return runs


async def _best_effort(work: Awaitable[_T], fallback: _T) -> _T:
    """`work`'s result, or `fallback` when git or the file system refused."""
    try:
        return await work
    except (SandboxError, OSError):
        _log.warning("sweeping stale sandboxes failed", exc_info=True)
        return fallback


async def _shadow_listings(shadow: Path) -> tuple[list[str], list[Path]]:
    """(refs, registered worktrees) of the shadow; nothing when there is no shadow yet."""
    if not await asyncio.to_thread(is_shadow, shadow):
        return [], []
    refs, worktrees = await asyncio.gather(list_refs(shadow), registered_worktrees(shadow))
    return refs, worktrees


async def _tidy_shadow(
    shadow: Path, refs: list[str], doomed: list[Path], live: set[Path]
) -> None:
    """Remove dead runs' worktrees and pins; with no live run, everything agents left."""
    await _remove(shadow, shadow_lock_file(shadow), doomed)
    if live:
        pins = {run_ref(run.name) for run in live}
        dead_refs = [ref for ref in refs if ref.startswith(STOMPER_REFS) and ref not in pins]
    else:
        dead_refs = refs  # nobody uses the shadow: agents' branches, tags and stash go too
    if not await delete_refs(shadow, dead_refs):
        _log.warning("could not delete stale refs %s in %s", ", ".join(dead_refs), shadow)
    if not live and not await prune_objects(shadow):
        _log.warning("could not prune old objects in %s", shadow)


def _is_legacy_sandbox(worktree: Path, base: Path) -> bool:
    """`<base>/<repo hash>/<run>/<run>-slot<n>`: only that shape is ours to remove."""
    run_dir = worktree.parent
    return (
        run_dir.parent.parent == base
        and _REPO_HASH.fullmatch(run_dir.parent.name) is not None
        and worktree.name.startswith(f"{run_dir.name}-slot")
    )


def _run_alive(run_dir: Path) -> bool:
    owner = read_owner(run_dir)
    return owner is not None and owner_alive(owner)


def _legacy_sandboxes(registered: list[Path], repo_root: Path, base: Path) -> list[Path]:
    """Sandboxes of dead runs that older Stomper versions registered in the user's repo."""
    return [
        worktree
        for worktree in registered
        if worktree != repo_root
        and _is_legacy_sandbox(worktree, base)
        and not _run_alive(worktree.parent)
    ]


async def _remove(git_dir: Path, lock_file: Path, worktrees: list[Path]) -> None:
    leftovers = await remove_worktrees(git_dir, lock_file, worktrees)
    if leftovers:  # best effort: a sweep must never stop the run that started it
        _log.warning(
            "could not unregister stale sandboxes %s from %s",
            ", ".join(str(p) for p in leftovers),
            git_dir,
        )
