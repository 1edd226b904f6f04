"""Splitting the client's byte stream into JSON-RPC messages, and finding the way back.

pygls trusts every header: a missing, non-numeric or wrong `Content-Length` desyncs its
reader for good (nothing is answered again, `shutdown` included). Editors and proxies do
send such frames now and then, so this parser resynchronizes instead: a header block is
found wherever a `Content-Length:` appears, a body that swallowed the next message's
header gives it back, and a body that never completes is cut at the next header once the
client falls quiet. It does no I/O (sans-IO): the stdio loop feeds it bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
MAX_HEADER_BYTES = 64 * 1024
"""A header block longer than this is garbage, not a header."""


@dataclass(frozen=True)
class Frame:
    body: bytes


@dataclass(frozen=True)
class Garbage:
    """Bytes that were not a message; `reason` says why, for the log."""

    reason: str
    size: int


Event = Frame | Garbage


class FrameParser:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None
        """The body length of the message being read, once its header is complete."""
        self._held: list[Event] = []

    def give_back_events(self, events: list[Event]) -> None:
        """Events found but not handled yet (a reader that only wanted the first frame)."""
        self._held.extend(events)

    def take_events(self) -> list[Event]:
        held, self._held = self._held, []
        return held

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def in_body(self) -> bool:
        return self._length is not None

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        return self._drain()

    def give_back(self, data: bytes) -> list[Event]:
        """Bytes a body swallowed that belong to the next message: read them again."""
        self._buffer[:0] = data
        return self._drain()

    def stalled(self) -> list[Event]:
        """The client went quiet in the middle of a body: its length was too long.

        If another message's header sits inside the partial body, the body ends there;
        otherwise the partial body is taken as it is (the caller's JSON parse decides).
        """
        if self._length is None or not self._buffer:
            return []
        found = _LENGTH.search(self._buffer, 1)
        end = found.start() if found else len(self._buffer)
        body = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._length = None
        return [Frame(body), *self._drain()]

    def _drain(self) -> list[Event]:
        events: list[Event] = []
        while True:
            if self._length is None:
                header = self._header(events)
                if header is None:
                    return events
            assert self._length is not None
            if len(self._buffer) < self._length:
                return events
            body = bytes(self._buffer[: self._length])
            # A fresh buffer, not `del buffer[:n]`: a bytearray keeps its capacity, and one
            # 50 MB message would otherwise hold 50 MB for the rest of the session.
            self._buffer = bytearray(self._buffer[self._length :])
            self._length = None
            events.append(Frame(body))

    def _header(self, events: list[Event]) -> int | None:
        """Consume one header block and set the body length; None until one is complete."""
        while True:
            end = _HEADER_END.search(self._buffer)
            if end is None:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    events.append(Garbage("no header end in 64 KiB", len(self._buffer)))
                    # Keep a tail: it may hold the start of the next header.
                    del self._buffer[: len(self._buffer) - 1024]
                return None
            block = bytes(self._buffer[: end.start()])
            del self._buffer[: end.end()]
            matches = list(_LENGTH.finditer(block))
            if not matches:
                if block.strip():
                    events.append(Garbage("a header block without Content-Length", len(block)))
                continue
            last = matches[-1]
            if last.start() > 0 and block[: last.start()].strip():
                events.append(Garbage("bytes before a header", last.start()))
            value = last.group(1).strip()
            if not value.isdigit():
                events.append(
                    Garbage(f"Content-Length is not a number: {value[:40]!r}", len(block))
                )
                continue
            self._length = int(value)
            return self._length


def split_swallowed(body: bytes) -> tuple[bytes, bytes] | None:
    """A body that is not JSON but holds a header: the part before, and the rest to read
    again (the declared length was longer than the real body)."""
    found = _LENGTH.search(body, 1)
    if found is None:
        return None
    return body[: found.start()], body[found.start() :]
