"""WorkspaceEdit in the shape the client understands.

`documentChanges` carries each document's version, so a client that supports it refuses
an edit computed for text the user has since changed; clients without it (Neovim) get
plain `changes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lsprotocol import types


def workspace_edit(
    edits: Mapping[str, tuple[int | None, Sequence[types.TextEdit]]],
    *,
    document_changes: bool,
) -> types.WorkspaceEdit:
    """`edits`: uri -> (document version or None when not open, edits)."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=list(text_edits),
                )
                for uri, (version, text_edits) in edits.items()
            ]
        )
    return types.WorkspaceEdit(
        changes={uri: list(text_edits) for uri, (_, text_edits) in edits.items()}
    )
