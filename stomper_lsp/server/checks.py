"""When ruff and mypy run for open documents, and which of their results reach the client.

- ruff reads the unsaved buffer through stdin: on open, on change and on save. Changes
  are debounced on the leading edge: an isolated keystroke is checked at once, a burst
  at most once per `debounceMs`, and a run the user typed over is killed.
- mypy reads the open buffers too (`--shadow-file`, see checkers/mypy.py): on open, on
  save and once typing pauses for `_MYPY_IDLE_S`, batched per project (one process for
  every file waiting), with its incremental cache outside the workspace. A change marks
  the running batch's result for that buffer stale at once, so mypy diagnostics never
  land on text they were not computed for.
- A result is published only if nothing newer was asked for since its run started: stale
  results are dropped, never shown over newer ones.
- Push (`publishDiagnostics`) unless the client pulls (`textDocument/diagnostic`); then
  the pull waits for ruff's run of the current version, and mypy results, which arrive
  later, trigger `workspace/diagnostic/refresh`. A client that pulls but cannot be asked
  to refresh gets ruff by pull and mypy by push (see ClientFeatures.pull_mypy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.runner import CheckReport
from stomper_lsp.server.diagnostics import DiagnosticCache
from stomper_lsp.server.documents import is_python, open_document
from stomper_lsp.server.positions import TextIndex
from stomper_lsp.server.projects import ProjectHandle, uri_to_path

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)
_FRESH_ROUNDS = 5  # the buffer may move on while ruff runs; chase it this many times
_MYPY_IDLE_S = 0.5  # mypy takes ~0.3-1 s warm: run it when typing pauses, not per keystroke


def log_failure(task: asyncio.Task[None]) -> None:
    """A bug in a background check must reach the log, not vanish with its task."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("background check failed: %r", error, exc_info=error)


@dataclass(eq=False)
class DocumentChecks:
    """Check results and in-flight runs of one open document."""

    uri: str
    handle: ProjectHandle
    rel: str
    ruff_issues: list[Issue] = field(default_factory=list)
    ruff_version: int | None = None
    ruff_task: asyncio.Task[None] | None = None
    ruff_task_version: int | None = None
    ruff_timer: asyncio.TimerHandle | None = None
    ruff_started: float = float("-inf")
    mypy_issues: list[Issue] = field(default_factory=list)
    mypy_requests: int = 0
    """Bumped on every save/open: a mypy batch started before the last bump is stale."""
    generation: int = 0
    """Bumped whenever results change: the pull diagnostics result id."""
    converted: DiagnosticCache | None = None

    def ruff_pending(self) -> bool:
        return self.ruff_timer is not None or (
            self.ruff_task is not None and not self.ruff_task.done()
        )

    def cancel(self) -> None:
        if self.ruff_timer is not None:
            self.ruff_timer.cancel()
            self.ruff_timer = None
        if self.ruff_task is not None:
            self.ruff_task.cancel()


class MypyQueue:
    """One mypy process at a time per project, for every document waiting at its start."""

    def __init__(
        self,
        handle: ProjectHandle,
        deliver: Callable[[dict[DocumentChecks, int], CheckReport], None],
        buffers: Callable[[ProjectHandle], dict[str, str]],
    ) -> None:
        self.handle = handle
        self._deliver = deliver
        self._buffers = buffers
        self.idle_timer: asyncio.TimerHandle | None = None
        self._waiting: dict[DocumentChecks, None] = {}
        self._task: asyncio.Task[None] | None = None

    def request(self, docs: Iterable[DocumentChecks]) -> None:
        for doc in docs:
            doc.mypy_requests += 1
            self._waiting[doc] = None
        if self._waiting and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain())
            self._task.add_done_callback(log_failure)

    def discard(self, doc: DocumentChecks) -> None:
        self._waiting.pop(doc, None)

    def cancel(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self._task is not None:
            self._task.cancel()
        self._waiting.clear()

    async def _drain(self) -> None:
        runner = self.handle.mypy
        while self._waiting and runner is not None:
            batch = {doc: doc.mypy_requests for doc in self._waiting}
            self._waiting.clear()
            paths = sorted({doc.rel for doc in batch})
            started = time.monotonic()
            report = await runner.run(
                self.handle.root, paths, overlays=self._buffers(self.handle)
            )
            logger.info("mypy: %d file(s) in %.2fs", len(paths), time.monotonic() - started)
            self._deliver(batch, report)


class CheckService:
    def __init__(self, server: StomperServer) -> None:
        self._server = server
        self._docs: dict[str, DocumentChecks] = {}
        self._opening: dict[str, asyncio.Future[DocumentChecks | None]] = {}
        self._mypy: dict[Path, MypyQueue] = {}

    # ----- document events --------------------------------------------------------------
    async def opened(self, uri: str) -> DocumentChecks | None:
        """Start tracking an opened buffer; safe to call again while (or after) it opens.

        A pull for a buffer can overtake the didOpen handler (both wait for settings), so
        `pull` opens it too: both then share one in-flight task instead of racing.
        """
        doc = self._docs.get(uri)
        if doc is not None and uri not in self._opening:
            return doc  # a pull opened it first; didOpen has nothing left to do
        pending = self._opening.get(uri)
        if pending is None:
            pending = self._opening[uri] = asyncio.ensure_future(self._open(uri))
            pending.add_done_callback(lambda task: self._forget_opening(uri, task))
        return await asyncio.shield(pending)

    def _forget_opening(self, uri: str, task: asyncio.Future[DocumentChecks | None]) -> None:
        if self._opening.get(uri) is task:
            del self._opening[uri]

    async def _open(self, uri: str) -> DocumentChecks | None:
        doc = await self._track(uri)
        if doc is not None:
            self._start_ruff(doc)
            self._request_mypy([doc])
        return doc

    def changed(self, uri: str) -> None:
        doc = self._docs.get(uri)
        if doc is None:
            return
        doc.mypy_requests += 1  # a mypy run in flight read the old text
        if not doc.handle.options.lint_on_change or self._too_big(doc):
            return
        self._schedule_mypy(doc)
        if not self._server.features.pull_ruff:  # pull clients ask for ruff themselves
            self._schedule_ruff(doc)

    def saved(self, uri: str) -> None:
        doc = self._docs.get(uri)
        if doc is None:
            return
        version = self._version(doc)
        if doc.ruff_version != version or version is None:
            self._start_ruff(doc)
        # Saving a module can change the types other open modules see.
        queue = self._mypy.get(doc.handle.root)
        if queue is not None and queue.idle_timer is not None:
            queue.idle_timer.cancel()  # this run reads the same buffers
            queue.idle_timer = None
        self._request_mypy(d for d in self._docs.values() if d.handle is doc.handle)

    def closed(self, uri: str) -> None:
        doc = self._docs.pop(uri, None)
        if doc is None:
            return
        doc.cancel()
        doc.handle.forget(doc.handle.root / doc.rel)
        queue = self._mypy.get(doc.handle.root)
        if queue is not None:
            queue.discard(doc)
        self._clear(uri)

    async def recheck_all(self) -> None:
        """Settings or files changed under us: re-resolve every document and run again."""
        for queue in self._mypy.values():
            queue.cancel()
        self._mypy.clear()
        for uri in list(self._docs):
            self._docs.pop(uri).cancel()
            if await self.opened(uri) is None:
                self._clear(uri)  # no longer checked (excluded, tools changed)
        self._refresh()

    def shutdown(self) -> None:
        for doc in self._docs.values():
            doc.cancel()
            doc.handle.close()  # a dropped project's handle may be no longer registered
        for queue in self._mypy.values():
            queue.cancel()
        self._server.registry.close()

    # ----- pull diagnostics and code actions --------------------------------------------
    async def pull(
        self, uri: str, previous_result_id: str | None
    ) -> types.DocumentDiagnosticReport:
        doc = self._docs.get(uri)
        if doc is None and open_document(self._server.workspace, uri) is not None:
            doc = await self.opened(uri)  # the pull overtook didOpen's handler
        if doc is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        await self.fresh_ruff(doc)
        result_id = str(doc.generation)
        if previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        mypy = doc.mypy_issues if self._server.features.pull_mypy else []
        return types.RelatedFullDocumentDiagnosticReport(
            items=self._to_diagnostics(doc, [*doc.ruff_issues, *mypy]), result_id=result_id
        )

    async def fresh_ruff(self, doc: DocumentChecks) -> list[Issue]:
        """ruff's issues for the document's current version (run now if needed)."""
        for _ in range(_FRESH_ROUNDS):
            version = self._version(doc)
            if doc.ruff_version == version or self._too_big(doc) or doc.handle.ruff is None:
                break
            if doc.ruff_task is None or doc.ruff_task.done() or doc.ruff_task_version != version:
                self._start_ruff(doc)
            task = doc.ruff_task
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
        return doc.ruff_issues

    def document(self, uri: str) -> DocumentChecks | None:
        return self._docs.get(uri)

    def _to_diagnostics(self, doc: DocumentChecks, issues: list[Issue]) -> list[types.Diagnostic]:
        text = self.text(doc)
        if text is None or not issues:
            return []
        return self._converter(doc).convert(
            issues, TextIndex(text, self._server.workspace.position_codec)
        )

    def _converter(self, doc: DocumentChecks) -> DiagnosticCache:
        if doc.converted is None:
            protocol = self._server.stomper_protocol
            doc.converted = DiagnosticCache(self._server.features, protocol.unstructure)
        return doc.converted

    # ----- internals --------------------------------------------------------------------
    async def _track(self, uri: str) -> DocumentChecks | None:
        document = open_document(self._server.workspace, uri)
        path = uri_to_path(uri)
        if document is None or path is None or not is_python(path, document.language_id):
            return None
        path = path.resolve()
        handle = self._server.registry.handle_for_path(path, opened=True)
        rel = handle.relative(path) if handle else None
        if handle is None or rel is None:
            logger.debug("%s is outside every workspace folder: not checked", uri)
            return None
        if not await handle.project.python_files([rel]):
            logger.info("%s is excluded by the project's settings: not checked", rel)
            return None
        if open_document(self._server.workspace, uri) is None:
            return None  # closed while we looked
        doc = self._docs.get(uri)
        if doc is not None:
            doc.cancel()
        doc = self._docs[uri] = DocumentChecks(uri=uri, handle=handle, rel=rel)
        return doc

    def text(self, doc: DocumentChecks) -> str | None:
        document = open_document(self._server.workspace, doc.uri)
        return document.source if document is not None else None

    def _version(self, doc: DocumentChecks) -> int | None:
        document = open_document(self._server.workspace, doc.uri)
        return document.version if document is not None else None

    def _too_big(self, doc: DocumentChecks) -> bool:
        text = self.text(doc) or ""
        limit = doc.handle.options.max_file_size
        if len(text) <= limit:
            return False
        self._server.notices.once(
            f"too-big:{doc.uri}",
            f"Stomper: {doc.rel} is larger than maxFileSize ({limit} bytes): not checked.",
            types.MessageType.Info,
        )
        return True

    def _schedule_ruff(self, doc: DocumentChecks) -> None:
        if doc.ruff_timer is not None:
            doc.ruff_timer.cancel()
        delay = doc.ruff_started + doc.handle.options.debounce_s - time.monotonic()
        if delay <= 0:
            doc.ruff_timer = None
            self._start_ruff(doc)
        else:
            doc.ruff_timer = asyncio.get_running_loop().call_later(
                delay, self._start_ruff, doc
            )

    def _start_ruff(self, doc: DocumentChecks) -> None:
        doc.ruff_timer = None
        if doc.ruff_task is not None and not doc.ruff_task.done():
            doc.ruff_task.cancel()  # superseded: its text is no longer the buffer's
        text, version = self.text(doc), self._version(doc)
        if doc.handle.ruff is None or text is None or self._too_big(doc):
            return
        doc.ruff_started = time.monotonic()
        doc.ruff_task_version = version
        doc.ruff_task = asyncio.create_task(self._run_ruff(doc, text, version))
        doc.ruff_task.add_done_callback(log_failure)

    async def _run_ruff(self, doc: DocumentChecks, text: str, version: int | None) -> None:
        runner = doc.handle.ruff
        assert runner is not None
        report = await runner.run(doc.handle.root, [doc.rel], overlays={doc.rel: text})
        self._report_errors(doc.handle, report.errors)
        if self._docs.get(doc.uri) is not doc or self._version(doc) != version:
            return  # closed or superseded while ruff ran
        doc.ruff_issues = [i for i in report.issues if i.path == doc.rel]
        doc.ruff_version = version
        doc.generation += 1
        if not self._server.features.pull_ruff:
            self._publish(doc)

    def _buffers(self, handle: ProjectHandle) -> dict[str, str]:
        """The unsaved text of every open document of the project, for mypy to read."""
        buffers: dict[str, str] = {}
        for doc in self._docs.values():
            if doc.handle is handle and (text := self.text(doc)) is not None:
                buffers[doc.rel] = text
        return buffers

    def _schedule_mypy(self, doc: DocumentChecks) -> None:
        """Once typing pauses: every open module of the project, as a save would."""
        if doc.handle.mypy is None:
            return
        queue = self._queue(doc.handle)
        if queue.idle_timer is not None:
            queue.idle_timer.cancel()

        def run() -> None:
            queue.idle_timer = None
            self._request_mypy(d for d in self._docs.values() if d.handle is doc.handle)

        queue.idle_timer = asyncio.get_running_loop().call_later(_MYPY_IDLE_S, run)

    def _queue(self, handle: ProjectHandle) -> MypyQueue:
        queue = self._mypy.get(handle.root)
        if queue is None or queue.handle is not handle:
            if queue is not None:
                queue.cancel()
            queue = self._mypy[handle.root] = MypyQueue(handle, self._mypy_done, self._buffers)
        return queue

    def _request_mypy(self, docs: Iterable[DocumentChecks]) -> None:
        by_project: dict[Path, list[DocumentChecks]] = {}
        for doc in docs:
            if doc.handle.mypy is not None and not self._too_big(doc):
                by_project.setdefault(doc.handle.root, []).append(doc)
        for group in by_project.values():
            self._queue(group[0].handle).request(group)

    def _mypy_done(self, batch: dict[DocumentChecks, int], report: CheckReport) -> None:
        if batch:
            self._report_errors(next(iter(batch)).handle, report.errors)
        by_path: dict[str, list[Issue]] = {}
        for issue in report.issues:
            by_path.setdefault(issue.path, []).append(issue)
        changed = False
        for doc, requests in batch.items():
            if self._docs.get(doc.uri) is not doc or doc.mypy_requests != requests:
                continue  # closed, or saved again: a newer batch will answer
            doc.mypy_issues = by_path.get(doc.rel, [])
            doc.generation += 1
            changed = True
            # A pending ruff run publishes both soon; mypy alone when ruff goes by pull.
            if self._server.features.pull_ruff or not doc.ruff_pending():
                self._publish(doc)
        if changed:
            self._refresh()

    def _publish(self, doc: DocumentChecks) -> None:
        """Push whatever does not go by pull."""
        features = self._server.features
        if features.pull_mypy:
            return
        issues = doc.mypy_issues if features.pull_ruff else [*doc.ruff_issues, *doc.mypy_issues]
        text, version = self.text(doc), self._version(doc)
        diagnostics = "[]"
        if text is not None and issues:
            index = TextIndex(text, self._server.workspace.position_codec)
            diagnostics = self._converter(doc).convert_to_json(issues, index)
        params = f'{{"uri": {json.dumps(doc.uri)}, "diagnostics": {diagnostics}'
        if version is not None:
            params += f', "version": {int(version)}'
        protocol = self._server.stomper_protocol
        protocol.notify_json(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, params + "}")

    def _clear(self, uri: str) -> None:
        if not self._server.features.pull_mypy:
            self._server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def _refresh(self) -> None:
        if self._server.features.pull_mypy:
            self._server.workspace_diagnostic_refresh(None)

    def _report_errors(self, handle: ProjectHandle, errors: list[CheckerError]) -> None:
        for error in errors:
            self._server.notices.once(
                f"checker:{handle.root}:{error.tool}",
                f"Stomper could not run {error.describe()}",
                types.MessageType.Error,
            )
