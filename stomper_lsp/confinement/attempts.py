"""The run's one service for confining attempts: a `Confinement` per agent or test-command
run in a leased sandbox and, when the user allowed unconfined agents, their turn-taking and
escape watch.

The fix body (workflow/verified_fix.py) asks it for a confinement before each process and
wraps the process in `watched(...)`; it never needs to know which mechanism is in force.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.confinement.escapes import EscapeWatch, describe_escapes
from stomper_lsp.confinement.policy import RunConfinement
from stomper_lsp.confinement.spec import Confinement, Mechanism
from stomper_lsp.sandbox.layout import remove_tree


@dataclass
class Escapes:
    """Filled when a watched process ends: what changed outside its sandbox (if anything)."""

    paths: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class AttemptGuard:
    run: RunConfinement
    temp_root: Path
    """Outside every sandbox: private temp folders go below it (`<temp_root>/tmp/slot<N>`)."""
    watch_roots: Sequence[Path]
    """Unconfined only: the user's repository and the repository's sandbox folder."""
    readable: Sequence[Path] = ()
    """Folders a private mount must not hide (the shadow, the prompts)."""
    snapshot: str = ""
    """The snapshot commit, named when an escape is reported."""
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def unconfined(self) -> bool:
        return self.run.mechanism is Mechanism.NONE

    async def confinement(
        self, *, worktree: Path, admin_dir: Path, slot: int, state_dirs: Iterable[Path] = ()
    ) -> Confinement:
        """The confinement of one process tree in this slot; a fresh private temp folder."""
        private_tmp = self.temp_root / "tmp" / f"slot{slot}"
        states = list(state_dirs)

        def prepare() -> Confinement:  # one trip to a worker thread, not two
            remove_tree(private_tmp)
            return self.run.for_attempt(
                worktree=worktree, admin_dir=admin_dir, private_tmp=private_tmp,
                state_dirs=states, readable=self.readable,
            )

        return await asyncio.to_thread(prepare)

    @contextlib.asynccontextmanager
    async def watched(self, confinement: Confinement, who: str) -> AsyncIterator[Escapes]:
        """Confined: nothing to do. Unconfined: one process at a time, stamped before and
        after; the yielded `Escapes` is filled on exit."""
        found = Escapes()
        if not self.unconfined:
            yield found
            return
        async with self._turn:
            watch = EscapeWatch(self.watch_roots, confinement.writable)
            await watch.start()
            yield found
            found.paths = await watch.escapes()
        if found.paths:
            found.reason = describe_escapes(found.paths, self.snapshot, who)
