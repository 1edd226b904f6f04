"""Stop a run whose agent cannot work at all, after its first files, not its last.

A dead endpoint, a rejected key or a missing model fail every file the same way, and each
CLI takes its own retries first (26-292 s against an HTTP 500, measured): over a whole
run that is hours of nothing. When the first files to finish all failed because the agent
itself failed, with the same error, the queued files are not started and the run says
once what to fix.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

_VOLATILE = re.compile(
    r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|\d+(?:\.\d+)?|0x[0-9a-f]+|[0-9a-f]{8,}",
    re.IGNORECASE,
)
"""Numbers, ids and session UUIDs (Claude's differ in every file's output)."""


def signature(error: str) -> str:
    """The error without what varies between files (numbers, ids, durations)."""
    return _VOLATILE.sub("#", error).strip().lower()


@dataclass
class CircuitBreaker:
    """Also a gate: once a file has failed because its agent failed, files that have not
    started yet wait until the first wave has decided (one success opens the gate for
    good), so a dead endpoint costs one agent timeout, not two."""

    window: int
    """How many first finished files must agree before the run stops."""
    _seen: list[str | None] = field(default_factory=list)
    tripped: str | None = None
    """The message for the user once the breaker tripped."""
    _decided: asyncio.Event = field(default_factory=asyncio.Event)
    _started: int = 0

    @property
    def decided(self) -> bool:
        return self._decided.is_set()

    async def gate(self) -> str | None:
        """Before a file starts: wait while only agent failures have been seen and the
        first wave is not complete; then the trip message (do not start) or None. The
        first `window` files never wait: they are the wave that decides."""
        self._started += 1
        if self._started <= self.window:
            return self.tripped
        if self._seen and self._seen[0] is not None and not self.decided:
            await self._decided.wait()
        return self.tripped

    @classmethod
    def for_run(cls, parallel: int, files: int) -> CircuitBreaker:
        """The first wave (up to 4 files) decides; a run of one file has nothing to save."""
        return cls(window=max(min(parallel, files, 4), 2) if files > 1 else 0)

    def record(self, agent_failure: str | None) -> None:
        """One finished file: the agent's own failure, or None (it ran, whatever the verdict)."""
        if self.tripped is not None or self.window == 0 or len(self._seen) >= self.window:
            self._decided.set()
            return
        self._seen.append(signature(agent_failure) if agent_failure else None)
        if agent_failure is None or len(self._seen) >= self.window:
            self._decided.set()  # a file ran, or the first wave is complete
        if len(self._seen) < self.window or self._seen[0] is None:
            return
        if all(seen == self._seen[0] for seen in self._seen):
            self.tripped = (
                f"the agent failed the same way on the first {self.window} files, so the "
                f"other files were not started: {agent_failure}. Fix this (see `stomper "
                "agents` for each agent's set-up) and run again."
            )
