"""Close the branches a cancelled run never started.

With `max_concurrency`, LangGraph wraps each branch's coroutine in `gated(semaphore, coro)`.
A run cancelled while branches still wait for the semaphore drops those coroutines
unstarted, and Python then warns "coroutine 'arun_with_retry' was never awaited" into the
user's log (seen in Neovim after every cancel). Closing the coroutine that will never run
is what LangGraph would do; this replaces `gated` with exactly that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from langgraph.pregel import _executor

_T = TypeVar("_T")


async def _gated_closing(semaphore: asyncio.Semaphore, coro: Coroutine[Any, Any, _T]) -> _T:
    """LangGraph's `gated`, but a coroutine that never got the semaphore is closed."""
    try:
        await semaphore.acquire()
    except BaseException:
        coro.close()
        raise
    try:
        return await coro
    finally:
        semaphore.release()


def apply() -> None:
    """Idempotent; a LangGraph without `gated` (a later release) is left as it is."""
    if getattr(_executor, "gated", None) is not None and _executor.gated is not _gated_closing:
        _executor.gated = _gated_closing
