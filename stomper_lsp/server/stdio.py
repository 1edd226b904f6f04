"""The stdio transport: read frames, hand them to pygls, and leave promptly on `exit`.

Replaces pygls' reader loop for three reasons. Its framing never recovers from a bad
header (framing.py does). Invalid JSON got no answer (here: -32700, as JSON-RPC asks).
And on `exit` its `sys.exit` was swallowed (the process always exited 0, 1 being due
without `shutdown`), after which it joined a thread blocked on stdin and waited for
in-flight checker processes whose pipes nobody drained: some sessions never exited.
Here `exit` cancels what runs, kills every process group left, and returns the code; the
caller leaves with `os._exit` so no thread can hold the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING, BinaryIO

from pygls.io_ import StdoutWriter

from stomper_lsp.process import kill_all
from stomper_lsp.server.framing import Event, FrameParser, Garbage, split_swallowed

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)

STALL_S = 0.5
"""Quiet time in the middle of a body after which its Content-Length is taken as wrong."""
EXIT_GRACE_S = 0.6
"""How long cancelled work may take to wind down after `exit` before it is killed."""
_CHUNK = 65536


def _start_reader(
    stdin: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]
) -> None:
    """A daemon thread: it may stay blocked on stdin forever without keeping us alive."""

    def read() -> None:
        while True:
            try:
                chunk = stdin.read1(_CHUNK) if hasattr(stdin, "read1") else stdin.read(_CHUNK)
            except (OSError, ValueError):
                chunk = b""
            with contextlib.suppress(RuntimeError):  # the loop is closed: we are leaving
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            if not chunk:
                return

    threading.Thread(target=read, name="stomper-stdin", daemon=True).start()


class _Session:
    def __init__(self, server: StomperServer, parser: FrameParser) -> None:
        self.server = server
        self.protocol = server.protocol
        self.parser = parser
        self.exit_code: int | None = None

    def handle(self, events: list[Event]) -> None:
        for event in events:
            if self.exit_code is not None:
                return
            if isinstance(event, Garbage):
                logger.warning("skipped %d bytes from the client: %s", event.size, event.reason)
                continue
            self.dispatch(event.body)

    def dispatch(self, body: bytes) -> None:
        try:
            message = json.loads(body, object_hook=self.protocol.structure_message)
        except (ValueError, UnicodeDecodeError) as exc:
            swallowed = split_swallowed(body)
            self.parse_error(exc)
            if swallowed is not None:
                self.handle(self.parser.give_back(swallowed[1]))
            return
        except Exception as exc:  # pygls could not structure it; it logs why
            self.server.report_server_error(exc, type(exc))
            return
        try:
            self.protocol.handle_message(message)
        except SystemExit as exc:  # pygls' `exit` handler
            self.exit_code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:
            logger.exception("Unable to handle message")
            self.server.report_server_error(exc, type(exc))

    def parse_error(self, exc: Exception) -> None:
        reason = str(exc).splitlines()[0][:200]
        logger.warning("invalid JSON from the client: %s", reason)
        # A plain dict: lsprotocol's converter would drop the `"id": null` JSON-RPC asks for.
        self.protocol._send_data(
            {"jsonrpc": "2.0", "id": None,
             "error": {"code": -32700, "message": f"Parse error: {reason}"}}
        )


async def serve(
    server: StomperServer,
    stdin: BinaryIO,
    stdout: BinaryIO,
    parser: FrameParser | None = None,
    first: list[Event] | None = None,
) -> int:
    """Serve until `exit` (its code: 0 after `shutdown`, else 1) or end of input (0)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    server.protocol.set_writer(StdoutWriter(stdout))
    session = _Session(server, parser or FrameParser())
    session.handle(first or [])
    _start_reader(stdin, loop, queue)
    while session.exit_code is None:
        try:
            chunk = await asyncio.wait_for(
                queue.get(), STALL_S if session.parser.in_body else None
            )
        except TimeoutError:
            session.handle(session.parser.stalled())
            continue
        if not chunk:
            break
        session.handle(session.parser.feed(chunk))
        await asyncio.sleep(0)  # let handlers started by this chunk run before the next
    await _wind_down()
    return session.exit_code if session.exit_code is not None else 0


async def _wind_down() -> None:
    """Cancel every task of the loop and give them a moment; kill what still runs."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=EXIT_GRACE_S)
    killed = kill_all()
    if killed:
        logger.info("killed %d tool process group(s) still running at exit", killed)
