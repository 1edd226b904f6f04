"""pygls' protocol, with every request guaranteed an answer, and a short one.

pygls drops requests that arrive after `shutdown`, and a request whose params do not
match the method's schema is logged but never answered: the client waits forever. A
request before `initialize` was never answered either (or failed with a traceback).
Here all of them get the JSON-RPC error the spec names, and no error message echoes a
client's huge argument back (a 50 MB argument came back as a 52 MB error).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol

logger = logging.getLogger(__name__)

_writes: set[asyncio.Future[Any]] = set()
"""Writes of an asynchronous writer still under way (held: a bare task may be collected)."""
MAX_ERROR_MESSAGE = 500
"""Characters of an error message sent to the client (or logged about its request)."""


def shorten(text: str, limit: int = MAX_ERROR_MESSAGE) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class MalformedRequest:
    """A request pygls could not structure: answered with InvalidParams."""

    id: int | str
    method: str
    problem: str


class StomperProtocol(LanguageServerProtocol):
    _stomper_initialized = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data and isinstance(data["id"], int | str):
                cause = exc.__cause__ or exc
                return MalformedRequest(data["id"], str(data["method"]), str(cause))
            raise

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        try:
            super()._send_handler_result(future, msg_id=msg_id)
        finally:
            _forget_traceback(future)

    def _check_handler_result(self, future: Any) -> None:
        try:
            super()._check_handler_result(future)
        finally:
            _forget_traceback(future)

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if not self._stomper_initialized and method:
            if method == types.INITIALIZE:
                self._stomper_initialized = True
            elif method != types.EXIT:
                self._before_initialize(message, method)
                return
        if isinstance(message, MalformedRequest):
            problem = shorten(message.problem.splitlines()[0] if message.problem else "")
            logger.warning("%s: invalid params: %s", message.method, problem)
            invalid = JsonRpcInvalidParams(f"Invalid params for {message.method}: {problem}")
            self._send_response(message.id, error=invalid.to_response_error())
            return
        if self._shutdown and method and method != types.EXIT and hasattr(message, "id"):
            if method == types.SHUTDOWN:  # asking twice is harmless: same answer
                self._send_response(message.id, result=None)
                return
            error = JsonRpcInvalidRequest(f"{method}: the server is shutting down")
            self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)

    def _handle_response(
        self, msg_id: Any, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        """An answer to a request Stomper stopped waiting for (a run cancelled while it
        asked for a progress token or applied its edit) is dropped: pygls would set it on
        the cancelled future and log an InvalidStateError to the editor as an error."""
        future = self._request_futures.get(msg_id)
        if future is not None and future.cancelled():
            del self._request_futures[msg_id]
            logger.debug("answer to request %s after Stomper stopped waiting: dropped", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    def _before_initialize(self, message: Any, method: str) -> None:
        """Requests get -32002; notifications are dropped, as the spec says."""
        msg_id = getattr(message, "id", None)
        if msg_id is None:
            logger.info("%s before initialize: dropped", method)
            return
        error = JsonRpcServerNotInitialized(f"{method}: the server is not initialized yet")
        self._send_response(msg_id, error=error.to_response_error())

    def _send_response(
        self, msg_id: Any, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        if error is not None and (len(error.message) > MAX_ERROR_MESSAGE or error.data):
            error = types.ResponseError(code=error.code, message=shorten(error.message))
        super()._send_response(msg_id, result=result, error=error)

    def unstructure(self, value: Any) -> Any:
        """`value` as the JSON-ready data pygls would send for it."""
        return self._converter.unstructure(value)

    def notify_json(self, method: str, params: str) -> None:
        """A notification whose params are JSON text already: a keystroke's publish reuses
        the unchanged diagnostics' text instead of converting and serialising all of them
        again (0.5 + 0.4 ms of the edit latency on a file with 127 findings)."""
        if self.writer is None:
            logger.error("Unable to send data, no available transport!")
            return
        body = f'{{"jsonrpc": "2.0", "method": {json.dumps(method)}, "params": {params}}}'
        data = body.encode(self.CHARSET)
        if self._include_headers:  # as pygls' _send_data frames it
            header = (
                f"Content-Length: {len(data)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            )
            data = header.encode(self.CHARSET) + data
        try:
            written = self.writer.write(data)
            if inspect.isawaitable(written):  # a websocket's writer
                pending = asyncio.ensure_future(written)
                _writes.add(pending)
                pending.add_done_callback(_writes.discard)
        except BrokenPipeError:
            logger.exception("Error sending data. BrokenPipeError", exc_info=True)
            raise


def _forget_traceback(future: Any) -> None:
    """Once pygls has answered or logged a failed handler, its traceback is dropped: it holds
    the handler's frames and so the message's arguments (a 50 MB argument stayed in memory
    for the rest of the session), and nothing reads it afterwards."""
    error = None if future.cancelled() else future.exception()
    if error is not None:
        error.__traceback__ = None
        error.__context__ = None
