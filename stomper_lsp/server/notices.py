"""Messages for the user that must not repeat on every keystroke.

A missing ruff would otherwise pop up a window per change. Each notice has a key; a key is
shown once until `forget` (after a settings change the user may have fixed the cause).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lsprotocol import types

logger = logging.getLogger(__name__)

ShowMessage = Callable[[types.ShowMessageParams], None]


class Notices:
    def __init__(self, show: ShowMessage) -> None:
        self._show = show
        self._shown: set[str] = set()

    def once(self, key: str, message: str, kind: types.MessageType) -> bool:
        """Show `message` unless `key` was shown already; the log gets it either way."""
        logger.log(_LOG_LEVELS[kind], "%s", message)
        if key in self._shown:
            return False
        self._shown.add(key)
        self._show(types.ShowMessageParams(type=kind, message=message))
        return True

    def always(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        logger.log(_LOG_LEVELS[kind], "%s", message)
        self._show(types.ShowMessageParams(type=kind, message=message))

    def forget(self) -> None:
        self._shown.clear()


_LOG_LEVELS = {
    types.MessageType.Error: logging.ERROR,
    types.MessageType.Warning: logging.WARNING,
    types.MessageType.Info: logging.INFO,
    types.MessageType.Log: logging.DEBUG,
    types.MessageType.Debug: logging.DEBUG,
}
