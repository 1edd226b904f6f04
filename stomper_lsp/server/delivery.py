"""Deliver a fix run's result as ONE `workspace/applyEdit`, never over the user's typing.

Each changed file is diffed against its *current* text (the open buffer, else the file on
disk). If that text moved on since the snapshot, the fix is 3-way merged into it; a
conflicting file is left alone and reported. The merges await a subprocess, so buffers
are checked again right before the edit is sent; with `documentChanges` the client also
refuses an edit for a stale version, and Stomper then recomputes and retries.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.workspace import PositionCodec

from stomper_lsp.merging.three_way import merge_texts
from stomper_lsp.server.positions import TextIndex
from stomper_lsp.server.projects import path_to_uri
from stomper_lsp.server.text_edits import text_edits
from stomper_lsp.server.workspace_edits import workspace_edit
from stomper_lsp.symlinks import link_refusal
from stomper_lsp.workflow.report import FileChange

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)
_ATTEMPTS = 3


@dataclass
class Delivery:
    applied: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Applied by a 3-way merge with what the user typed during the run."""
    conflicts: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: str | None = None


@dataclass(frozen=True)
class _Target:
    path: str
    resolved: Path
    uri: str
    version: int | None
    current: str
    new: str
    merged: bool


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError:
        return None


def _edits_for(
    targets: list[_Target], codec: PositionCodec
) -> dict[str, tuple[int | None, list[types.TextEdit]]]:
    return {t.uri: (t.version, text_edits(TextIndex(t.current, codec), t.new)) for t in targets}


class Deliverer:
    def __init__(self, server: StomperServer) -> None:
        self._server = server

    def _open_buffers(self) -> dict[Path, tuple[str, int | None, str]]:
        """Resolved path -> (uri, version, text) of every open buffer."""
        buffers: dict[Path, tuple[str, int | None, str]] = {}
        for document in list(self._server.workspace.text_documents.values()):
            if document.uri.startswith("file:"):
                buffers[Path(document.path).resolve()] = (
                    document.uri, document.version, document.source
                )
        return buffers

    async def _targets(
        self, root: Path, changes: list[FileChange], outcome: Delivery
    ) -> list[_Target]:
        buffers = self._open_buffers()
        targets: list[_Target] = []
        for change in changes:
            if change.base_text is None or change.new_text is None:
                outcome.skipped.append(change.path)  # creating/deleting files: not delivered
                continue
            refusal = link_refusal(root, change.path)
            if refusal is not None:
                logger.warning("%s; not delivered", refusal)
                outcome.skipped.append(change.path)  # a link could lead out of the project
                continue
            path = (root / change.path).resolve()
            if path in buffers:
                uri, version, current = buffers[path]
            else:
                uri, version = path_to_uri(path), None
                on_disk = await asyncio.to_thread(_read, path)
                if on_disk is None:
                    outcome.conflicts.append(change.path)  # deleted since the snapshot
                    continue
                current = on_disk
            if current == change.base_text:
                targets.append(
                    _Target(change.path, path, uri, version, current, change.new_text, False)
                )
                continue
            merge = await merge_texts(change.base_text, current, change.new_text)
            if not merge.clean:
                logger.warning("%s: your edits and Stomper's fix conflict; left alone", change.path)
                outcome.conflicts.append(change.path)
            elif merge.text != current:
                targets.append(
                    _Target(change.path, path, uri, version, current, merge.text, True)
                )
        return targets

    def _stale(self, targets: list[_Target]) -> bool:
        buffers = self._open_buffers()
        for target in targets:
            now = buffers.get(target.resolved)
            if target.version is None:
                if now is not None:
                    return True  # opened meanwhile: its buffer is the truth now
            elif now is None or now[1] != target.version:
                return True
        return False

    async def deliver(self, root: Path, changes: list[FileChange], issues: int) -> Delivery:
        """Apply `changes` (which fix `issues` issues) as one edit the user can undo."""
        codec = self._server.workspace.position_codec
        for _ in range(_ATTEMPTS):
            outcome = Delivery()
            targets = await self._targets(root, changes, outcome)
            if not targets:
                return outcome
            # Diffing big files takes a while: off the event loop.
            edits = await asyncio.to_thread(_edits_for, targets, codec)
            if self._stale(targets):
                continue  # the user typed meanwhile: start over from the new text
            label = f"Stomper: fix {plural(issues, 'issue')} in {plural(len(targets), 'file')}"
            edit = workspace_edit(edits, document_changes=self._server.features.document_changes)
            try:
                result = await self._server.workspace_apply_edit_async(
                    types.ApplyWorkspaceEditParams(edit=edit, label=label)
                )
            except JsonRpcException as exc:
                # Eglot answers a declined or out-of-date edit with an error, not with
                # `applied: false`: the same outcome, said differently.
                result = types.ApplyWorkspaceEditResult(applied=False, failure_reason=str(exc))
            if result.applied:
                outcome.applied = [t.path for t in targets]
                outcome.merged = [t.path for t in targets if t.merged]
                return outcome
            if self._stale(targets):
                continue  # refused for a version that moved on: recompute
            outcome.refused = result.failure_reason or "the editor gave no reason"
            return outcome
        # Never send an edit computed for text that is gone: it would land on the wrong
        # characters in a client that does not check versions.
        return Delivery(refused="the files kept changing while Stomper applied its fixes")

