"""Creating, addressing and removing the git worktrees that back sandboxes.

Sandboxes are worktrees of the shadow repository (see shadow.py); the same functions also
remove what older Stomper versions registered in the user's own repository. Every command
names its repository with `--git-dir`. Only the metadata changes (`worktree add
--no-checkout`, `worktree remove`, `prune`) run under the repository lock; filling and
deleting the files happens outside it, so slots of a big repository are populated in
parallel.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.process import ProcessResult
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git, run_git_dir, split_nul
from stomper_lsp.sandbox.layout import remove_tree
from stomper_lsp.sandbox.locks import worktree_admin_lock

_CHECKOUT_TIMEOUT_S = 600.0
# Filling a big checkout waits on reading objects and creating files more than on the CPU,
# so more workers than cores still pay (5,000 files, cold cache, 2 cores: 0.78 s with one
# worker, 0.41 s with four). Below git's threshold of 100 files it checks out serially.
_CHECKOUT_WORKERS = max(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class Worktree:
    path: Path
    admin_dir: Path
    """`<shadow>/worktrees/<name>`: this worktree's HEAD, index and bookkeeping."""

    async def git(
        self, args: Sequence[str], *, stdin_data: bytes | None = None, timeout: float = 120.0
    ) -> ProcessResult:
        """git in this worktree, addressed explicitly: whatever an agent did to the `.git`
        file, the command can never reach another repository."""
        return await run_git(
            self.path,
            ["--git-dir", str(self.admin_dir), "--work-tree", str(self.path), *args],
            stdin_data=stdin_data,
            timeout=timeout,
            # The worktree's index is ours: letting `status` refresh it keeps later walks
            # from re-hashing every file checked out in the same second as the index.
            env={"GIT_OPTIONAL_LOCKS": "1"},
            git_dir=self.admin_dir,
        )


def read_gitdir_file(worktree: Path) -> Path | None:
    """The admin dir a worktree's `.git` file points at, or None if it is not such a file."""
    dot_git = worktree / ".git"
    try:
        if dot_git.is_symlink() or not dot_git.is_file():
            return None
        text = dot_git.read_text(encoding="utf-8", errors="surrogateescape").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return target if target.is_absolute() else (worktree / target).resolve()


async def add_worktree(git_dir: Path, lock_file: Path, path: Path, commit: str) -> Worktree:
    """A detached worktree of `git_dir`'s `commit` at `path` (which must not exist yet)."""
    async with worktree_admin_lock(git_dir, lock_file):
        await run_git_dir(
            git_dir, ["worktree", "add", "--detach", "--no-checkout", str(path), commit]
        )
    admin_dir = read_gitdir_file(path)
    if admin_dir is None:
        raise SandboxError(f"git created the worktree {path} without a usable .git file.")
    worktree = Worktree(path, admin_dir)
    await worktree.git(
        ["-c", f"checkout.workers={_CHECKOUT_WORKERS}", "reset", "--hard", "--quiet"],
        timeout=_CHECKOUT_TIMEOUT_S,
    )
    return worktree


async def registered_worktrees(git_dir: Path) -> list[Path]:
    """Every worktree the repository knows about (real paths), including missing ones;
    the first is the main worktree (for a bare repository, the repository itself)."""
    result = await run_git_dir(git_dir, ["worktree", "list", "--porcelain", "-z"])
    return [
        Path(os.path.realpath(line.removeprefix("worktree ")))
        for line in split_nul(result.stdout)
        if line.startswith("worktree ")
    ]


async def remove_worktrees(
    git_dir: Path, lock_file: Path, paths: Sequence[Path]
) -> list[Path]:
    """Delete the folders, then unregister them; returns those git still lists afterwards.

    `worktree remove` of an already deleted folder only drops its metadata, which also
    works for worktrees with submodules or a `.git` file an agent broke. `prune` runs only
    as the fallback: it would also drop the metadata of the user's own worktrees that sit
    on an unmounted drive (in a user's repository; the shadow holds only sandboxes).
    """
    if not paths:
        return []
    await asyncio.gather(*(asyncio.to_thread(remove_tree, p) for p in paths))
    async with worktree_admin_lock(git_dir, lock_file):
        for path in paths:
            await run_git_dir(
                git_dir, ["worktree", "remove", "--force", "--force", str(path)], check=False
            )
    wanted = {Path(os.path.realpath(p)) for p in paths}
    leftovers = [p for p in await registered_worktrees(git_dir) if p in wanted]
    if leftovers:
        async with worktree_admin_lock(git_dir, lock_file):
            await run_git_dir(git_dir, ["worktree", "prune"], check=False)
        leftovers = [p for p in await registered_worktrees(git_dir) if p in wanted]
    return leftovers
