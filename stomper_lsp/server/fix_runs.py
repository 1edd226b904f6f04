"""Background fix runs: one per workspace folder, cancellable, delivered as one edit.

The command handler returns at once; the run is a task the manager keeps. The fix engine
(LangGraph) is imported inside the task, so a server that never fixes never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from stomper_lsp.server.delivery import Deliverer, Delivery, plural
from stomper_lsp.server.projects import ProjectHandle, uri_to_path
from stomper_lsp.server.run_progress import RunProgress
from stomper_lsp.workflow.report import FileStatus, FixReport

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer

logger = logging.getLogger(__name__)
_SHUTDOWN_GRACE_S = 10.0
_CANCELLED = "Stomper: fix run cancelled; nothing was changed."


@dataclass
class _Run:
    task: asyncio.Task[None]
    handle: ProjectHandle
    delivering: bool = False
    """Past the point of no return: the edit is on its way, cancel no longer applies."""
    cancelled_by_user: bool = False
    """A user's cancel ends a fix-all for good; shutdown's leaves it to resume."""
    began: bool = False
    """The task ran; one cancelled before its first step never reaches its own
    `except CancelledError`, so the manager says "cancelled" for it."""


def summary(report: FixReport, delivery: Delivery) -> str:
    """One line for `window/showMessage`: what happened to every file."""
    if not report.files and not report.errors:
        return "Stomper: nothing to fix: the checkers found no issues."
    fixed = report.by_status(FileStatus.FIXED)
    partial = report.by_status(FileStatus.PARTIAL)
    unchanged = report.by_status(FileStatus.UNCHANGED)
    failed = report.by_status(FileStatus.FAILED)
    skipped = report.by_status(FileStatus.SKIPPED)
    conflicts = len(report.by_status(FileStatus.CONFLICT)) + len(delivery.conflicts)
    # Each count belongs to its own files: a partly fixed file's issues are not
    # credited to the fixed ones (that read "0 files fixed (8 issues)").
    parts = []
    if fixed or not partial:
        issues = sum(f.issues_fixed for f in fixed)
        parts.append(f"{plural(len(fixed), 'file')} fixed ({plural(issues, 'issue')})")
    if partial:
        done = sum(f.issues_fixed for f in partial)
        parts.append(f"{len(partial)} partly fixed ({plural(done, 'issue')} fixed)")
    if unchanged:
        parts.append(f"{len(unchanged)} unchanged")
    if failed:
        parts.append(f"{len(failed)} failed")
    if skipped:
        parts.append(f"{len(skipped)} skipped ({skipped[0].message})")
    if conflicts:
        parts.append(f"{plural(conflicts, 'conflict')} left alone")
    left = sum(f.issues_after for f in report.files)
    parts.append(f"{plural(left, 'issue')} left")
    text = "Stomper: " + ", ".join(parts) + "."
    if delivery.merged:
        text += f" Merged with your edits in {', '.join(delivery.merged)}."
    if delivery.refused:
        text += f" The editor did not apply the fixes: {delivery.refused}."
    if delivery.skipped:
        text += (
            f" Not applied (new files, or symbolic links): {', '.join(delivery.skipped)}."
        )
    left_out = sorted({p for f in report.files for a in f.attempt_reports for p in a.left_out})
    if left_out:
        text += f" Never delivered (written by the agent, not fixes): {', '.join(left_out)}."
    dropped = [
        f"{f.path}: {d}" for f in report.files if f.attempt_reports
        for d in f.attempt_reports[-1].dropped_fixes
    ]
    if dropped:
        more = f" and {len(dropped) - 1} more" if len(dropped) > 1 else ""
        text += f" Fixes left out (each would add an issue or break the tests): {dropped[0]}{more}."
    if report.confinement.startswith("none"):
        text += " Agents ran UNCONFINED (you allowed it: allowUnconfined)."
    if report.errors:
        text += f" {report.errors[0]}"
    return text + " Details in the Stomper log."


class FixRuns:
    def __init__(self, server: StomperServer) -> None:
        self._server = server
        self._runs: dict[str, _Run] = {}
        self._deliverer = Deliverer(server)

    def running(self, folder_uri: str) -> bool:
        run = self._runs.get(folder_uri)
        return run is not None and not run.task.done()

    def start(
        self, handle: ProjectHandle, paths: Sequence[str] | None, *, resume: bool = False
    ) -> dict[str, Any]:
        """Start a run in the background; the answer says whether it started."""
        folder = handle.folder.uri
        if self.running(folder):
            message = f"Stomper is already fixing {handle.folder.path.name}; wait or cancel it."
            self._server.notices.always(message, types.MessageType.Warning)
            return {"started": False, "reason": message}
        task = asyncio.create_task(
            self._run(handle, list(paths) if paths is not None else None, resume)
        )
        self._runs[folder] = _Run(task, handle)
        task.add_done_callback(lambda _: self._forget(folder, task))
        return {"started": True, "folder": folder, "files": list(paths) if paths else None}

    def _forget(self, folder: str, task: asyncio.Task[None]) -> None:
        run = self._runs.get(folder)
        if run is not None and run.task is task:
            del self._runs[folder]
            if task.cancelled() and not run.began:
                self._server.notices.always(_CANCELLED)

    def cancel(self, folder_uri: str | None = None) -> int:
        """Cancel the run of one folder (None: every run); returns how many were cancelled."""
        runs = [
            run for key, run in self._runs.items()
            if folder_uri in (None, key) and not run.task.done() and not run.delivering
        ]
        for run in runs:
            run.cancelled_by_user = True
            run.task.cancel()
        return len(runs)

    async def shutdown(self) -> None:
        """Cancel every run and wait until their agents are dead and sandboxes gone."""
        tasks = [run.task for run in self._runs.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE_S)

    def _overlays(self, handle: ProjectHandle) -> dict[str, str]:
        """Every open buffer under the folder (Python or not), so the snapshot has what
        the user sees, saved or not."""
        overlays: dict[str, str] = {}
        for document in list(self._server.workspace.text_documents.values()):
            path = uri_to_path(document.uri)
            rel = handle.relative(path.resolve()) if path else None
            if rel is not None:
                overlays[rel] = document.source
        return overlays

    async def _run(
        self, handle: ProjectHandle, paths: list[str] | None, resume: bool = False
    ) -> None:
        folder = handle.folder.uri
        run = self._runs.get(folder)
        if run is not None:
            run.began = True
        scope = paths[0] if paths and len(paths) == 1 else handle.folder.path.name
        progress = RunProgress(self._server, f"Stomper: fixing {scope}")
        whole = paths is None
        try:
            if whole:  # open until it ends as the user meant (interrupted_runs.py)
                await self._server.interrupted.started(handle.folder)
            await progress.begin(on_cancel=lambda: self.cancel(folder))
            from stomper_lsp.workflow.engine import run_fix
            from stomper_lsp.workflow.errors import FixRunError

            try:
                report = await run_fix(
                    handle.project,
                    paths=paths,
                    overlays=self._overlays(handle),
                    on_progress=progress.report,
                    resume=resume,
                )
            except FixRunError as exc:
                progress.end(f"Could not start: {exc}")
                self._server.notices.always(
                    f"Stomper could not start fixing: {exc}", types.MessageType.Error
                )
                if whole:
                    await self._server.interrupted.ended(handle.folder)
                return
            self._log_report(report)
            run = self._runs.get(folder)
            if run is not None:
                run.delivering = True
            issues = sum(f.issues_fixed for f in report.files)
            delivery = await self._deliverer.deliver(handle.root, report.changes, issues)
            message = summary(report, delivery)
            progress.end(message.removeprefix("Stomper: "))
            troubled = delivery.refused or delivery.conflicts or report.by_status(
                FileStatus.FAILED
            ) or report.by_status(FileStatus.CONFLICT)
            kind = types.MessageType.Warning if troubled else types.MessageType.Info
            self._server.notices.always(message, kind)
            await self._server.checks.recheck_all()
        except asyncio.CancelledError:
            run = self._runs.get(folder)
            if whole and run is not None and run.cancelled_by_user:
                await asyncio.shield(self._server.interrupted.ended(handle.folder))
            progress.end("Cancelled: nothing was changed")
            self._server.notices.always(_CANCELLED, types.MessageType.Info)
            raise
        except Exception as exc:
            logger.exception("fix run failed")
            progress.end(f"Failed: {exc}")
            self._server.notices.always(f"Stomper: the fix run failed: {exc}",
                                        types.MessageType.Error)
            if whole:  # a failure, not an interruption: nothing to offer next time
                await self._server.interrupted.ended(handle.folder)
        else:
            if whole:
                await self._server.interrupted.ended(handle.folder)

    @staticmethod
    def _log_report(report: FixReport) -> None:
        logger.info(
            "fix run in %s: %s, %d -> %d issues in %.1fs",
            report.root, report.status.value, report.issues_before, report.issues_after,
            report.duration_s,
        )
        for outcome in report.files:
            logger.info(
                "  %s: %s (%d -> %d issues)%s%s",
                outcome.path, outcome.status.value, outcome.issues_before, outcome.issues_after,
                f" {outcome.message}" if outcome.message else "",
                f" log: {outcome.log_path}" if outcome.log_path else "",
            )
        for error in report.errors:
            logger.warning("  %s", error)
