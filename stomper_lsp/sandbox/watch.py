"""Which paths of a sandbox something wrote to, from the kernel (Linux inotify), not a walk.

Finding what an agent changed with `git status` stats every file of the repository, so on a
big one each file's fix paid for the whole tree twice (after the agent, after the reset).
A watch on every folder of the sandbox names the paths written instead, and `git status`
then looks at those alone. Reporting a path that did not change costs nothing (git says it
is clean); missing one would be wrong, so whenever the watch cannot vouch for what it saw
(queue overflow, a folder it could not watch, anything under a `.git`, no inotify at all)
it answers None and the caller walks the tree as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from pathlib import Path

_IN_MODIFY = 0x00000002
_IN_ATTRIB = 0x00000004
_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_FROM = 0x00000040
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_DELETE = 0x00000200
_IN_DELETE_SELF = 0x00000400
_IN_MOVE_SELF = 0x00000800
_IN_Q_OVERFLOW = 0x00004000
_IN_IGNORED = 0x00008000
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_WATCHED = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
    | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW
)
_EVENT = struct.Struct("iIII")
MAX_PATHS = 1000
"""More paths than this and one walk is cheaper than a pathspec per path."""


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


class TreeWatch:
    """Paths under `root` written since the last `take()`; use `open()` to make one."""

    def __init__(self, root: Path, fd: int) -> None:
        self.root = root
        self._fd = fd
        self._dirs: dict[int, str] = {}
        """Watch descriptor -> folder, relative to root ("" for root itself)."""
        self._touched: set[str] = set()
        self._lost = False

    @classmethod
    def open(cls, root: Path) -> TreeWatch | None:
        """A watch on every folder under `root`, or None where the kernel cannot give one."""
        if _LIBC is None:
            return None
        fd = _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return None
        watch = cls(root, fd)
        if not watch._watch_tree(""):
            watch.close()
            return None
        watch._read_events()
        watch._touched.clear()  # only writes from now on count
        return watch

    @property
    def alive(self) -> bool:
        return self._fd >= 0

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def take(self) -> list[str] | None:
        """Root-relative POSIX paths written since the last call (a folder stands for
        everything in it), or None when the watch cannot say (then walk instead)."""
        if self._fd < 0:
            return None
        self._read_events()
        touched, lost = self._touched, self._lost
        self._touched, self._lost = set(), False
        if lost:
            # Events were dropped; watching every folder again makes the next answer good.
            if not self._watch_tree(""):
                self.close()
            return None
        if len(touched) > MAX_PATHS or any(".git" in p.split("/") for p in touched):
            return None
        return sorted(touched)

    def _add(self, relative: str) -> bool:
        assert _LIBC is not None
        full = os.fsencode(self.root / relative if relative else self.root)
        wd = _LIBC.inotify_add_watch(self._fd, full, _WATCHED)
        if wd < 0:
            # Gone already (its removal is an event of the parent), or not a folder: fine.
            return ctypes.get_errno() in (errno.ENOENT, errno.ENOTDIR)
        self._dirs[wd] = relative
        return True

    def _watch_tree(self, relative: str) -> bool:
        """Watch `relative` and every folder below it; False when one cannot be watched."""
        if not self._add(relative):
            return False
        top = self.root / relative if relative else self.root
        unreadable: list[OSError] = []
        for dirpath, dirnames, _ in os.walk(top, onerror=unreadable.append):
            base = Path(dirpath).relative_to(self.root).as_posix()
            for name in dirnames:
                sub = name if base == "." else f"{base}/{name}"
                if os.path.islink(os.path.join(dirpath, name)):
                    continue
                if not self._add(sub):
                    return False
        # A folder that vanished meanwhile is fine (its parent's watch reports it); one we
        # could not list is not.
        return all(isinstance(error, FileNotFoundError) for error in unreadable)

    def _read_events(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                self._lost = True
                return
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
                offset += _EVENT.size + length
                self._handle(wd, mask, os.fsdecode(raw.rstrip(b"\0")))

    def _handle(self, wd: int, mask: int, name: str) -> None:
        if mask & _IN_Q_OVERFLOW:
            self._lost = True
            return
        folder = self._dirs.get(wd)
        if mask & _IN_IGNORED:
            self._dirs.pop(wd, None)
            return
        if folder is None:
            self._lost = True  # an event from a folder we do not know: trust nothing
            return
        if not name:  # the watched folder itself was deleted or moved away
            if folder:
                self._touched.add(folder)
            else:
                self._lost = True  # the sandbox root itself
            return
        path = f"{folder}/{name}" if folder else name
        self._touched.add(path)
        # A new folder gets watched too; files written into it before its watch existed
        # are covered, since the folder's own path stands for everything in it.
        new_folder = mask & _IN_ISDIR and mask & (_IN_CREATE | _IN_MOVED_TO)
        if new_folder and not self._watch_tree(path):
            self._lost = True
