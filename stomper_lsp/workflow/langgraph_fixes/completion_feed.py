"""Wait for the next finished branch in O(1), not O(pending branches).

LangGraph creates every `Send` branch's task at once and parks it behind
`max_concurrency`'s semaphore. After each completion its runner calls
`asyncio.wait(futures, return_when=FIRST_COMPLETED)` over all of them, and `asyncio.wait`
adds and then removes a done-callback on every pending future: about 8 us per parked
branch per finished file, so a run's coordinator cost grows with the square of its files
(10,000 files: 64 ms of CPU per file). Here each future of the runner's `FuturesDict` gets one
callback when it is added, which feeds a list of finished futures, and the runner's wait
takes from that list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from langgraph.pregel import _runner


class _FeedingFuturesDict(_runner.FuturesDict):  # type: ignore[type-arg]
    """LangGraph's `FuturesDict`, also recording which of its asyncio futures finished."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.finished: list[asyncio.Future[Any]] = []
        self.wakeup: asyncio.Future[None] | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if isinstance(key, asyncio.Future):
            key.add_done_callback(self._record)

    def _record(self, future: asyncio.Future[Any]) -> None:
        self.finished.append(future)
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def wait_first(
        self, timeout: float | None
    ) -> tuple[set[asyncio.Future[Any]], _Pending]:
        """What `asyncio.wait(self, FIRST_COMPLETED)` returns, without touching every future."""
        if not self.finished:
            self.wakeup = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.wakeup, timeout)
            except TimeoutError:
                pass
            finally:
                self.wakeup = None
        done = {future for future in self.finished if future in self}
        self.finished.clear()
        return done, _Pending(self, done)


class _Pending:
    """The runner only asks whether anything is still pending (after popping what finished),
    so that is counted when the wait returns; the set itself is built only if iterated."""

    def __init__(self, futures: dict[Any, Any], done: set[Any]) -> None:
        self._futures = futures
        self._done = done
        self._count = len(futures) - len(done)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[Any]:
        return (future for future in self._futures if future not in self._done)


async def _wait(fs: Any, *, timeout: float | None = None,
                return_when: str = asyncio.ALL_COMPLETED) -> Any:
    if return_when == asyncio.FIRST_COMPLETED and isinstance(fs, _FeedingFuturesDict):
        return await fs.wait_first(timeout)
    return await asyncio.wait(fs, timeout=timeout, return_when=return_when)


class _AsyncioWithFeed(ModuleType):
    """`asyncio` as the runner module sees it, with `wait` taking from the feed."""

    wait = staticmethod(_wait)

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def apply() -> None:
    """Idempotent; a runner without `FuturesDict` or its `asyncio.wait` loop is left alone."""
    if not hasattr(_runner, "FuturesDict") or getattr(_runner, "asyncio", None) is not asyncio:
        return
    # setattr: mypy refuses assigning to a class or to an unexported module attribute.
    setattr(_runner, "FuturesDict", _FeedingFuturesDict)  # noqa: B010
    setattr(_runner, "asyncio", _AsyncioWithFeed("asyncio"))  # noqa: B010
