"""Helpers of the server tests: projects on disk, client capabilities, polling."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

if TYPE_CHECKING:
    from tests.server.editor import Editor

SERVER_COMMAND = [sys.executable, "-m", "stomper_lsp"]
PRESETS = ("visual-studio-code", "neovim", "emacs")
FAKE_AGENT = Path(__file__).resolve().parents[1] / "fake_agents" / "fake_agent.py"


def write_project(root: Path, files: Mapping[str, str], *, commit: bool = True) -> Path:
    """Files under `root`, committed to a fresh git repository (fix runs need one)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if commit:
        for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
            subprocess.run(argv, cwd=root, check=True, capture_output=True)
    return root.resolve()


def uri(path: Path) -> str:
    return path.resolve().as_uri()


def capabilities(preset: str, *, pull: bool = False) -> types.ClientCapabilities:
    """A client preset; `pull` adds LSP 3.17 pull diagnostics (VS Code >= 1.67, Neovim 0.10)."""
    caps = client_capabilities(preset)
    if pull:
        assert caps.text_document is not None and caps.workspace is not None
        caps.text_document.diagnostic = types.DiagnosticClientCapabilities(
            dynamic_registration=False, related_document_support=False
        )
        caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(
            refresh_support=True
        )
    return caps


async def wait_until(
    condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02
) -> Any:
    """Poll `condition` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await asyncio.sleep(interval)


async def start(
    editor: Editor,
    root: Path | None,
    preset: str,
    *,
    settings: Mapping[str, Any] | None = None,
    folders: list[Path] | None = None,
    pull: bool = False,
) -> types.InitializeResult:
    folders = folders if folders is not None else ([root] if root else [])
    result = await editor.client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(preset, pull=pull),
            root_uri=uri(root) if root else None,
            workspace_folders=[
                types.WorkspaceFolder(uri=uri(f), name=f.name) for f in folders
            ] or None,
            initialization_options=dict(settings) if settings is not None else None,
        )
    )
    editor.negotiated(result)
    return result


def codes(diagnostics: Any) -> set[str]:
    return {str(d.code) for d in diagnostics or []}




def pulls(client: LanguageClient) -> bool:
    caps = client.capabilities
    return bool(caps and caps.text_document and caps.text_document.diagnostic is not None)


async def visible(client: LanguageClient, doc_uri: str) -> list[types.Diagnostic]:
    """What the editor shows now: pulled (if it pulls) plus pushed diagnostics."""
    shown = list(client.diagnostics.get(doc_uri, []))
    if pulls(client):
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(doc_uri))
        )
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport), report
        shown += list(report.items)
    return shown


async def eventually_visible(
    client: LanguageClient,
    doc_uri: str,
    condition: Callable[[list[types.Diagnostic]], bool],
    timeout: float = 20.0,
) -> list[types.Diagnostic]:
    """Poll (pulling too, if the client pulls) until the shown diagnostics satisfy `condition`."""
    deadline = time.monotonic() + timeout
    while True:
        shown = await visible(client, doc_uri)
        if condition(shown):
            return shown
        if time.monotonic() > deadline:
            last = [(d.code, d.message) for d in shown]
            raise AssertionError(f"timed out; last diagnostics: {last}")
        await asyncio.sleep(0.05)
