"""Put a new text in place of a file without ever losing a save that lands meanwhile.

Reading the file, deciding, then `os.replace` leaves a window in which the user's save is
overwritten (measured: 20 of 30 saves lost). Instead the new text is written to a temp
file beside the target and the two are swapped in one step (`renameat2(RENAME_EXCHANGE)`),
so the user's file is never gone, only moved to the temp name. Then what was swapped out
is checked: it must be exactly the bytes the decision was made on, and nobody may still
hold it open (a write lease, which the kernel grants only when no other descriptor is
open on it, taken and dropped at once: an editor mid-save would otherwise write into a
file that is about to be deleted). Anything else swaps the user's file back and reports a conflict.

Where the file system cannot exchange, the file is renamed aside and the new one linked in
(`link` fails if a save recreated the name meanwhile): no save is lost either, though for
an instant the name does not exist.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import stat
import tempfile
import uuid
from pathlib import Path
from typing import Any

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})
# Lease refusals that mean "this file system or user cannot take leases", not "busy".
_NO_LEASES = frozenset({errno.EINVAL, errno.ENOLCK, errno.EPERM, errno.EACCES, errno.ENOSYS})
_F_SETLEASE: int | None = getattr(fcntl, "F_SETLEASE", None)  # Linux only
_F_SETSIG: int | None = getattr(fcntl, "F_SETSIG", None)


class _ExchangeUnsupportedError(Exception):
    pass


def _load_renameat2() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()


def exchange(first: Path, second: Path) -> None:
    """Swap two names atomically (both must exist)."""
    if _renameat2 is None:
        raise _ExchangeUnsupportedError
    if _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                  _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        if code in _UNSUPPORTED:
            raise _ExchangeUnsupportedError
        raise OSError(code, os.strerror(code), str(first), None, str(second))


def _take_lease(fd: int) -> bool | None:
    """True: leased, nobody else has the file open; None: someone has; False: no leases here.

    A broken lease signals its holder, SIGIO by default, whose default action kills the
    process: the signal is switched to SIGURG, which is ignored unless someone handles it.
    """
    if _F_SETLEASE is None or _F_SETSIG is None:
        return False
    try:
        fcntl.fcntl(fd, _F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_WRLCK)
    except OSError as exc:
        return False if exc.errno in _NO_LEASES else None
    return True


def _drop_lease(fd: int) -> None:
    assert _F_SETLEASE is not None  # only called after a lease was taken
    fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_UNLCK)


def leases_work(folder: Path) -> bool:
    """Whether this file system grants write leases here (else only bytes are compared)."""
    fd, name = tempfile.mkstemp(prefix=".stomper-lease-", dir=folder)
    try:
        leased = _take_lease(fd)
        if leased:
            _drop_lease(fd)
        return bool(leased)
    finally:
        os.close(fd)
        os.unlink(name)


def exchange_works(folder: Path) -> bool:
    """Whether names in `folder` can be swapped atomically (else the link fallback is used)."""
    with tempfile.TemporaryDirectory(prefix=".stomper-exchange-", dir=folder) as tmp:
        first, second = Path(tmp, "a"), Path(tmp, "b")
        first.touch()
        second.touch()
        try:
            exchange(first, second)
        except _ExchangeUnsupportedError:
            return False
        return True


def _quiet_bytes(path: Path) -> bytes | None:
    """The file's bytes if no other descriptor is open on it; None if one is, or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        leased = _take_lease(fd)
        if leased is None:
            return None  # EAGAIN: someone has it open (a save in progress)
        if leased:
            # Nobody had it open; from now on only its temp name reaches it, which no
            # editor knows, so the lease can go before reading (held for microseconds).
            _drop_lease(fd)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_beside(path: Path, data: bytes, like: os.stat_result | None) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".stomper", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if like is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(like.st_mode))
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.fchown(handle.fileno(), like.st_uid, like.st_gid)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def replace_if_unchanged(path: Path, data: bytes, expected: bytes) -> bool:
    """Put `data` at `path` if it still holds exactly `expected`; True when written.

    False leaves the user's newest save at `path` (never a mix, never nothing).
    """
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(before.st_mode):
        return False
    fresh = _write_beside(path, data, before)
    try:
        ours = os.lstat(fresh).st_ino
        try:
            exchange(fresh, path)
        except _ExchangeUnsupportedError:
            return _replace_by_links(path, fresh, expected)
        # `fresh` now names what was at `path`: the user's file, as we expect it.
        if _quiet_bytes(fresh) == expected:
            try:
                return os.lstat(path).st_ino == ours  # a save may have replaced ours since
            except FileNotFoundError:
                return False
        _swap_back(path, fresh, ours)
        return False
    finally:
        fresh.unlink(missing_ok=True)


def _swap_back(path: Path, aside: Path, ours: int) -> None:
    """A save landed: put the user's file back, keeping whichever of theirs is newest."""
    exchange(aside, path)
    # `aside` now holds what was at `path`: ours, unless a newer save replaced it.
    with contextlib.suppress(FileNotFoundError):
        if os.lstat(aside).st_ino != ours:
            exchange(aside, path)  # that newer save belongs in place, the older one goes


def _replace_by_links(path: Path, fresh: Path, expected: bytes) -> bool:
    aside = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.stomper-aside")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    try:
        if _quiet_bytes(aside) != expected:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)  # exists: a newer save took the name; it stays
            return False
        try:
            os.link(fresh, path)
        except FileExistsError:
            return False  # a save created the file meanwhile: theirs stays
        return True
    finally:
        aside.unlink(missing_ok=True)


def create_if_absent(path: Path, data: bytes) -> bool:
    """Create `path` with `data` unless something appeared there; True when created."""
    fresh = _write_beside(path, data, None)
    try:
        os.link(fresh, path)
    except FileExistsError:
        return False
    finally:
        fresh.unlink(missing_ok=True)
    return True
