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

import json
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from stomper_lsp import __version__

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

_ENCODINGS = ("utf-8", "utf-16", "utf-32")
COMMANDS = ["stomper.fixFile", "stomper.fixAll", "stomper.cancel"]


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
            "codeActionProvider": {"codeActionKinds": ["quickfix", "source.fixAll.stomper"]},
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


def read_message(stream: IO[bytes]) -> bytes | None:
    """One framed JSON-RPC body, or None at end of input."""
    length: int | None = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is not None:
                break
            continue
        name, _, value = line.decode("ascii", errors="replace").partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    return stream.read(length)


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
    first = read_message(stdin)
    if first is None:
        return 0  # the client left before saying anything
    answered = _answer_initialize(stdout, first)
    loader.join()
    if loader.server is None:
        raise RuntimeError("stomper-lsp failed to load") from loader.error
    server = loader.server
    from pygls.io_ import StdoutWriter

    protocol = server.protocol
    protocol.set_writer(_Discard() if answered else StdoutWriter(stdout))
    try:
        protocol.handle_message(json.loads(first, object_hook=protocol.structure_message))
    except Exception as exc:  # pygls could not even parse it: the client hears it below
        server.report_server_error(exc, type(exc))
    server.start_io(stdin, stdout)
    return 0
