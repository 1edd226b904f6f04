"""What an agent changed in a sandbox, and putting exactly that back.

Changes are measured against the snapshot commit, index included (an agent may `git add`),
over the whole repository so writes outside the project show up, and without the files git
ignores (caches the checkers write). Finding them is one `git status` walk; restoring
touches only the changed paths, never a whole-tree checkout or clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from stomper_lsp.sandbox.git import split_nul
from stomper_lsp.sandbox.layout import remove_tree
from stomper_lsp.sandbox.snapshot import UNTRACKED_NOISE_DIRS
from stomper_lsp.sandbox.worktrees import Worktree, read_gitdir_file

# What git itself rewrites in a worktree's admin dir while we (or an agent's harmless
# `git status`) look at it; everything else there must stay as it was at creation.
_GIT_MAINTAINED_PREFIXES = ("index", "sharedindex.")


@dataclass(frozen=True)
class SandboxChanges:
    modified: list[str]
    added: list[str]
    deleted: list[str]
    """Project-relative POSIX paths, sorted."""
    outside_project: list[str]
    """Repo-relative paths changed outside the project folder."""
    touched_git: bool
    """The agent wrote into .git: the worktree's `.git` file, its admin dir, or a new repo."""

    @property
    def changed(self) -> list[str]:
        return sorted(self.modified + self.added + self.deleted)


@dataclass(frozen=True)
class TreeDelta:
    """Repo-relative differences between a worktree and the snapshot commit."""

    indexed: dict[str, str] = field(default_factory=dict)
    """Path -> A(dded), M(odified), D(eleted) or I (only the index differs), for paths in
    the commit or the index."""
    untracked: list[str] = field(default_factory=list)
    """Files (and `dir/` for nested repositories) neither in the index nor ignored."""
    staged: frozenset[str] = frozenset()
    """Paths of `indexed` whose index entry differs from the commit: only git can put
    those back. For the others only the file on disk differs."""

    @property
    def clean(self) -> bool:
        return not self.indexed and not self.untracked

    @property
    def paths(self) -> list[str]:
        return sorted({*self.indexed, *(p.rstrip("/") for p in self.untracked)})


def _is_noise(path: str) -> bool:
    return any(part in UNTRACKED_NOISE_DIRS for part in PurePosixPath(path).parts[:-1])


_ABSENT_MODE = "000000"


async def collect_delta(worktree: Worktree, only: Sequence[str] | None = None) -> TreeDelta:
    """Differences from HEAD in one `git status` walk, limited to `only` when given.

    Callers check first (GitAdminGuard) that the worktree's HEAD is still the snapshot
    commit, which makes HEAD-relative status snapshot-relative.
    """
    pathspecs = ["--", *only] if only is not None else []
    result = await worktree.git(
        [
            "--literal-pathspecs", "status", "--porcelain=v2", "-z", "--untracked-files=all",
            "--no-renames", "--ignore-submodules=dirty", *pathspecs,
        ]
    )
    indexed: dict[str, str] = {}
    untracked: list[str] = []
    staged: set[str] = set()
    for record in split_nul(result.stdout):
        kind = record[:1]
        if kind == "?":
            path = record[2:]
            if not _is_noise(path):
                untracked.append(path)
        elif kind == "1":
            fields = record.split(" ", 8)
            in_commit, on_disk = fields[3] != _ABSENT_MODE, fields[5] != _ABSENT_MODE
            if fields[1][:1] != ".":
                staged.add(fields[8])
            if not in_commit:
                indexed[fields[8]] = "A" if on_disk else "I"  # I: only the index differs
            else:
                indexed[fields[8]] = "M" if on_disk else "D"
        elif kind == "u":
            path = record.split(" ", 10)[10]
            indexed[path] = "M"  # an agent left a conflicted merge
            staged.add(path)
    return TreeDelta(indexed, untracked, frozenset(staged))


class GitAdminGuard:
    """Remembers a fresh worktree's `.git` file and admin dir to notice later tampering."""

    def __init__(self, worktree: Worktree) -> None:
        self._worktree = worktree
        stamp = self._stamp()
        self._dot_git = self._read_dot_git()
        self._admin = self._read_admin()
        self._verified_stamp = stamp
        """The files' stat when their contents last matched: the same stat again means
        the same contents, without reading them (see `_stamp`)."""

    def _read_dot_git(self) -> bytes | None:
        dot_git = self._worktree.path / ".git"
        if dot_git.is_symlink() or not dot_git.is_file():
            return None
        try:
            return dot_git.read_bytes()
        except OSError:
            return None

    def _read_admin(self) -> dict[str, bytes]:
        admin = self._worktree.admin_dir
        found: dict[str, bytes] = {}
        for dirpath, dirnames, filenames in os.walk(admin):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath, name)
                relative = full.relative_to(admin).as_posix()
                if "/" not in relative and relative.startswith(_GIT_MAINTAINED_PREFIXES):
                    continue
                try:
                    found[relative] = (
                        b"symlink:" + os.fsencode(os.readlink(full))
                        if full.is_symlink()
                        else full.read_bytes()
                    )
                except OSError:
                    found[relative] = b"<unreadable>"
        return found

    def tampered(self) -> bool:
        stamp = self._stamp()
        if stamp is not None and stamp == self._verified_stamp:
            return False
        if read_gitdir_file(self._worktree.path) != self._worktree.admin_dir:
            return True
        if self._read_dot_git() != self._dot_git or self._read_admin() != self._admin:
            return True
        self._verified_stamp = stamp  # taken before the reads: a later write changes it
        return False

    def _stamp(self) -> tuple[tuple[str, tuple[int, ...]], ...] | None:
        """Inode, size, mode, mtime and ctime of the `.git` file and of every entry of the
        admin dir that `_read_admin` compares (a read costs more than a stat). Nothing
        can write a file without changing its ctime, except within the same clock tick:
        so None (read the contents) while anything changed in the last moment."""
        now = time.time_ns()
        entries: list[tuple[str, tuple[int, ...]]] = []
        try:
            entries.append((".git", _stat_key(os.lstat(self._worktree.path / ".git"))))
            admin = self._worktree.admin_dir
            for dirpath, dirnames, filenames in os.walk(admin):
                for name in sorted([*dirnames, *filenames]):
                    relative = os.path.relpath(os.path.join(dirpath, name), admin)
                    if os.sep not in relative and relative.startswith(_GIT_MAINTAINED_PREFIXES):
                        continue
                    found = os.lstat(os.path.join(dirpath, name))
                    entries.append((relative, _stat_key(found)))
        except OSError:
            return None
        if any(key[-1] > now - _RECENT_NS for _, key in entries):  # key[-1]: the ctime
            return None
        return tuple(entries)


_RECENT_NS = 100_000_000
"""Changes this recent (0.1 s, far above the kernel's file-time tick) are not trusted to
show in a later stat."""


def _stat_key(found: os.stat_result) -> tuple[int, ...]:
    return (found.st_ino, found.st_size, found.st_mode, found.st_mtime_ns, found.st_ctime_ns)


def summarize(delta: TreeDelta, project_prefix: str, admin_tampered: bool) -> SandboxChanges:
    untracked = set(delta.untracked)
    statuses: dict[str, str] = {}
    for path, status in delta.indexed.items():
        if status == "I":
            continue  # nothing on disk changed; only a reset needs to know
        # Dropped from the index but still on disk (`git rm --cached`): the file is there.
        statuses[path] = "M" if status == "D" and path in untracked else status
    for raw in delta.untracked:
        statuses.setdefault(raw, "A")
    buckets: dict[str, list[str]] = {"A": [], "D": [], "M": []}
    outside: list[str] = []
    touched_git = admin_tampered
    lead = f"{project_prefix}/" if project_prefix else ""
    for raw, status in statuses.items():
        path = raw.rstrip("/")
        if raw.endswith("/") or ".git" in PurePosixPath(path).parts:
            touched_git = True  # a nested repository, or files inside some `.git`
        if not path.startswith(lead):
            outside.append(path)
        else:
            buckets[status if status in ("A", "D") else "M"].append(path[len(lead) :])
    return SandboxChanges(
        modified=sorted(buckets["M"]),
        added=sorted(buckets["A"]),
        deleted=sorted(buckets["D"]),
        outside_project=sorted(outside),
        touched_git=touched_git,
    )


def _delete_untracked(root: Path, paths: list[str]) -> None:
    """Remove files an agent added, then the folders that only held them."""
    parents: set[Path] = set()
    for raw in paths:
        path = root / raw.rstrip("/")
        remove_tree(path)
        parents.update(p for p in path.parents if p != root and root in p.parents)
    for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty


async def restore(worktree: Worktree, commit: str, delta: TreeDelta) -> None:
    """Put every path of `delta` back to the snapshot commit, index included."""
    if delta.untracked:
        await asyncio.to_thread(_delete_untracked, worktree.path, delta.untracked)
    if delta.indexed:
        pathspecs = b"".join(os.fsencode(p) + b"\0" for p in sorted(delta.indexed))
        await worktree.git(
            [
                "--literal-pathspecs", "checkout", "--quiet", "--no-overlay", commit,
                "--pathspec-from-file=-", "--pathspec-file-nul",
            ],
            stdin_data=pathspecs,
        )
