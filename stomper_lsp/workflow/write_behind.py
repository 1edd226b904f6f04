"""A run's small writes (logs sent back by Ray workers, stored outcomes) on one thread of
their own, in order, with no file's branch waiting for them.

An `asyncio.to_thread` per write cost the coordinator of a Ray run about 0.6 ms of CPU
per file (a pool thread woken, a future, the event loop woken to resume the branch).
Here a write is a queue put, and writes that pile up while one is under way go out
together (the outcome store commits them in one transaction).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable

_log = logging.getLogger(__name__)
_Jobs = queue.SimpleQueue[Callable[[], None] | None]


class WriteBehind:
    """`submit` jobs; `close` (or `drain`) before relying on what they wrote."""

    def __init__(self) -> None:
        self._jobs: _Jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the writer thread after everything submitted before it."""
        with self._lock:
            if self._thread is None:
                self._jobs = queue.SimpleQueue()  # each thread its own: its own end marker
                self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="stomper-writes", daemon=True
                )
                self._thread.start()
            self._jobs.put(job)

    @staticmethod
    def _work(jobs: _Jobs) -> None:
        while (job := jobs.get()) is not None:
            try:
                job()
            except Exception:  # one lost log or outcome must not stop the others
                _log.warning("a background write failed", exc_info=True)

    async def drain(self) -> None:
        """Wait until every job submitted so far has run."""
        if self._thread is None:
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.submit(lambda: done.set_result(None))
        await asyncio.wrap_future(done)

    async def close(self) -> None:
        """Drain, then end the thread (a later `submit` starts a new one)."""
        await self.drain()
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)
