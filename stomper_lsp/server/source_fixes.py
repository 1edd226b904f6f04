"""The on-save kinds: ruff's safe fixes and import sorting as one instant edit.

Editors ask for `source.fixAll` / `source.organizeImports` on every save (VS Code's
`editor.codeActionsOnSave`, Neovim and Emacs hooks), so these answers must be quick,
computed on the unsaved buffer and never start anything long-running: they run
`ruff check --fix-only` on the text, as ruff's own server does, and return the minimal
edit. The agent runs are offered under their own kind (see code_actions).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.server.action_kinds import FIX_ALL_KIND, ORGANIZE_IMPORTS_KIND
from stomper_lsp.server.documents import open_document
from stomper_lsp.server.positions import TextIndex
from stomper_lsp.server.text_edits import text_edits
from stomper_lsp.server.workspace_edits import workspace_edit

if TYPE_CHECKING:
    from stomper_lsp.server.checks import DocumentChecks
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)
# What ruff's server enforces for organizeImports, whatever the project selects.
_IMPORT_RULES = ("I001", "I002")
_TITLES = {
    FIX_ALL_KIND: "Stomper: Fix all auto-fixable problems (ruff)",
    ORGANIZE_IMPORTS_KIND: "Stomper: Organize imports (ruff)",
}


def _ruff(doc: DocumentChecks) -> RuffChecker | None:
    runner = doc.handle.ruff
    if runner is None:
        return None
    return next((c for c in runner.checkers if isinstance(c, RuffChecker)), None)


async def source_fix(
    server: StomperServer, doc: DocumentChecks, kind: str
) -> types.CodeAction | None:
    """The `kind` action (FIX_ALL_KIND or ORGANIZE_IMPORTS_KIND) for the buffer as it is
    now; an action with no edit when ruff changes nothing (what ruff's server answers)."""
    ruff = _ruff(doc)
    document = open_document(server.workspace, doc.uri)
    if ruff is None or document is None:
        return None
    text, version = document.source, document.version
    if len(text) > doc.handle.options.max_file_size:
        return None
    rules = _IMPORT_RULES if kind == ORGANIZE_IMPORTS_KIND else ()
    try:
        fixed = await ruff.fixed_text(doc.handle.root, doc.rel, text, rules=rules)
    except CheckerError as exc:
        logger.warning("%s: %s", _TITLES[kind], exc.describe())
        return None
    current = open_document(server.workspace, doc.uri)
    if current is None or current.version != version:
        return None  # the buffer moved on while ruff ran: an edit would land on other text
    edits = text_edits(TextIndex(text, server.workspace.position_codec), fixed)
    edit = workspace_edit(
        {doc.uri: (version, edits)}, document_changes=server.features.document_changes
    ) if edits else None
    return types.CodeAction(title=_TITLES[kind], kind=kind, edit=edit)
