"""A tiny editor on top of the pytest-lsp client: buffers, versions, and applyEdit.

A real editor applies `workspace/applyEdit` to its buffers (refusing a versioned edit for
a buffer that moved on) and tells the server with `didChange`; files that are not open
are written to disk here, as an editor would after "save all".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path
from pytest_lsp import LanguageClient

from stomper_lsp.server.positions import split_lines
from tests.server.helpers import uri


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    return 2 if ord(char) > 0xFFFF else 1


def offset_of(text: str, position: types.Position, encoding: str) -> int:
    """Code-point offset of an LSP position (clamped like clients do)."""
    lines = split_lines(text)
    if position.line >= len(lines):
        return len(text)
    offset = sum(len(line) for line in lines[: position.line])
    line = lines[position.line].rstrip("\r\n")
    units = 0
    for index, char in enumerate(line):
        if units >= position.character:
            return offset + index
        units += _units(char, encoding)
    return offset + len(line)


def apply_text_edits(text: str, edits: list[Any], encoding: str) -> str:
    spans = sorted(
        ((offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding),
          e.new_text) for e in edits),
        reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


@dataclass
class Buffer:
    path: Path
    text: str
    version: int


@dataclass
class Editor:
    client: LanguageClient
    encoding: str = "utf-16"
    buffers: dict[str, Buffer] = field(default_factory=dict)
    edits: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    refuse: str | None = None
    """When set, every applyEdit is refused with this reason."""
    interrupt: Callable[[], None] | None = None
    """Called once when the next applyEdit arrives, before it is applied: the user typing
    at that very moment."""
    registrations: list[types.Registration] = field(default_factory=list)

    def install(self) -> None:
        @self.client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return self.apply(params)

        @self.client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            self.registrations.extend(params.registrations)

    def negotiated(self, result: types.InitializeResult) -> None:
        self.encoding = str(result.capabilities.position_encoding or "utf-16")

    # ----- what the user does -----------------------------------------------------------
    def open(self, path: Path, text: str | None = None) -> str:
        doc_uri = uri(path)
        buffer = Buffer(path, path.read_text() if text is None else text, 1)
        self.buffers[doc_uri] = buffer
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=doc_uri, language_id="python", version=1, text=buffer.text
                )
            )
        )
        return doc_uri

    def set_text(self, doc_uri: str, text: str) -> None:
        buffer = self.buffers[doc_uri]
        buffer.text, buffer.version = text, buffer.version + 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=doc_uri, version=buffer.version
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def save(self, doc_uri: str) -> None:
        buffer = self.buffers[doc_uri]
        buffer.path.write_text(buffer.text)
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(doc_uri))
        )

    def close(self, doc_uri: str) -> None:
        del self.buffers[doc_uri]
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(doc_uri))
        )

    def text(self, doc_uri: str) -> str:
        return self.buffers[doc_uri].text

    # ----- what the server asks ---------------------------------------------------------
    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.edits.append(params)
        if self.interrupt is not None:
            interrupt, self.interrupt = self.interrupt, None
            interrupt()
        if self.refuse is not None:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=self.refuse)
        per_uri: list[tuple[str, int | None, list[Any]]] = []
        for change in params.edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit), change
            per_uri.append((change.text_document.uri, change.text_document.version,
                            list(change.edits)))
        for doc_uri, edits in (params.edit.changes or {}).items():
            per_uri.append((doc_uri, None, list(edits)))
        for doc_uri, version, _ in per_uri:
            buffer = self.buffers.get(doc_uri)
            if version is not None and (buffer is None or buffer.version != version):
                return types.ApplyWorkspaceEditResult(
                    applied=False, failure_reason=f"{doc_uri} changed (version {version})"
                )
        for doc_uri, _, edits in per_uri:
            buffer = self.buffers.get(doc_uri)
            if buffer is None:
                path = Path(str(to_fs_path(doc_uri)))
                path.write_text(apply_text_edits(path.read_text(), edits, self.encoding))
            else:
                self.set_text(doc_uri, apply_text_edits(buffer.text, edits, self.encoding))
        return types.ApplyWorkspaceEditResult(applied=True)

