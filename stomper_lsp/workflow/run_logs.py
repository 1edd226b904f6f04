"""Per-run log folders that one run never prunes from under another.

Several runs (two terminals, an editor and a terminal, two users sharing STOMPER_LOG_DIR)
write into the same log root. Each run holds an exclusive lock on a file in its own
folder for as long as it runs; pruning takes only folders whose lock is free (the run
ended or died), that belong to this user, and that are older than a week: never a live
run's logs, and never the logs someone is about to read.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".running"
MAX_AGE_S = 7 * 24 * 3600


class RunLogDir:
    """The log folder of one run, locked while the run lives (a context manager)."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.path = root / run_id
        self._fd: int | None = None

    def __enter__(self) -> RunLogDir:
        self.path.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def _in_use(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def prune_run_logs(
    root: Path, *, max_age_s: float = MAX_AGE_S, now: float | None = None
) -> list[Path]:
    """Remove ended runs' folders of this user older than `max_age_s`; returns them."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return removed
    for folder in folders:
        try:
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid != os.getuid() or now - info.st_mtime < max_age_s or _in_use(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
