"""Live progress on a terminal, plain lines elsewhere (logs, CI, pipes)."""

from __future__ import annotations

import shutil
from typing import TextIO

from stomper_lsp.workflow.progress import describe
from stomper_lsp.workflow.report import ProgressEvent

_PLAIN_KINDS = frozenset(
    {"started", "rejected", "verified", "merged", "conflict", "failed", "unchanged", "skipped",
     "testing"}
)
_STATUS_WORD = {
    "merged": "done",
    "conflict": "conflict",
    "failed": "failed",
    "unchanged": "unchanged",
    "skipped": "skipped",
}


class ProgressDisplay:
    """Rewrites one status line on a TTY; prints one line per meaningful event otherwise."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self._out = out
        self._live = live
        self._running: dict[str, str] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.path and event.kind in ("started", "attempt", "verified", "rejected"):
            self._running[event.path] = event.message or event.kind
        if event.path and event.kind in _STATUS_WORD:
            self._running.pop(event.path, None)
        if self._live:
            self._live_update(event)
        elif event.kind in _PLAIN_KINDS:
            print(describe(event), file=self._out, flush=True)

    def _live_update(self, event: ProgressEvent) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        if event.path and event.kind in _STATUS_WORD:
            line = f"{_STATUS_WORD[event.kind]:>9}  {event.path}  {event.message}"
            self._out.write("\r\x1b[2K" + line[: width - 1] + "\n")
        running = ", ".join(sorted(self._running))
        status = f"[{event.done}/{event.total}] {event.running} running: {running}"
        if event.kind == "testing":
            status = f"[{event.done}/{event.total}] {describe(event).split(' · ', 2)[-1]}"
        self._out.write("\r\x1b[2K" + status[: width - 1])
        self._out.flush()

    def close(self) -> None:
        if self._live:
            self._out.write("\r\x1b[2K")
            self._out.flush()
