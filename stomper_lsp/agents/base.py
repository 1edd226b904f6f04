"""The contract between the fix engine and whatever edits a file: a task in, how it ended out.

Agents only edit files and say how their process ended. The engine never believes them: it
re-runs the checkers on the sandbox to judge the result (design invariant 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stomper_lsp.checkers.model import Issue
from stomper_lsp.confinement.spec import Confinement


@dataclass(frozen=True)
class AgentTask:
    workdir: Path
    """Project folder inside the sandbox worktree: the agent's cwd."""
    target: str
    """Project-relative POSIX path of the file to fix."""
    issues: Sequence[Issue]
    """Issues of the target (Issue.path is project-relative)."""
    attempt: int
    """1-based."""
    previous_issues: Sequence[Issue] = ()
    """On retries: what is still wrong or newly introduced after the last attempt."""
    feedback: str = ""
    """On retries: why the last attempt was rejected."""
    log_path: Path | None = None
    """Where the agent's output is appended (outside the sandbox); parents are created."""
    timeout: float = 600.0
    prompt_dir: Path | None = None
    """Folder OUTSIDE the sandbox for prompt files (default: a temporary folder)."""
    confinement: Confinement | None = None
    """What the agent's process tree may write (None: unconfined, for direct library use);
    every process an agent starts goes through `run_process(..., confinement=...)`."""
    leave_out: tuple[str, ...] = ()
    """Units of an earlier result (`AgentResult.applied`) to leave out this time, or one
    fix of such a unit as `UNIT:LINE`: the test narrowing's request (workflow/test_bisect.py).
    Only agents that report `applied` are asked."""


@dataclass(frozen=True)
class AgentResult:
    exit_code: int | None
    """None when the process never started or was killed."""
    timed_out: bool
    summary: str
    """One line for logs and progress, e.g. "exit 0 after 3.2 s"."""
    dropped_fixes: tuple[str, ...] = ()
    """Fixes the agent tried and left out, each with why (the built-in agent's bisection)."""
    final: bool = False
    """The agent knows another attempt could not do anything different: none is made."""
    error: str | None = None
    """The agent's own last error line (its JSON result, a printed exception), if any."""
    hard: bool = False
    """No retry can help (no key, HTTP 401, an unknown model, a broken configuration)."""
    tokens: int | None = None
    usd: float | None = None
    """What the run cost, where the CLI reports it."""
    applied: tuple[str, ...] = ()
    """The units it applied, in order (the built-in agent: ruff rule codes). An agent that
    names them can have a test-rejected attempt narrowed down with `AgentTask.leave_out`."""

    @property
    def failed(self) -> bool:
        """The process did not end well: killed, non-zero, or an error it reported."""
        return self.exit_code != 0 or self.timed_out or self.error is not None


class Agent(Protocol):
    """What the engine needs. Two optional attributes tune its retries (read with getattr):

    - `max_useful_attempts: int` -- a fixed list of strategies; more attempts cannot help.
    - `fresh_attempts: bool` -- each retry starts from the snapshot instead of building on
      the last attempt's leftovers (AI agents build on them; a strategy list restarts).
    - `narrowable: bool` -- its results name what they applied (`AgentResult.applied`) and
      it honours `AgentTask.leave_out`, cheaply and deterministically: the merge queue may
      re-run it to narrow a file the tests reject (workflow/batch_narrowing.py).
    - `state_dirs: Sequence[Path]` -- folders the agent's CLI must write besides its sandbox
      (`~/.claude`, `~/.codex` ...); confinement makes them writable, creating them if missing.
    """

    name: str

    async def fix(self, task: AgentTask) -> AgentResult:
        """Edit files under `task.workdir`; never raises for a misbehaving agent process."""
        ...


class AgentUnavailableError(Exception):
    """The configured agent cannot run at all; raised before a fix run starts.

    The message names the missing or incompatible binary, how to install it, and the
    `agent_command` alternative, so the user can act without reading code.
    """

    def __init__(self, message: str, *, agent: str = "", binary: str = "") -> None:
        super().__init__(message)
        self.agent = agent
        self.binary = binary
