"""The bytes an attempt is judged on: read once, after the agent's process has ended.

The checkers read files from disk, and a process the agent left behind may still write
there. So the files are captured once (never through a symbolic link), the checkers run,
and then the files are hashed again: any difference rejects the attempt ("a file changed
after the agent finished"). What is merged and delivered is the captured text, never a
later read of the sandbox.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.sandbox.snapshot import decode_text
from stomper_lsp.symlinks import link_refusal

_ABSENT = ""


class UncapturableFileError(Exception):
    """A file to be judged is not a regular file (a link, a folder, unreadable)."""


def _read_plain_file(root: Path, path: str) -> bytes | None:
    """Bytes of a regular file at `root/path`; None when absent; raises for anything else."""
    refusal = link_refusal(root, path)
    if refusal:
        raise UncapturableFileError(refusal)
    full = root / path
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UncapturableFileError(
                f"{path} is a symbolic link; Stomper never edits or writes through a link"
            ) from exc
        raise UncapturableFileError(f"{path} cannot be read: {exc.strerror}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UncapturableFileError(f"{path} is not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _digest(data: bytes | None) -> str:
    return _ABSENT if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Capture:
    """Captured bytes (None: absent) and their sha256 per project-relative path."""

    root: Path
    data: dict[str, bytes | None]
    digests: dict[str, str]

    def text(self, path: str) -> str | None:
        data = self.data[path]
        return None if data is None else decode_text(data)

    def changed_since(self) -> list[str]:
        """Paths whose bytes on disk are no longer the captured ones (re-hashed now)."""
        changed = []
        for path, digest in self.digests.items():
            try:
                now = _digest(_read_plain_file(self.root, path))
            except UncapturableFileError:
                now = "unreadable"
            if now != digest:
                changed.append(path)
        return sorted(changed)

    async def changed_since_async(self) -> list[str]:
        return await asyncio.to_thread(self.changed_since)


def capture_files(root: Path, paths: Iterable[str]) -> Capture:
    data = {path: _read_plain_file(root, path) for path in sorted(set(paths))}
    return Capture(root, data, {path: _digest(found) for path, found in data.items()})


async def capture(root: Path, paths: Iterable[str]) -> Capture:
    """Read every file in `paths` once; raises UncapturableFileError naming a bad one."""
    return await asyncio.to_thread(capture_files, root, list(paths))
