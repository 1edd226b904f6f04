"""Which folder a run's sandboxes go in: memory when it has room, else the system temp folder.

A sandbox is a full checkout made for one run and deleted after it. On a disk file system
creating and deleting thousands of small files is what a run on a big repository spends its
set-up and clean-up on (0.5 ms per file on a virtual disk, 0.02 ms on tmpfs), so, like
Bazel's `--sandbox_base=/dev/shm`, sandboxes go on a RAM file system when one is mounted
(`$XDG_RUNTIME_DIR`, `/dev/shm`), writable, allows running programs (agents and test
commands execute files from the sandbox), and holds every slot's checkout with room to
spare for the rest of the machine. Otherwise, and whenever `STOMPER_SANDBOX_DIR` names a
folder, nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.sandbox.git import run_git
from stomper_lsp.sandbox.layout import configured_base_dir, default_base_dir, ram_base_dirs
from stomper_lsp.sandbox.repository import RepositoryLocation

_RAM_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})
_PAGE = 4096
_PER_FILE_OVERHEAD = 1024  # inode and directory entry, roughly
_SHARE_OF_FREE_SPACE = 0.5
_SHARE_OF_AVAILABLE_MEMORY = 0.25


@dataclass(frozen=True)
class Room:
    """What a candidate folder's file system offers."""

    file_system: str
    free_bytes: int
    writable: bool
    executable: bool


def all_bases() -> list[Path]:
    """Every folder this user's runs may have put sandboxes in (for the start-up sweep)."""
    configured = configured_base_dir()
    if configured is not None:
        return [configured]
    return [*ram_base_dirs(), default_base_dir()]


def _mount_of(path: Path, mounts_text: str) -> tuple[str, str] | None:
    """(mount point, file system type) of the deepest mount holding `path`."""
    best: tuple[str, str] | None = None
    target = str(path)
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    return best


def room_at(folder: Path) -> Room | None:
    """The file system `folder` (or its nearest existing parent) lives on; None if unknown."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            return None
        existing = existing.parent
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
        stats = os.statvfs(existing)
    except OSError:
        return None
    mount = _mount_of(Path(os.path.realpath(existing)), mounts)
    if mount is None:
        return None
    return Room(
        file_system=mount[1],
        free_bytes=stats.f_bavail * stats.f_frsize,
        writable=not stats.f_flag & os.ST_RDONLY and os.access(existing, os.W_OK | os.X_OK),
        executable=not stats.f_flag & os.ST_NOEXEC,
    )


def available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def fits(room: Room, needed: int, memory: int | None) -> bool:
    if room.file_system not in _RAM_FILE_SYSTEMS or not room.writable or not room.executable:
        return False
    if needed > room.free_bytes * _SHARE_OF_FREE_SPACE:
        return False
    return memory is not None and needed <= memory * _SHARE_OF_AVAILABLE_MEMORY


async def checkout_bytes(location: RepositoryLocation) -> int:
    """Roughly what one checkout of the repository occupies in RAM (page-rounded files).

    Read from the sizes git's index records for the working tree, so nothing is walked.
    """
    result = await run_git(
        location.repo_root,
        ["ls-files", "--debug"],
        env={"GIT_INDEX_FILE": str(location.index_file)},
        check=False,
    )
    total = 0
    for line in result.stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(b"size: "):
            size = int(stripped.split()[1])
            total += -(-size // _PAGE) * _PAGE + _PER_FILE_OVERHEAD
    return total


async def choose_base_dir(
    location: RepositoryLocation,
    slots: int,
    *,
    room: Callable[[Path], Room | None] | None = None,
    memory: Callable[[], int | None] | None = None,
) -> Path:
    """Where this run's shadow and sandboxes go (see the module docstring)."""
    room = room or room_at
    memory = memory or available_memory
    configured = configured_base_dir()
    if configured is not None:
        return configured
    fallback = default_base_dir().resolve()
    if _is_ram(room(fallback)):
        return fallback  # the system temp folder is in memory already (as on many distros)
    candidates = [(path, found) for path in ram_base_dirs() if _is_ram(found := room(path))]
    if not candidates:
        return fallback
    one_checkout = await checkout_bytes(location)
    if one_checkout == 0:
        return fallback  # nothing staged yet (a new repository): its size is unknown
    needed = one_checkout * slots
    available = memory()
    for path, found in candidates:
        if found is not None and fits(found, needed, available):
            return path
    return fallback


def _is_ram(room: Room | None) -> bool:
    return room is not None and room.file_system in _RAM_FILE_SYSTEMS
