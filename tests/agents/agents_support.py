"""Shared constants of the agents tests (a uniquely named module: tests have no packages)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from stomper_lsp.checkers.model import Issue

FAKE_AGENT = Path(__file__).resolve().parents[1] / "fake_agents" / "fake_agent.py"
RUFF = str(Path(sys.executable).parent / "ruff")

PYPROJECT = """\
[project]
name = "demo"
version = "0"

[tool.ruff.lint]
select = ["E", "F", "I", "UP", "B"]
"""

Collect = Callable[[Path, Sequence[str], Sequence[str]], Awaitable[list[Issue]]]
"""collect(root, paths, tools): issues from really running the checkers."""
