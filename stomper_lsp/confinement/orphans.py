"""What a killed run leaves outside its sandboxes: its temp folder and, without bubblewrap,
agent processes. Swept at the start of the next run.

- Run folders `$TMPDIR/stomper-run-<id>-*` (prompts, private temp folders, mypy caches) carry
  an owner file; one whose owner process is gone is removed.
- Every confined process carries `STOMPER_RUN_ID` and `STOMPER_RUN_OWNER=<pid>:<start ticks>`
  in its environment. A process of this user with that marker whose owner is dead (or whose
  pid was recycled) is provably a leftover of ours and is killed. Under bubblewrap this never
  finds anything (`--die-with-parent` took the tree down); with Landlock only or unconfined,
  the launcher kills its tree when Stomper dies, and this catches what a `kill -9` of the
  launcher itself left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from stomper_lsp.confinement.spec import RUN_ID_ENV, RUN_OWNER_ENV
from stomper_lsp.sandbox.layout import (
    OWNER_FILE,
    OwnerRecord,
    owner_alive,
    read_owner,
    remove_tree,
)

RUN_DIR_PREFIX = "stomper-run-"
# A run folder without an owner file (made by a version before this one, or a run killed
# between creating it and writing the file) is left alone this long.
_OWNERLESS_GRACE_S = 3600.0


def mark_run_dir(run_dir: Path, repo_root: Path) -> None:
    """Write the owner file that lets a later sweep tell this run's folder from a live one."""
    record = OwnerRecord.for_this_process(repo_root)
    (run_dir / OWNER_FILE).write_text(json.dumps(asdict(record)), encoding="utf-8")


def sweep_run_dirs(temp_dir: Path | None = None) -> list[Path]:
    """Remove this user's run folders whose owner process is dead; returns them."""
    folder = Path(temp_dir or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(RUN_DIR_PREFIX)]
    except OSError:
        return removed
    for candidate in candidates:
        try:
            info = candidate.lstat()
        except OSError:
            continue
        if not candidate.is_dir() or candidate.is_symlink() or info.st_uid != os.getuid():
            continue
        owner = read_owner(candidate)
        if owner is None:
            if time.time() - info.st_mtime < _OWNERLESS_GRACE_S:
                continue
        elif owner_alive(owner):
            continue
        remove_tree(candidate)
        if not candidate.exists():
            removed.append(candidate)
    return removed


def _marker(pid: int) -> tuple[str, str] | None:
    """(run id, owner) from a process's environment, when it carries our marker."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    run_id = owner = None
    for entry in raw.split(b"\0"):
        if entry.startswith(RUN_ID_ENV.encode() + b"="):
            run_id = entry.split(b"=", 1)[1].decode(errors="replace")
        elif entry.startswith(RUN_OWNER_ENV.encode() + b"="):
            owner = entry.split(b"=", 1)[1].decode(errors="replace")
    return (run_id, owner) if run_id and owner else None


def _owner_dead(owner: str) -> bool:
    try:
        pid_text, ticks_text = owner.split(":", 1)
        record = OwnerRecord(
            pid=int(pid_text), start_ticks=int(ticks_text) or None, host=os.uname().nodename,
            repo_root="", created_at=0.0,
        )
    except ValueError:
        return False  # not a marker we wrote: not provably ours
    return not owner_alive(record)


def kill_orphaned_agents() -> list[int]:
    """SIGKILL this user's processes that carry a dead run's marker; returns their pids."""
    me = os.getpid()
    killed: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.getuid():
                continue
        except OSError:
            continue
        marker = _marker(pid)
        if marker is None or not _owner_dead(marker[1]):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def sweep_leftovers() -> tuple[list[int], list[Path]]:
    """Both sweeps above; best effort, never raises for what it cannot remove."""
    try:
        killed = kill_orphaned_agents()
    except OSError:
        killed = []
    return killed, sweep_run_dirs()
