"""How one agent process tree is confined, and the command line that does it.

A `Confinement` names what the tree may write (its sandbox worktree, that worktree's own git
admin folder, a private temp folder, the agent CLI's state folders) and the mechanism; `wrap`
turns an argv into the argv that enforces it:

- bubblewrap: the whole file system read-only (`--ro-bind / /`), the writable folders bound
  back read-write, a private /dev and /proc, and a PID namespace that dies with its first
  process and with Stomper (`--die-with-parent`): double forks and `setsid` die too.
- Landlock, through `launcher.py`: the kernel refuses every write outside the folders, for
  the agent and every descendant; the launcher is a child subreaper that kills what is left.
- both: bubblewrap outside, the launcher inside (defence in depth; each covers the other's
  misconfiguration).
- none (the user opted in): only the launcher's reaping; escapes are detected afterwards
  (see escapes.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from stomper_lsp.confinement import launcher
from stomper_lsp.confinement.support import BWRAP_BASE_ARGS

RUN_ID_ENV = "STOMPER_RUN_ID"
"""Marks every confined process with its run: the start-up sweep kills a dead run's orphans."""
RUN_OWNER_ENV = "STOMPER_RUN_OWNER"
"""`<pid>:<start ticks>` of the Stomper process that owns the run."""
_HIDDEN_BY_PRIVATE_DEV = "/dev/"


class Mechanism(StrEnum):
    BWRAP_LANDLOCK = "bwrap+landlock"
    BWRAP = "bwrap"
    LANDLOCK = "landlock"
    NONE = "none"

    @property
    def uses_bwrap(self) -> bool:
        return self in (Mechanism.BWRAP, Mechanism.BWRAP_LANDLOCK)

    @property
    def uses_landlock(self) -> bool:
        return self in (Mechanism.LANDLOCK, Mechanism.BWRAP_LANDLOCK)

    @property
    def label(self) -> str:
        """What reports say: `none (opt-in)` makes clear the user chose it."""
        return "none (opt-in)" if self is Mechanism.NONE else self.value


@dataclass(frozen=True)
class Confinement:
    mechanism: Mechanism
    writable: tuple[Path, ...]
    """Folders the tree may write below; everything else is read-only to it."""
    private_tmp: Path
    """TMPDIR of the tree (one of `writable`)."""
    readable: tuple[Path, ...] = ()
    """Folders it must still see where a private mount would hide them (under /dev)."""
    landlock_abi: int = 0
    bwrap: str = "bwrap"
    marker: Mapping[str, str] = field(default_factory=dict)
    """Environment variables that prove a process belongs to this run (see orphans.py)."""

    def wrap(
        self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | Path
    ) -> tuple[list[str], dict[str, str]]:
        """(argv, environment) that run `argv` confined, from `cwd`."""
        environment = dict(os.environ if env is None else env)
        tmp = str(self.private_tmp)
        environment.update(TMPDIR=tmp, TMP=tmp, TEMP=tmp, **self.marker)
        command = list(argv)
        if self.mechanism is not Mechanism.BWRAP:
            # The launcher reaps the tree (and applies Landlock when asked); inside
            # bubblewrap its parent is bwrap's own init, which dies with Stomper anyway.
            parent = 0 if self.mechanism.uses_bwrap else os.getpid()
            command = [*self._launcher(parent), "--", *command]
        if self.mechanism.uses_bwrap:
            command = [*self._bwrap(cwd), "--", *command]
        return command, environment

    def _launcher(self, parent: int) -> list[str]:
        command = [sys.executable, "-I", "-S", launcher.__file__, "--parent", str(parent)]
        if self.mechanism.uses_landlock:
            command += ["--landlock-abi", str(self.landlock_abi)]
            for folder in self.writable:
                command += ["--write", str(folder)]
        return command

    def _bwrap(self, cwd: str | Path) -> list[str]:
        command = [self.bwrap, *BWRAP_BASE_ARGS]
        for folder in self.readable:
            # The private /dev hides /dev/shm, where sandboxes often live: show them again.
            if str(folder).startswith(_HIDDEN_BY_PRIVATE_DEV):
                command += ["--ro-bind-try", str(folder), str(folder)]
        for folder in self.writable:
            command += ["--bind", str(folder), str(folder)]
        return [*command, "--chdir", str(cwd)]
