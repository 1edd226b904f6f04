"""A snapshot as git data for another machine: a bundle of the commit's objects.

A node that already has the snapshot's parent (the user's HEAD, from an earlier run) needs
only `HEAD..snapshot`: the files that differ, a few kilobytes. A node without it gets every
object once. Bundles travel as bytes (through Ray's object store), never a shared disk.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git_dir
from stomper_lsp.sandbox.snapshot import Snapshot

_BUNDLE_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class SnapshotBundle:
    data: bytes
    ref: str
    """The ref the bundle carries; it names the snapshot commit."""
    prerequisite: str | None
    """The commit a receiving repository must already have (None: a full bundle)."""


async def snapshot_parent(snapshot: Snapshot) -> str | None:
    """The snapshot's parent (the user's HEAD), or None for a repository without commits."""
    result = await run_git_dir(
        snapshot.shadow_dir, ["rev-parse", "--verify", "--quiet", f"{snapshot.commit}^"],
        check=False,
    )
    parent = result.stdout_text.strip()
    return parent if result.returncode == 0 and parent else None


async def create_bundle(snapshot: Snapshot, ref: str, *, since: str | None) -> SnapshotBundle:
    """A bundle of `ref` (which must point at the snapshot), minus what `since` has."""
    fd, name = tempfile.mkstemp(prefix="stomper-bundle-", suffix=".bundle")
    os.close(fd)
    path = Path(name)
    try:
        path.unlink()  # git refuses to write over an existing file
        rev_args = [ref, f"^{since}"] if since else [ref]
        result = await run_git_dir(
            snapshot.shadow_dir,
            ["bundle", "create", "--quiet", str(path), *rev_args],
            timeout=_BUNDLE_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0 or not path.is_file():
            raise SandboxError(
                f"git could not bundle the snapshot {snapshot.commit[:12]}: "
                f"{result.stderr_text.strip() or result.returncode}"
            )
        return SnapshotBundle(path.read_bytes(), ref, since)
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
