"""A run's small writes (logs sent back by Ray workers, stored outcomes) on one thread of
their own, in order, with no file's branch waiting for them.

An `asyncio.to_thread` per write cost the coordinator of a Ray run about 0.6 ms of CPU
per file (a pool thread woken, a future, the event loop woken to resume the branch).
Here a write is an append to a list (the thread is woken only when it waits), and writes
that pile up while one is under way go out together (the outcome store commits them in one
transaction).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

_log = logging.getLogger(__name__)


class WriteBehind:
    """`submit` jobs; `close` before relying on what they wrote."""

    def __init__(self) -> None:
        self._writer: _Writer | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the writer thread after everything submitted before it."""
        with self._lock:
            if self._writer is None:
                self._writer = _Writer()
            self._writer.add(job)

    async def close(self) -> None:
        """Run what is queued, then end the thread (a later `submit` starts a new one)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.end()
            await asyncio.to_thread(writer.thread.join)


class _Writer:
    """One thread and its queue. It is woken only when it waits: jobs submitted while it
    writes cost an append, and it takes them all at once."""

    def __init__(self) -> None:
        self._jobs: list[Callable[[], None]] = []
        self._waiting = False
        self._ending = False
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._work, name="stomper-writes", daemon=True)
        self.thread.start()

    def add(self, job: Callable[[], None]) -> None:
        with self._changed:
            self._jobs.append(job)
            if self._waiting:
                self._changed.notify()

    def end(self) -> None:
        with self._changed:
            self._ending = True
            self._changed.notify()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._jobs and not self._ending:
                    self._waiting = True
                    self._changed.wait()
                    self._waiting = False
                if not self._jobs:
                    return
                batch, self._jobs = self._jobs, []
            for job in batch:
                try:
                    job()
                except Exception:  # one lost log or outcome must not stop the others
                    _log.warning("a background write failed", exc_info=True)
