"""Minimal text edits: what turns the user's current buffer into the fixed text.

A whole-file replacement would move the cursor, drop folds and bookmarks and make undo
noisy; diffing by lines and trimming each hunk to the characters that really change keeps
the edit as small as the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types

from stomper_lsp.server.positions import TextIndex, split_lines


@dataclass(frozen=True)
class Replacement:
    """Replace code points `start:end` of the old text with `text`."""

    start: int
    end: int
    text: str


def _common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: str, b: str, floor: int) -> int:
    limit = min(len(a), len(b)) - floor
    i = 0
    while i < limit and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def _splits_crlf(text: str, at: int) -> bool:
    """An LSP position cannot point between the `\r` and `\n` of one line ending."""
    return 0 < at < len(text) and text[at - 1] == "\r" and text[at] == "\n"


def _offsets(lines: Sequence[str]) -> list[int]:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


def minimal_replacements(old: str, new: str) -> list[Replacement]:
    """Non-overlapping replacements, in order, that turn `old` into `new`."""
    if old == new:
        return []
    old_lines, new_lines = split_lines(old), split_lines(new)
    old_at, new_at = _offsets(old_lines), _offsets(new_lines)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    result: list[Replacement] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_at[i1], old_at[i2]
        before, after = old[start:end], new[new_at[j1] : new_at[j2]]
        head = _common_prefix(before, after)
        if _splits_crlf(before, head):
            head -= 1
        tail = _common_suffix(before, after, head)
        if tail and _splits_crlf(before, len(before) - tail):
            tail -= 1
        result.append(
            Replacement(start + head, end - tail, after[head : len(after) - tail])
        )
    return result


def apply_replacements(old: str, replacements: Sequence[Replacement]) -> str:
    parts: list[str] = []
    cursor = 0
    for rep in replacements:
        parts.append(old[cursor : rep.start])
        parts.append(rep.text)
        cursor = rep.end
    parts.append(old[cursor:])
    return "".join(parts)


def text_edits(index: TextIndex, new: str) -> list[types.TextEdit]:
    """LSP edits (in the client's position units) that turn `index.text` into `new`."""
    return [
        types.TextEdit(
            range=types.Range(
                start=index.offset_position(rep.start), end=index.offset_position(rep.end)
            ),
            new_text=rep.text,
        )
        for rep in minimal_replacements(index.text, new)
    ]
