"""pygls' protocol, with every request guaranteed an answer.

pygls drops requests that arrive after `shutdown`, and a request whose params do not
match the method's schema is logged but never answered: the client waits forever. Here
both get a JSON-RPC error instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MalformedRequest:
    """A request pygls could not structure: answered with InvalidParams."""

    id: int | str
    method: str
    problem: str


class StomperProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data and isinstance(data["id"], int | str):
                cause = exc.__cause__ or exc
                return MalformedRequest(data["id"], str(data["method"]), str(cause))
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, MalformedRequest):
            logger.warning("%s: invalid params: %s", message.method, message.problem)
            invalid = JsonRpcInvalidParams(
                f"Invalid params for {message.method}: {message.problem.splitlines()[0]}"
            )
            self._send_response(message.id, error=invalid.to_response_error())
            return
        method = getattr(message, "method", None)
        if self._shutdown and method and method != types.EXIT and hasattr(message, "id"):
            if method == types.SHUTDOWN:  # asking twice is harmless: same answer
                self._send_response(message.id, result=None)
                return
            error = JsonRpcInvalidRequest(f"{method}: the server is shutting down")
            self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)
