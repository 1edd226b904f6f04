"""Start-up cleanup of what crashed runs left behind.

A run killed with SIGKILL (or a machine that lost power) cannot clean up: its run folder,
its worktrees and their metadata in `.git/worktrees` stay. The owner file tells dead runs
from live ones (another editor window or CLI run may be working right now).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from stomper_lsp.sandbox.layout import (
    CREATING_SUFFIX,
    lock_file_for,
    owner_alive,
    read_owner,
    remove_tree,
    repo_sandbox_dir,
    sandbox_base_dir,
)
from stomper_lsp.sandbox.snapshot import locate_repository
from stomper_lsp.sandbox.worktrees import registered_worktrees, remove_worktrees

_log = logging.getLogger(__name__)
# A run folder is born by renaming a staging folder; one older than this was abandoned.
_STAGING_GRACE_S = 60.0


def _stale_runs(repo_dir: Path) -> tuple[list[Path], set[Path]]:
    """(run folders to remove, run folders of live runs)."""
    stale: list[Path] = []
    live: set[Path] = set()
    try:
        children = sorted(repo_dir.iterdir())
    except FileNotFoundError:
        return stale, live
    for child in children:
        if not child.is_dir() or child.is_symlink():
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


async def sweep_stale_sandboxes(repo_root: Path, *, base_dir: Path | None = None) -> list[Path]:
    """Remove sandboxes of dead runs of this repository and their git metadata.

    Best effort once the repository is found (SandboxError only when `repo_root` is not in
    a git work tree): a sweep that cannot remove something logs it and lets the run go on.

    Returns the removed run folders, plus worktrees whose run folder had already vanished
    (a temp folder wiped at reboot) but which git still listed.
    """
    location = await locate_repository(Path(repo_root).resolve())
    base = sandbox_base_dir(base_dir)
    repo_dir = os.path.realpath(repo_sandbox_dir(base, location.repo_root))
    stale, live = await asyncio.to_thread(_stale_runs, Path(repo_dir))
    stale_real = {Path(os.path.realpath(p)) for p in stale}
    live_real = {Path(os.path.realpath(p)) for p in live}
    doomed: list[Path] = []
    orphans: list[Path] = []
    for worktree in await registered_worktrees(location.repo_root):
        if worktree.parent.parent != Path(repo_dir) or worktree.parent in live_real:
            continue
        doomed.append(worktree)
        if worktree.parent not in stale_real:
            orphans.append(worktree)
    lock_file = lock_file_for(base, location.git_common_dir)
    leftovers = await remove_worktrees(
        location.repo_root, location.git_common_dir, lock_file, doomed
    )
    if leftovers:  # best effort: a sweep must never stop the run that started it
        _log.warning(
            "could not unregister stale sandboxes %s; `git worktree prune` drops them",
            ", ".join(str(p) for p in leftovers),
        )
    await asyncio.gather(*(asyncio.to_thread(remove_tree, run) for run in stale))
    return sorted(stale + orphans)
