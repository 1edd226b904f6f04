"""Answer `initialize` before pygls and lsprotocol have finished importing.

Importing lsprotocol alone takes about 0.45 s (it defines ~1,000 attrs classes), too slow
for an editor waiting on `initialize`. So a thread imports the server while this thread
reads the first message with the standard library only and, if it is `initialize`,
answers with the capabilities pygls would compute (a test keeps the two identical). The
request is then replayed into pygls with its answer discarded, so pygls' state (client
capabilities, workspace, position encoding) is exactly as if pygls had answered; every
later message simply waits until the import is done.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from stomper_lsp import __version__
from stomper_lsp.server.action_kinds import ADVERTISED as ADVERTISED_KINDS
from stomper_lsp.server.framing import Event, Frame, FrameParser

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

_ENCODINGS = ("utf-8", "utf-16", "utf-32")
COMMANDS = ["stomper.fixFile", "stomper.fixAll", "stomper.resume", "stomper.cancel"]


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def initialize_result(params: Any) -> dict[str, Any]:
    """The InitializeResult pygls computes for `params` (JSON form)."""
    encoding = "utf-16"
    offered = _get(params, "capabilities", "general", "positionEncodings")
    if isinstance(offered, list):
        encoding = next((e for e in offered if e in _ENCODINGS), encoding)
    sync: dict[str, Any] = {"openClose": True, "change": 1}  # Full (see server.py)
    client_sync = _get(params, "capabilities", "textDocument", "synchronization")
    for key in ("willSave", "willSaveWaitUntil"):
        # pygls: `client_flag and feature_registered`; neither feature is registered.
        value = _get(client_sync, key)
        if value is not None:
            sync[key] = False if value else value
    sync["save"] = {"includeText": False}
    return {
        "capabilities": {
            "positionEncoding": encoding,
            "textDocumentSync": sync,
            "codeActionProvider": {"codeActionKinds": list(ADVERTISED_KINDS)},
            "executeCommandProvider": {"commands": COMMANDS},
            "diagnosticProvider": {
                "interFileDependencies": True,
                "workspaceDiagnostics": False,
                "identifier": "stomper",
            },
            "workspace": {
                "workspaceFolders": {"supported": True, "changeNotifications": True},
                "fileOperations": {},
            },
        },
        "serverInfo": {"name": "stomper-lsp", "version": __version__},
    }


def read_first_frame(stream: IO[bytes], parser: FrameParser) -> tuple[bytes | None, list[Event]]:
    """The first message's body (None at end of input) and whatever the parser found
    before it (garbage to log); bytes after it stay in `parser`."""
    skipped: list[Event] = []
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            return None, skipped
        for index, event in enumerate(events := parser.feed(chunk)):
            if isinstance(event, Frame):
                # Frames after the first one (a fast client) are handed on untouched.
                parser.give_back_events(events[index + 1 :])
                return event.body, skipped
            skipped.append(event)


def write_message(stream: IO[bytes], payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


class _Discard:
    """A pygls writer that drops what it is given: the replayed answer was already sent."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _ServerLoader(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="stomper-import", daemon=True)
        self.server: StomperServer | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            from stomper_lsp.server.server import build_server

            self.server = build_server()
        except BaseException as exc:
            self.error = exc


def _answer_initialize(stdout: IO[bytes], first: bytes) -> bool:
    """Answer `first` if it is the `initialize` request; False if it is anything else."""
    try:
        request = json.loads(first)
    except ValueError:
        return False
    if _get(request, "method") != "initialize" or "id" not in request:
        return False
    result = initialize_result(request.get("params"))
    write_message(stdout, {"jsonrpc": "2.0", "id": request["id"], "result": result})
    return True


def serve_stdio() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the protocol stream
    loader = _ServerLoader()
    loader.start()
    parser = FrameParser()
    first, skipped = read_first_frame(stdin, parser)
    if first is None:
        return 0  # the client left before saying anything
    answered = _answer_initialize(stdout, first)
    loader.join()
    if loader.server is None:
        raise RuntimeError("stomper-lsp failed to load") from loader.error
    server = loader.server
    from stomper_lsp.server.stdio import serve

    if not answered:  # not `initialize` (or not even JSON): the normal path answers it
        return asyncio.run(
            serve(server, stdin, stdout, parser, [*skipped, Frame(first), *parser.take_events()])
        )
    protocol = server.protocol
    protocol.set_writer(_Discard())
    try:
        protocol.handle_message(json.loads(first, object_hook=protocol.structure_message))
    except Exception as exc:  # pygls could not even parse it: the client hears it below
        server.report_server_error(exc, type(exc))
    return asyncio.run(serve(server, stdin, stdout, parser, parser.take_events()))
