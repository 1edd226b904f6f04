"""Escape detection for unconfined attempts: what changed outside the sandbox meanwhile.

Only used when the user opted in to running agents unconfined. Before and after each attempt
the watched folders (the user's project, `.git` included, and the repository's sandbox folder:
the shadow and every other slot) are stamped: size, mtime, inode and mode of every entry, plus
a hash of small files (an edit that keeps size and mtime is still seen). Anything that differs,
outside the attempt's own writable folders, rejects the attempt. Unconfined attempts run one
at a time, so a change can be pinned on the attempt running then; a user saving a file in the
project meanwhile is rejected the same way (better a wasted attempt than a silent escape).
Writes elsewhere ($HOME, /tmp) are not watched: the folders are too large to stamp per attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_HASHED_FILE_LIMIT = 64 * 1024
_HASHED_TOTAL_LIMIT = 64 * 1024 * 1024
_LISTED = 12

Stamp = tuple[int, int, int, int, bytes | None]
"""(size, mtime_ns, inode, mode, blake2b of the content when small)."""


def _digest(path: str, size: int) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.blake2b(handle.read(size + 1), digest_size=16).digest()
    except OSError:
        return None


def take_stamps(roots: Iterable[Path], skip: Iterable[Path]) -> dict[str, Stamp]:
    """Stamp every entry below `roots` except the `skip` folders; never follows links."""
    skipped = {os.path.realpath(folder) for folder in skip}
    stamps: dict[str, Stamp] = {}
    budget = _HASHED_TOTAL_LIMIT
    for root in roots:
        top = os.path.realpath(root)
        if top in skipped or not os.path.isdir(top):
            continue
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
            for name in (*dirs, *files):
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                digest = None
                regular = stat.S_ISREG(info.st_mode)
                if regular and info.st_size <= _HASHED_FILE_LIMIT and budget > 0:
                    budget -= info.st_size
                    digest = _digest(path, info.st_size)
                stamps[path] = (
                    info.st_size if regular else 0, info.st_mtime_ns if regular else 0,
                    info.st_ino, info.st_mode, digest,
                )
    return stamps


def changed_paths(before: dict[str, Stamp], after: dict[str, Stamp]) -> list[str]:
    """Entries added, removed or changed between two stampings."""
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


@dataclass
class EscapeWatch:
    """Stamps `roots` (minus `skip`) around one unconfined attempt."""

    roots: Sequence[Path]
    skip: Sequence[Path]
    _before: dict[str, Stamp] | None = None

    async def start(self) -> None:
        self._before = await asyncio.to_thread(take_stamps, self.roots, self.skip)

    async def escapes(self) -> list[str]:
        """What changed outside the attempt's own folders since `start()`."""
        after = await asyncio.to_thread(take_stamps, self.roots, self.skip)
        return changed_paths(self._before or {}, after)


def describe_escapes(paths: Sequence[str], snapshot: str, who: str = "the agent") -> str:
    listed = ", ".join(paths[:_LISTED]) + (f" and {len(paths) - _LISTED} more" if
                                           len(paths) > _LISTED else "")
    return (
        f"{who} (unconfined) changed files outside its sandbox: {listed}. Their state at "
        f"the start of the run is in snapshot commit {snapshot[:12]}"
    )
