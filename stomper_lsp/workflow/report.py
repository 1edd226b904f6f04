"""What a fix run tells its callers: live progress events and the final report.

Plain pydantic data, shared by the CLI, the language server and the workflow state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class FileStatus(StrEnum):
    FIXED = "fixed"  # every issue of the file is gone, nothing new
    PARTIAL = "partial"  # fewer issues, nothing new
    FAILED = "failed"  # no acceptable attempt (or the agent/sandbox broke)
    CONFLICT = "conflict"  # an accepted fix overlapped an earlier one; not applied
    UNCHANGED = "unchanged"  # nothing to apply (no fixable change)
    SKIPPED = "skipped"  # never given to an agent (e.g. the file is a symbolic link)


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ProgressKind = Literal[
    "run_started", "queued", "started", "attempt", "verified", "rejected", "merged",
    "conflict", "failed", "unchanged", "skipped", "testing", "run_finished",
]
"""`testing`: the batched test stage (workflow/test_queue.py) started or ended a suite
run, or is narrowing a file down (path set); the message says which, e.g. "testing
batch 2 of 3: 4 files". It moves no file's count."""


class ProgressEvent(BaseModel):
    kind: ProgressKind
    path: str | None = None
    message: str = ""
    attempt: int | None = None
    done: int = 0
    total: int = 0
    running: int = 0


class AttemptReport(BaseModel):
    """How one attempt on one file was judged; also appended to the file's agent log."""

    attempt: int
    verdict: Literal["accepted", "rejected", "failed"]
    """failed: the attempt could not be judged (a checker broke), not that it was bad."""
    reason: str
    new_issues: list[str] = Field(default_factory=list)
    """Issues the attempt introduced, as `path:line tool code message`."""
    left_out: list[str] = Field(default_factory=list)
    """Files the agent wrote that are never delivered (notes, histories, caches, non-Python
    edits): they were put back to the snapshot before the re-check, so the verdict is about
    exactly what would be delivered."""
    agent_exit: int | None = None
    timed_out: bool = False
    test_tail: str = ""
    tokens: int | None = None
    usd: float | None = None
    dropped_fixes: list[str] = Field(default_factory=list)
    """Fixes left out, each with why: it would add an issue, or it breaks the tests."""
    test_runs: int = 0
    """Test runs spent narrowing this attempt down (workflow/test_bisect.py)."""


class FileOutcome(BaseModel):
    path: str
    status: FileStatus
    issues_before: int
    issues_after: int
    issues_fixed: int = 0
    issues_introduced: int = 0
    attempts: int = 0
    duration_s: float = 0.0
    agent_s: float = 0.0
    """Time spent inside the agent; duration_s minus this is Stomper's own overhead."""
    log_path: str | None = None
    message: str = ""
    changed_paths: list[str] = Field(default_factory=list)
    """Every file this outcome changed (the target and any other file the agent edited)."""
    attempt_reports: list[AttemptReport] = Field(default_factory=list)
    resumed: bool = False
    """Taken from the outcome store (`stomper fix --resume`): an earlier, interrupted run
    already verified this file with the same snapshot and settings."""
    executions: int = 1
    """How many times the file's body ran in this run (0 when resumed)."""
    test_runs: int = 0
    """Test command runs for this file's attempts and their narrowing (per-file mode; the
    batched test stage's runs are FixReport.suite_runs)."""
    node: str | None = None
    """Where the body ran (the executor's name for the machine); None: this process."""
    started_at: float | None = None
    """When the body that produced this outcome started (seconds since the epoch, on
    its node's clock)."""
    body_s: float | None = None
    """How long that body ran where it ran; `duration_s` minus this is scheduling,
    transfer and the merge."""


class FileChange(BaseModel):
    """A file of the run's merged result: its text in the snapshot and after the fixes."""

    path: str
    base_text: str | None  # None: the file did not exist in the snapshot
    new_text: str | None  # None: the fixes delete the file (never accepted today)


class FixReport(BaseModel):
    status: RunStatus
    root: str
    snapshot: str | None = None
    files: list[FileOutcome] = Field(default_factory=list)
    changes: list[FileChange] = Field(default_factory=list)
    issues_before: int = 0
    issues_after: int = 0
    peak_concurrent_files: int = 0
    peak_concurrent_merges: int = 0
    peak_concurrent_per_node: dict[str, int] = Field(default_factory=dict)
    """Cluster runs: the most file bodies that ran at once on each node."""
    duration_s: float = 0.0
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per phase: snapshot, collect, fix (the fan-out), cleanup."""
    errors: list[str] = Field(default_factory=list)
    suite_runs: int = 0
    """Test command runs of the batched test stage (test_mode = "batch"), the narrowing
    of files it rejects included (per-file runs happen inside the attempts and are not
    counted here)."""
    confinement: str = "none"
    executor: str = "local"
    resumed_files: int = 0
    """Files whose stored outcome was reused (`--resume`)."""
    """How agents were confined: `bwrap+landlock`, `bwrap`, `landlock` or `none (opt-in)`."""
    stopped: str | None = None
    """Why the queued files were not started (the agent failed the same way on the first
    files: a dead endpoint, a rejected key); None when every file ran."""
    tokens: int | None = None
    usd: float | None = None
    """What the agents reported spending, summed over every attempt (None: not reported)."""

    def by_status(self, status: FileStatus) -> list[FileOutcome]:
        return [f for f in self.files if f.status == status]
