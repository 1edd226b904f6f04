"""Offer to resume a fix-all that a killed server or a closed editor interrupted.

A fix-all is recorded as open in the outcome store when it starts and closed when it ends
the way the user meant it to (delivered, nothing to do, refused to start, or cancelled by
the user). A run cut short by shutdown, SIGTERM or SIGKILL stays open; the next server for
that folder asks, once, whether to resume it (`stomper.resume`: the files it finished are
merged from their stored results, not fixed again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from lsprotocol import types

from stomper_lsp.server.projects import Folder
from stomper_lsp.workflow.outcome_store import OutcomeStore

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)
RESUME = "Resume"
DISCARD = "Discard"


class InterruptedRuns:
    def __init__(self, server: StomperServer) -> None:
        self._server = server
        self._store = OutcomeStore()
        self._offers: set[asyncio.Task[None]] = set()

    async def started(self, folder: Folder) -> None:
        await self._store.fix_all_started(folder.path)

    async def ended(self, folder: Folder) -> None:
        await self._store.fix_all_ended(folder.path)

    def offer_all(self) -> None:
        """Ask about each folder in the background (never block `initialized`)."""
        for folder in self._server.registry.folders:
            task = asyncio.ensure_future(self._offer(folder))
            self._offers.add(task)
            task.add_done_callback(self._offers.discard)

    async def _offer(self, folder: Folder) -> None:
        started = await self._store.interrupted_fix_all(folder.path)
        if started is None or self._server.fixes.running(folder.uri):
            return
        ago = _ago(time.time() - started)
        message = (
            f"Stomper: the fix-all of {folder.path.name} started {ago} did not finish (the "
            "server or editor stopped). Resume it? Files it already fixed are not redone."
        )
        logger.info("%s", message)
        try:
            answer = await self._server.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Info,
                    message=message,
                    actions=[types.MessageActionItem(RESUME), types.MessageActionItem(DISCARD)],
                )
            )
        except Exception as exc:  # a client without message requests: the command remains
            logger.info("could not offer to resume: %s", exc)
            return
        title = answer.title if answer is not None else None
        if title == RESUME:
            self._server.commands.fix_all([folder.uri], resume=True)
        elif title == DISCARD:
            await self._store.fix_all_ended(folder.path)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return "a minute ago"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes ago"
    if seconds < 129600:
        return f"{round(seconds / 3600)} hours ago"
    return f"{round(seconds / 86400)} days ago"
