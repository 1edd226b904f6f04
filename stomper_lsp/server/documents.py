"""Which open documents Stomper looks at, and their current text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from pygls.workspace import TextDocument, Workspace

from stomper_lsp.checkers.files import PYTHON_SUFFIXES


def open_document(workspace: Workspace, uri: str) -> TextDocument | None:
    """The client's buffer for `uri`, or None when it is not open (pygls would read disk)."""
    document: TextDocument | None = workspace.text_documents.get(unquote(uri))
    return document


def is_python(path: Path, language_id: str | None) -> bool:
    """`.py`/`.pyi` files, unless the client shows the buffer in another language mode
    (a template with a `.py` name, say): then it is not Python to ruff or mypy either."""
    if path.suffix not in PYTHON_SUFFIXES:
        return False
    return language_id in (None, "", "python")
