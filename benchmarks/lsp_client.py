"""A minimal LSP client for the language server benchmarks (pygls' client, no pytest).

Drives any stdio server the same way, so Stomper and `ruff server` are measured by the
same client in the same run. Not a benchmark itself: imported by benchmarks/lsp_*.py.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms   "
        f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   (n={len(values)})"
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def capabilities(*, pull: bool) -> types.ClientCapabilities:
    """A modern client; `pull` adds pull diagnostics with refresh support."""
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=["utf-16"]),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            workspace_folders=True,
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=pull),
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            diagnostic=types.DiagnosticClientCapabilities(dynamic_registration=False)
            if pull
            else None,
        ),
    )


class BenchClient(LanguageClient):
    """Records every publishDiagnostics with its arrival time."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__("stomper-bench", "1")
        self.settings = settings or {}
        self.published: list[tuple[float, types.PublishDiagnosticsParams]] = []
        self.arrived = asyncio.Event()
        self.refreshes = 0

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(params: types.PublishDiagnosticsParams) -> None:
            self.published.append((time.perf_counter(), params))
            self.arrived.set()

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[Any]:
            return [self.settings for _ in params.items]

        @self.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            return None

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def progress(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.WORKSPACE_DIAGNOSTIC_REFRESH)
        def refresh(params: None) -> None:
            self.refreshes += 1
            self.arrived.set()

        self.messages: list[str] = []

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return types.ApplyWorkspaceEditResult(applied=True)

        for method in (types.WINDOW_LOG_MESSAGE, types.PROGRESS):
            self.feature(method)(lambda params: None)

    @property
    def pid(self) -> int:
        assert self._server is not None
        return int(self._server.pid)

    async def launch(self, *argv: str) -> None:
        await self.start_io(argv[0], *argv[1:], env={**os.environ})
        assert self._server is not None and self._server.stderr is not None
        self._drain = asyncio.create_task(self._server.stderr.read())  # never let it block

    async def handshake(self, root: Path, *, pull: bool, options: Any = None) -> float:
        """initialize + initialized; returns the seconds `initialize` took to answer."""
        params = types.InitializeParams(
            capabilities=capabilities(pull=pull),
            process_id=os.getpid(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        )
        started = time.perf_counter()
        answer = self.protocol.send_request(types.INITIALIZE, params, msg_id="initialize")
        # Read the answer as plain JSON: lsprotocol cannot structure ruff server's
        # notebook filters, and the benchmark needs only the timing.
        self.protocol._result_types.pop("initialize", None)
        await asyncio.wrap_future(answer)
        elapsed = time.perf_counter() - started
        self.initialized(types.InitializedParams())
        return elapsed

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def change(self, uri: str, version: int, text: str) -> None:
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def save(self, uri: str) -> None:
        self.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri))
        )

    async def pull(self, uri: str) -> list[types.Diagnostic]:
        report = await self.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri))
        )
        return list(getattr(report, "items", []))

    async def published_for(
        self, uri: str, predicate: Any, timeout: float = 120.0, since: int | None = None
    ) -> tuple[float, types.PublishDiagnosticsParams]:
        """The first publish for `uri` (from now on, or from index `since`) that
        satisfies `predicate`."""
        deadline = time.perf_counter() + timeout
        seen = len(self.published) if since is None else since
        while True:
            for arrival, params in self.published[seen:]:
                if params.uri == uri and predicate(params):
                    return arrival, params
            seen = len(self.published)
            self.arrived.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"no matching diagnostics for {uri}")
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                continue

    async def close_session(self) -> None:
        try:
            await asyncio.wait_for(self.shutdown_async(None), 10)
            self.exit(None)
        finally:
            await self.stop()
