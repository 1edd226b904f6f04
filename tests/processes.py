"""Process checks shared by tests that prove Stomper leaves no process behind."""

from __future__ import annotations

import os
import time
from pathlib import Path


def is_dead(pid: int) -> bool:
    """Dead: no such process, or a zombie whose parent (init) has not reaped it yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def wait_dead(pid: int, timeout: float = 3.0) -> bool:
    """SIGKILL is asynchronous: give the kernel a moment before calling a process a survivor."""
    deadline = time.monotonic() + timeout
    while not is_dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def children(pid: int, name: str) -> list[int]:
    """Live (not zombie) child processes of `pid` whose command name is `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, _, rest = (entry / "stat").read_text().partition(" (")[2].rpartition(") ")
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = rest.split()
        if comm == name and fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
