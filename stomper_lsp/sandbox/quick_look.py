"""Looking at and putting back a sandbox's written paths without starting git.

Per file, git ran three times besides the re-check: `status` on the paths the agent wrote,
`checkout` of what it changed, and `status` again to confirm the slot was clean. On a fast
agent each start cost the coordinator more than the work itself (docs/performance.md).
When the slot's watch names every written path, the index has not moved since the slot was
last clean (so it still equals the snapshot), and nothing can convert a file between the
disk and a blob (no attributes, no autocrlf: `SnapshotReader.entry` answers None
otherwise), a written path differs from the snapshot exactly when it is gone or its bytes
or exec bit differ from the snapshot's blob, which Python compares as well as git; and
putting a file back is what `git checkout` does: unlink it and create it anew with the
blob's bytes. Whatever is not that simple (a new file git might ignore, a folder, a
symlink, a staged change, a missing parent folder) answers None or is left to git.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from stomper_lsp.sandbox.changes import TreeDelta
from stomper_lsp.sandbox.snapshot import UNTRACKED_NOISE_DIRS
from stomper_lsp.sandbox.snapshot_reader import SnapshotReader

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_LARGEST_COMPARED = 4 * 1024 * 1024
"""Files are read and written on the event loop: bigger ones go to git."""


async def quick_delta(
    root: Path, paths: Collection[str], reader: SnapshotReader
) -> TreeDelta | None:
    """What `git status` would say about repo-relative `paths` of the worktree at `root`,
    or None when only git can say. The caller vouches that nothing else was written and
    that the index still equals the snapshot."""
    indexed: dict[str, str] = {}
    for path in paths:
        if _in_cache_folder(path):
            if not await untracked_cache(root, path, reader):
                return None
            continue
        entry = await reader.entry(path)
        if entry is None or entry.kind == "other":
            return None
        try:
            found: os.stat_result | None = os.lstat(root / path)
        except FileNotFoundError:
            found = None
        except OSError:
            return None
        if entry.kind == "absent":
            if found is not None:
                return None  # a new file: git knows whether it is ignored
            continue
        if found is None:
            indexed[path] = "D"
            continue
        if not stat.S_ISREG(found.st_mode) or found.st_size > _LARGEST_COMPARED:
            return None  # a big file is git's to compare, off the event loop
        if bool(found.st_mode & stat.S_IXUSR) != entry.executable:
            return None  # whether that counts depends on core.fileMode: git decides
        data = await reader.blob(entry.object_id)
        if data is None:
            return None
        if found.st_size != len(data):
            indexed[path] = "M"
            continue
        on_disk = _read_regular(root / path)
        if on_disk is None:
            return None
        if on_disk != data:
            indexed[path] = "M"
    return TreeDelta(indexed)


async def only_untracked_caches(
    root: Path, paths: Collection[str], reader: SnapshotReader
) -> bool:
    """Every path is inside a checker cache folder the snapshot does not have (what
    `git status` never reports and a reset never touches)."""
    for path in paths:
        if not _in_cache_folder(path) or not await untracked_cache(root, path, reader):
            return False
    return True


async def untracked_cache(root: Path, path: str, reader: SnapshotReader) -> bool:
    """`path` lies in (or is) a cache folder (`.ruff_cache`, `__pycache__`...) that the
    snapshot does not hold, so git ignores it in a sandbox whatever it contains."""
    parts = PurePosixPath(path).parts
    first = next((i for i, part in enumerate(parts) if part in UNTRACKED_NOISE_DIRS), None)
    if first is None:
        return False
    entry = await reader.entry("/".join(parts[: first + 1]))
    if entry is None or entry.kind != "absent":
        return False
    if first < len(parts) - 1:
        return True
    # The folder's own path: only a real folder is a cache (a file of that name is not).
    try:
        return stat.S_ISDIR(os.lstat(root / path).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


async def restore_directly(root: Path, delta: TreeDelta, reader: SnapshotReader) -> TreeDelta:
    """Put back the modified and deleted files of `delta` whose index entry is untouched,
    as `git checkout` would; returns the `indexed` part left for git (untracked files are
    the caller's)."""
    rest: dict[str, str] = {}
    for path, status in sorted(delta.indexed.items()):
        if status in ("M", "D") and path not in delta.staged:
            entry = await reader.entry(path)
            if entry is not None and entry.kind == "file":
                data = await reader.blob(entry.object_id)
                if (
                    data is not None and len(data) <= _LARGEST_COMPARED
                    and _write_new_file(root, path, data, entry.executable)
                ):
                    continue
        rest[path] = status
    return TreeDelta(rest, [], delta.staged & rest.keys())


def _in_cache_folder(path: str) -> bool:
    return any(part in UNTRACKED_NOISE_DIRS for part in PurePosixPath(path).parts)


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file, never through a symlink; None when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_new_file(root: Path, path: str, data: bytes, executable: bool) -> bool:
    """Replace whatever is at `path` with a new file holding `data`, created like git
    creates it (mode 0666 or 0777, less the umask). Each parent folder is opened without
    following symlinks, so a folder an agent swapped for a link cannot lead the write out
    of the sandbox. False (nothing done, or only the old entry removed) when a parent is
    missing or not a folder, or `path` is a folder: git handles those."""
    parts = path.split("/")
    try:
        folder = os.open(root, _DIR_FLAGS)
    except OSError:
        return False
    try:
        for name in parts[:-1]:
            inner = os.open(name, _DIR_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
        name = parts[-1]
        try:
            found = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            found = None
        if found is not None:
            if stat.S_ISDIR(found.st_mode):
                return False
            os.unlink(name, dir_fd=folder)
        fd = os.open(name, _NEW_FILE_FLAGS, 0o777 if executable else 0o666, dir_fd=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(folder)
