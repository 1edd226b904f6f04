"""Write a run's results into the user's files without ever overwriting their edits.

A file untouched since the snapshot gets the new text; a file the user edited meanwhile is
3-way merged (snapshot text as base); a conflict leaves the file alone and is reported.
The write itself is a checked atomic swap (swap.py): a save that lands while Stomper
writes is never lost; it is kept and reported as a conflict. Nothing is written through a
symbolic link, so a link can never carry a fix out of the project.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.delivery.swap import create_if_absent, replace_if_unchanged
from stomper_lsp.merging.three_way import merge_texts
from stomper_lsp.symlinks import link_refusal
from stomper_lsp.workflow.report import FileChange

_RACED = "the file changed while Stomper was writing it; your version was kept"


@dataclass
class DeliveryResult:
    written: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Written after a clean 3-way merge with the user's newer edits."""
    conflicts: dict[str, str] = field(default_factory=dict)
    """Left alone: path -> why."""


def read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def _read_plain(path: Path) -> bytes | None:
    """Bytes of the file itself (never a link's target); None when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        return handle.read()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


async def _deliver_one(root: Path, change: FileChange, result: DeliveryResult) -> None:
    if change.new_text is None:
        result.conflicts[change.path] = "the fix deletes the file; Stomper never deletes"
        return
    refusal = link_refusal(root, change.path)
    if refusal is not None:
        result.conflicts[change.path] = refusal
        return
    target = root / change.path
    try:
        current_bytes = await asyncio.to_thread(_read_plain, target)
    except IsADirectoryError:
        result.conflicts[change.path] = "it is no longer a regular file"
        return
    try:
        current = None if current_bytes is None else current_bytes.decode("utf-8")
    except UnicodeDecodeError:
        result.conflicts[change.path] = "the file is no longer UTF-8 text"
        return
    if current == change.new_text:
        return
    if current == change.base_text:
        text = change.new_text
    elif current is None:
        result.conflicts[change.path] = "you deleted the file during the run"
        return
    else:
        merged = await merge_texts(change.base_text or "", current, change.new_text)
        if not merged.clean:
            result.conflicts[change.path] = (
                "you edited the same lines during the run; your version was kept"
            )
            return
        text = merged.text
    if current_bytes is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        done = await asyncio.to_thread(create_if_absent, target, _encode(text))
    else:
        done = await asyncio.to_thread(replace_if_unchanged, target, _encode(text), current_bytes)
    if not done:
        result.conflicts[change.path] = _RACED
    else:
        (result.written if text == change.new_text else result.merged).append(change.path)


async def deliver_to_working_tree(root: Path, changes: Sequence[FileChange]) -> DeliveryResult:
    result = DeliveryResult()
    for change in changes:
        await _deliver_one(root, change, result)
    return result
