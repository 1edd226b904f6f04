"""Isolated places for agents to work: snapshots, a pool of git worktrees, and cleanup.

A run freezes the user's working state (unsaved buffers included) into one commit without
touching their HEAD, index or files (`create_snapshot`), checks out that commit in git
worktrees outside the workspace (`WorktreePool`), tells exactly what an agent changed there
(`Sandbox.changes`), resets a worktree for the next file by restoring only those paths, and
removes everything on close; `sweep_stale_sandboxes` removes what crashed runs left.
"""

from stomper_lsp.sandbox.changes import SandboxChanges
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.pool import Sandbox, WorktreePool
from stomper_lsp.sandbox.snapshot import Snapshot, create_snapshot, read_snapshot_files
from stomper_lsp.sandbox.sweep import sweep_stale_sandboxes

__all__ = [
    "Sandbox",
    "SandboxChanges",
    "SandboxError",
    "Snapshot",
    "WorktreePool",
    "create_snapshot",
    "read_snapshot_files",
    "sweep_stale_sandboxes",
]
