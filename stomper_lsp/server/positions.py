"""Positions the way LSP counts them.

Checkers report code points; the client counts UTF-16 units unless it negotiated UTF-8 or
UTF-32. LSP breaks lines only at `\\n`, `\\r\\n` and `\\r` (`str.splitlines` also breaks at
form feeds and other separators, which would shift every later line), so this module
splits lines itself and hands pygls' codec only the unit counting.
"""

from __future__ import annotations

import bisect
import re
from functools import cached_property

from lsprotocol import types
from pygls.workspace import PositionCodec

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines with their line endings. What follows the last break is a line too, even
    when empty: LSP addresses the end of `"a\\n"` as line 1, character 0."""
    if "\r" not in text:  # the common case, in C: split at "\n" and put the breaks back
        lines = [line + "\n" for line in text.split("\n")]
        lines[-1] = lines[-1][:-1]
        return lines
    lines = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])
    return lines


def _content_length(line: str) -> int:
    """Length without the line ending."""
    if line.endswith("\r\n"):
        return len(line) - 2
    if line.endswith(("\n", "\r")):
        return len(line) - 1
    return len(line)


class TextIndex:
    """One text, indexed once, converting code-point positions and offsets to client units."""

    def __init__(self, text: str, codec: PositionCodec) -> None:
        self.text = text
        self._codec = codec

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for line in self.lines[:-1]:
            starts.append(starts[-1] + len(line))
        return starts

    def end(self) -> types.Position:
        """The position just after the last character."""
        last = len(self.lines) - 1
        return self.position(last, _content_length(self.lines[last]))

    def position(self, line: int, character: int) -> types.Position:
        """Client position of code point `character` on `line`, clamped into the text."""
        if line < 0:
            return types.Position(line=0, character=0)
        if line >= len(self.lines):
            return self.end()
        text = self.lines[line]
        character = max(0, min(character, _content_length(text)))
        prefix = text[:character]
        # Every encoding counts an ASCII character as one unit: skip the per-char loop.
        units = character if prefix.isascii() else self._codec.client_num_units(prefix)
        return types.Position(line=line, character=units)

    def offset_position(self, offset: int) -> types.Position:
        """Client position of code-point `offset` into the text."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return self.position(line, offset - self._line_starts[line])

    def line_start_offset(self, line: int) -> int:
        return self._line_starts[max(0, min(line, len(self._line_starts) - 1))]

    def line_text(self, line: int) -> str:
        """The line's text without its ending ("" past the end)."""
        if not 0 <= line < len(self.lines):
            return ""
        text = self.lines[line]
        return text[: _content_length(text)]

    def line_ending(self, line: int) -> str:
        if not 0 <= line < len(self.lines):
            return ""
        return self.lines[line][_content_length(self.lines[line]) :]
