"""Write a run's results into the user's files without ever overwriting their edits.

A file untouched since the snapshot gets the new text; a file the user edited meanwhile is
3-way merged (snapshot text as base); a conflict leaves the file alone and is reported.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.delivery.three_way import merge_texts
from stomper_lsp.workflow.report import FileChange


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


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one rename, keeping its permissions: no half-written file, ever."""
    mode = path.stat().st_mode if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".stomper", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def deliver_to_working_tree(root: Path, changes: Sequence[FileChange]) -> DeliveryResult:
    result = DeliveryResult()
    for change in changes:
        target = root / change.path
        if change.new_text is None:
            result.conflicts[change.path] = "the fix deletes the file; Stomper never deletes"
            continue
        try:
            current = read_text(target)
        except UnicodeDecodeError:
            result.conflicts[change.path] = "the file is no longer UTF-8 text"
            continue
        if current == change.new_text:
            continue
        if current == change.base_text:
            text = change.new_text
        elif current is None:
            result.conflicts[change.path] = "you deleted the file during the run"
            continue
        else:
            merged = await merge_texts(change.base_text or "", current, change.new_text)
            if not merged.clean:
                result.conflicts[change.path] = (
                    "you edited the same lines during the run; your version was kept"
                )
                continue
            text = merged.text
        # Re-read right before writing: the user may have saved again while we merged.
        if read_text(target) != current:
            result.conflicts[change.path] = "the file changed while Stomper was writing it"
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text)
        (result.written if text == change.new_text else result.merged).append(change.path)
    return result
