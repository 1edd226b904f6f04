"""Logging: to the client's `window/logMessage` and, if asked, a file. Never stdout:
stdout carries the protocol, one stray byte there breaks the session."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

# Only the standard library above: main() configures logging before the slow imports.
PACKAGE_LOGGER = "stomper_lsp"
LOG_LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# pygls warns when a client cancels a request that already finished: every editor does,
# all day long; it is not a problem and must not reach the user's log as a warning.
_PYGLS_NOISE = ("Cancel notification for unknown message id",)
_clients: list[LanguageServer] = []
"""The server whose client's log takes Stomper's records (see attach_client)."""


def _client_ready() -> bool:
    return any(server.protocol.writer is not None for server in _clients)


class _QuietPygls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("pygls")
            and isinstance(record.msg, str)
            and record.msg.startswith(_PYGLS_NOISE)
        )


class _NotWhatTheClientShows(logging.Filter):
    """Stomper's own records go to the client's log once one is attached; editors show our
    stderr in the same output channel, so printing them there too doubled every line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_client_ready() and record.name.startswith(PACKAGE_LOGGER))


class ClientLogHandler(logging.Handler):
    """Sends Stomper's own records to the client (pygls' logs stay out: they log every
    message sent, which would recurse)."""

    def __init__(self, server: LanguageServer) -> None:
        from lsprotocol import types

        super().__init__()
        self._types = types
        self._levels = (
            (logging.ERROR, types.MessageType.Error),
            (logging.WARNING, types.MessageType.Warning),
            (logging.INFO, types.MessageType.Info),
        )
        self._server = server
        self._busy = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "active", False) or self._server.protocol.writer is None:
            return
        types = self._types
        kind = next((t for level, t in self._levels if record.levelno >= level),
                    types.MessageType.Log)
        self._busy.active = True
        try:
            self._server.window_log_message(
                types.LogMessageParams(type=kind, message=self.format(record))
            )
        except Exception:  # a dead pipe must not turn logging into a crash
            self.handleError(record)
        finally:
            self._busy.active = False


def configure_logging(level: int, log_file: Path | None) -> None:
    """Stomper logs at `level`; pygls only warnings; everything to `log_file` if given."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    else:
        errors = logging.StreamHandler()  # stderr: editors show it in their server log
        errors.setLevel(logging.WARNING)
        errors.setFormatter(logging.Formatter(_FORMAT))
        errors.addFilter(_NotWhatTheClientShows())
        root.addHandler(errors)
    for attached in root.handlers:
        attached.addFilter(_QuietPygls())
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)
    logging.getLogger("pygls").setLevel(logging.WARNING)


def attach_client(server: LanguageServer) -> None:
    logging.getLogger(PACKAGE_LOGGER).addHandler(ClientLogHandler(server))
    _clients.append(server)


def set_level(level: int) -> None:
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)
