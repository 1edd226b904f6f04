"""The language server: handler registration only; each concern lives in its own module.

Handlers that wait on the client (settings, progress, applyEdit) are async and never
block the loop; long work (fix runs) goes into tasks so the handler returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, cast

from lsprotocol import types
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer

from stomper_lsp import __version__
from stomper_lsp.server.checks import CheckService
from stomper_lsp.server.client_features import ClientFeatures
from stomper_lsp.server.code_actions import (
    ADVERTISED_KINDS,
    CANCEL_COMMAND,
    FIX_ALL_COMMAND,
    FIX_FILE_COMMAND,
    RESUME_COMMAND,
    CodeActionBuilder,
)
from stomper_lsp.server.commands import Commands
from stomper_lsp.server.fix_runs import FixRuns
from stomper_lsp.server.interrupted_runs import InterruptedRuns
from stomper_lsp.server.log import attach_client, set_level
from stomper_lsp.server.notices import Notices
from stomper_lsp.server.projects import ProjectRegistry, path_to_uri, uri_to_path
from stomper_lsp.server.protocol import StomperProtocol
from stomper_lsp.server.settings import SECTION, server_options

logger = logging.getLogger(__name__)
SETTINGS_WAIT_S = 5.0
# Saving one of these changes what the checkers report: reload the project.
CONFIG_FILES = frozenset(
    {"pyproject.toml", "ruff.toml", ".ruff.toml", "mypy.ini", ".mypy.ini", "setup.cfg"}
)
DIAGNOSTIC_OPTIONS = types.DiagnosticOptions(
    identifier="stomper", inter_file_dependencies=True, workspace_diagnostics=False
)
CODE_ACTION_OPTIONS = types.CodeActionOptions(code_action_kinds=ADVERTISED_KINDS)


class StomperServer(LanguageServer):
    def __init__(self) -> None:
        # Full sync: pygls applies incremental changes with `str.splitlines`, which also
        # breaks lines at form feeds and other separators LSP does not count, so a
        # buffer holding one would drift from the editor's. The whole text per change
        # costs the local pipe little (and pygls' incremental path is O(file) too).
        super().__init__(
            "stomper-lsp",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Full,
            protocol_cls=StomperProtocol,
        )
        self.features = ClientFeatures()
        self.notices = Notices(self.window_show_message)
        self.registry = ProjectRegistry(self.notices)
        self.checks = CheckService(self)
        self.code_actions = CodeActionBuilder(self)
        self.commands = Commands(self)
        self.fixes = FixRuns(self)
        self.interrupted = InterruptedRuns(self)
        self.settings_ready = asyncio.Event()
        self._terminating: asyncio.Future[None] | None = None

    @property
    def stomper_protocol(self) -> StomperProtocol:
        return cast(StomperProtocol, self.protocol)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log instead of pygls' "Error in server" popup: a client's malformed
        notification is not something the user can act on. A failed request already
        told the client in its error response."""
        if source is FeatureRequestError:
            logger.info("request failed: %s", error)
        else:
            logger.error("%s", error)

    # ----- settings -------------------------------------------------------------------
    async def load_settings(self) -> None:
        """Ask the client for the global and per-folder settings, if it can answer."""
        if self.features.configuration:
            folders = self.registry.folders
            items = [types.ConfigurationItem(section=SECTION)] + [
                types.ConfigurationItem(scope_uri=f.uri, section=SECTION) for f in folders
            ]
            try:
                values = await asyncio.wait_for(
                    self.workspace_configuration_async(types.ConfigurationParams(items=items)),
                    SETTINGS_WAIT_S,
                )
            except Exception as exc:
                logger.warning("workspace/configuration failed: %s", exc)
            else:
                if values:
                    if values[0] is not None:
                        self.registry.set_global_settings(values[0])
                    for folder, value in zip(folders, values[1:], strict=False):
                        self.registry.set_folder_settings(folder.uri, value)
        self.registry.reset()
        self.settings_changed()

    def watch_termination(self) -> None:
        """SIGTERM (an editor closing us without `shutdown`): stop the fix runs first, so
        no agent outlives the server and no sandbox is left, then leave at once (the
        stdin reader thread would otherwise keep the process alive)."""

        async def terminate() -> None:
            logger.info("SIGTERM: cancelling fix runs before exiting")
            self.checks.shutdown()
            await self.fixes.shutdown()
            logging.shutdown()
            os._exit(0)

        def on_signal() -> None:
            self._terminating = asyncio.ensure_future(terminate())

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_signal)

    def settings_changed(self) -> None:
        set_level(server_options(self.registry.global_settings).log_level)
        self.registry.report_problems()


def _initial_folders(params: types.InitializeParams) -> list[types.WorkspaceFolder]:
    if params.workspace_folders:
        return list(params.workspace_folders)
    root_uri = params.root_uri
    if root_uri is None and params.root_path:
        root_uri = path_to_uri(Path(params.root_path).resolve())
    if root_uri is None:
        return []
    path = uri_to_path(root_uri)
    return [types.WorkspaceFolder(uri=root_uri, name=path.name if path else root_uri)]


def build_server() -> StomperServer:
    server = StomperServer()
    attach_client(server)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.features = ClientFeatures.from_capabilities(params.capabilities)
        server.registry.set_folders(_initial_folders(params))
        server.registry.set_global_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        server.watch_termination()
        try:
            if server.features.config_change_registration:
                with contextlib.suppress(Exception):
                    await server.client_register_capability_async(
                        types.RegistrationParams(
                            registrations=[
                                types.Registration(
                                    id="stomper-settings",
                                    method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                                    register_options=types.DidChangeConfigurationRegistrationOptions(
                                        section=SECTION
                                    ),
                                )
                            ]
                        )
                    )
            await server.load_settings()
        finally:
            server.settings_ready.set()
        server.interrupted.offer_all()
        logger.info(
            "Stomper %s ready: %d folder(s), %s diagnostics",
            __version__, len(server.registry.folders),
            "pull" if server.features.pull_diagnostics else "push",
        )

    async def settled() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.settings_ready.wait(), SETTINGS_WAIT_S)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: types.DidOpenTextDocumentParams) -> None:
        await settled()
        await server.checks.opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        server.checks.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(params: types.DidSaveTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        if path is not None and path.name in CONFIG_FILES:
            server.registry.reset()
            await server.checks.recheck_all()
        else:
            server.checks.saved(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.checks.closed(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        await settled()
        if server.features.configuration:
            await server.load_settings()
        else:
            server.registry.set_global_settings(params.settings)
            server.settings_changed()
        await server.checks.recheck_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        for removed in params.event.removed:
            server.fixes.cancel(removed.uri)
            server.registry.remove_folder(removed.uri)
        for added in params.event.added:
            server.registry.add_folder(added)
        await server.load_settings()
        await server.checks.recheck_all()

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, DIAGNOSTIC_OPTIONS)
    async def diagnostic(params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
        await settled()
        return await server.checks.pull(params.text_document.uri, params.previous_result_id)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, CODE_ACTION_OPTIONS)
    async def code_action(
        params: types.CodeActionParams,
    ) -> list[types.CodeAction | types.Command] | None:
        await settled()
        return await server.code_actions.actions(params)

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        server.checks.shutdown()
        await server.fixes.shutdown()

    # Commands take `ls` first: pygls then passes the client's arguments through `*args`
    # untouched, and Commands checks their shape itself (InvalidParams, not a crash).
    @server.command(FIX_FILE_COMMAND)
    async def fix_file(ls: StomperServer, *args: object) -> dict[str, Any]:
        await settled()
        return server.commands.fix_file(args)

    @server.command(FIX_ALL_COMMAND)
    async def fix_all(ls: StomperServer, *args: object) -> dict[str, Any]:
        await settled()
        return server.commands.fix_all(args)

    @server.command(RESUME_COMMAND)
    async def resume(ls: StomperServer, *args: object) -> dict[str, Any]:
        await settled()
        return server.commands.fix_all(args, resume=True)

    # Async and settled() like the commands it cancels, so it runs after them: pygls runs
    # a sync handler at once but an async one as a task, and a sync cancel sent right
    # after "fix all" overtook it ("no fix run to cancel") while the run went on.
    @server.command(CANCEL_COMMAND)
    async def cancel(ls: StomperServer, *args: object) -> dict[str, Any]:
        await settled()
        return server.commands.cancel(args)

    return server
