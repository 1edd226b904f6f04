"""Undo Ray's SIGCHLD = SIG_IGN in our processes.

With `RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper=true`, Ray's core
worker ignores SIGCHLD (in the driver and in every worker), at the C level, where
`signal.getsignal` does not see it. Children inherit that disposition across exec, so git
loses its own children ("waitpid for update-ref failed: No child processes") and our
subprocesses' exit codes vanish. Measured on Ray 2.60: SigIgn gains bit 17 after
`ray.init`.
"""

from __future__ import annotations

import ctypes
import signal

_SIG_DFL = 0


def child_signal_ignored() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGCHLD - 1) & 1)
    except OSError:
        pass
    return False


def restore_child_reaping() -> None:
    """SIGCHLD back to its default, from any thread (Python's signal.signal needs the
    main thread; the C call does not)."""
    if child_signal_ignored():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal(int(signal.SIGCHLD), _SIG_DFL)
