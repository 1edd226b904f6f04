"""What the connected client can do, read once from its capabilities.

Every optional protocol feature Stomper uses is gated here, so older clients (Emacs
eglot, Neovim before 0.10, Helix) get a protocol they understand: push diagnostics,
plain `changes` edits, no progress tokens, commands instead of code action literals.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types


@dataclass(frozen=True)
class ClientFeatures:
    pull_diagnostics: bool = False
    diagnostic_refresh: bool = False
    work_done_progress: bool = False
    configuration: bool = False
    config_change_registration: bool = False
    document_changes: bool = False
    code_action_literals: bool = False
    diagnostic_tags: frozenset[int] = frozenset()
    code_description: bool = False
    diagnostic_data: bool = False

    @property
    def pull_ruff(self) -> bool:
        """ruff's results answer the client's pull for the version it pulls."""
        return self.pull_diagnostics

    @property
    def pull_mypy(self) -> bool:
        """mypy's results arrive seconds after a save, when nobody is pulling: they go
        by pull only if the server can then ask the client to pull again (refresh).
        Otherwise (Neovim 0.10/0.11) they are pushed; clients keep pushed and pulled
        diagnostics apart, so nothing shows twice."""
        return self.pull_diagnostics and self.diagnostic_refresh

    @classmethod
    def from_capabilities(cls, caps: types.ClientCapabilities | None) -> ClientFeatures:
        if caps is None:
            return cls()
        text = caps.text_document
        workspace = caps.workspace
        window = caps.window
        publish = text.publish_diagnostics if text else None
        pull = text.diagnostic if text else None
        edit = workspace.workspace_edit if workspace else None
        action = text.code_action if text else None
        # LSP 3.18 moved tag/description/data support into the pull capabilities; 3.17
        # pull clients still declare them under publishDiagnostics.
        tags = (pull and pull.tag_support) or (publish and publish.tag_support)
        return cls(
            pull_diagnostics=pull is not None,
            diagnostic_refresh=bool(
                workspace and workspace.diagnostics and workspace.diagnostics.refresh_support
            ),
            work_done_progress=bool(window and window.work_done_progress),
            configuration=bool(workspace and workspace.configuration),
            config_change_registration=bool(
                workspace
                and workspace.did_change_configuration
                and workspace.did_change_configuration.dynamic_registration
            ),
            document_changes=bool(edit and edit.document_changes),
            code_action_literals=bool(action and action.code_action_literal_support),
            diagnostic_tags=frozenset(int(t) for t in tags.value_set) if tags else frozenset(),
            code_description=bool(
                (pull and pull.code_description_support)
                or (publish and publish.code_description_support)
            ),
            diagnostic_data=bool(
                (pull and pull.data_support) or (publish and publish.data_support)
            ),
        )
