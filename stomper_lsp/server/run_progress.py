"""Work-done progress for one fix run: a fresh token, created only if the client can.

pygls never frees a finished token, so each run gets a new uuid. Cancelling from the
client's progress UI cancels the token's future; that cancels the run's task.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from stomper_lsp.workflow.report import ProgressEvent

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)


def progress_message(event: ProgressEvent) -> str:
    text = f"{event.done}/{event.total} files · {event.running} running"
    if event.path and event.kind in ("started", "attempt", "merged", "failed", "conflict"):
        text += f" · {event.kind} {event.path}"
    elif event.kind == "testing":
        text += f" · {event.path + ': ' if event.path else ''}{event.message}"
    return text


class RunProgress:
    def __init__(self, server: StomperServer, title: str) -> None:
        self._server = server
        self._title = title
        self._token: str | None = None
        self._last: tuple[str, int] | None = None
        self._percentage = 0

    async def begin(self, on_cancel: Callable[[], object]) -> None:
        if not self._server.features.work_done_progress:
            return
        token = str(uuid.uuid4())
        progress = self._server.work_done_progress
        try:
            await progress.create_async(token)
        except Exception as exc:  # the client refused: run without a progress bar
            logger.info("no progress bar: the client refused the token (%s)", exc)
            return
        self._token = token
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=self._title, cancellable=True, message="Preparing…", percentage=0
            ),
        )
        loop = asyncio.get_running_loop()

        def cancelled(future: Future[Any]) -> None:
            if future.cancelled():
                loop.call_soon_threadsafe(on_cancel)

        progress.tokens[token].add_done_callback(cancelled)

    def report(self, event: ProgressEvent) -> None:
        if self._token is None:
            return
        if event.total:
            self._percentage = max(self._percentage, min(100, event.done * 100 // event.total))
        message = progress_message(event)
        if (message, self._percentage) == self._last:
            return
        self._last = (message, self._percentage)
        self._server.work_done_progress.report(
            self._token,
            types.WorkDoneProgressReport(message=message, percentage=self._percentage),
        )

    def end(self, message: str) -> None:
        if self._token is None:
            return
        self._server.work_done_progress.end(
            self._token, types.WorkDoneProgressEnd(message=message)
        )
        self._token = None
