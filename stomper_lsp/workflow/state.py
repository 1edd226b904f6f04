"""Graph state: plain data only, so a checkpointer could persist and resume a run.

Every field the parallel `fix_file` branches write has a reducer; nodes return deltas.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class FileJob(TypedDict):
    """The Send() payload for one file: only what that file's branch needs."""

    path: str
    issues: list[dict[str, Any]]  # Issue.model_dump(mode="json")


class RunState(TypedDict, total=False):
    paths: list[str] | None  # input: restrict the run to these project-relative files
    jobs: list[FileJob]  # written once by collect
    files_checked: int
    collect_s: float
    issues_before: int
    collect_errors: list[str]
    # Written by the parallel branches: reducers merge them exactly once each.
    outcomes: Annotated[list[dict[str, Any]], operator.add]  # FileOutcome dumps
    agent_seconds: Annotated[float, operator.add]
    branch_errors: Annotated[list[str], operator.add]
    # Written by the test stage's batches (workflow/test_queue.py).
    suite_runs: Annotated[int, operator.add]
    batches_open: Annotated[int, operator.add]
    tests_split: Annotated[int, operator.add]
    tests_passed: Annotated[list[str], operator.add]
    confirmed: Annotated[list[str], operator.add]
    tests_failed: Annotated[list[dict[str, str]], operator.add]  # {path, reason}
    tests_narrowed: Annotated[list[dict[str, Any]], operator.add]  # NarrowedFile fields
    # Written by aggregate.
    issues_after: int
