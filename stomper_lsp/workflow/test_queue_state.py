"""The fixes staged for the test queue (shared through RunContext, never graph state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stomper_lsp.workflow.run_result import RunResult


@dataclass(frozen=True)
class StagedFix:
    """One file's verified fix, waiting for the tests: texts per path and their bases."""

    path: str
    base: Mapping[str, str | None]
    texts: Mapping[str, str]


@dataclass
class SuiteQueue:
    """What the run's test stage shares (lives in RunContext, never in graph state)."""

    staged: dict[str, StagedFix] = field(default_factory=dict)
    staging: RunResult = field(default_factory=RunResult)
    """Staged fixes merged together: an overlap is a conflict before any test runs."""
    planned: int = 0
    """Batches sent so far (the first, halves, the confirming one): "batch k of n"."""
    started: int = 0


