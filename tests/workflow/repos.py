"""Helpers for fix-engine tests: real git repos, the fake agent's argv, the user-state probe."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from stomper_lsp.project import Project

FAKE_AGENT = Path(__file__).parents[1] / "fake_agents" / "fake_agent.py"
RUFF_ONLY = '[tool.ruff.lint]\nselect = ["F", "E711"]\n'
# Two ruff issues, both with an obvious textual fix: F401 (os) and E711 (== None).
BROKEN = "import os\n\n\ndef check(x):\n    return x == None\n"
FIXED = "def check(x):\n    return x is None\n"
FIX_BOTH = ("--replace", "import os\\n\\n\\n", "", "--replace", "== None", "is None")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def fake(*args: str) -> list[str]:
    """argv template of the fake agent; `{file}` is the target Stomper substitutes."""
    return [sys.executable, str(FAKE_AGENT), "{file}", *args]


def load(root: Path, **overrides: Any) -> Project:
    return Project.load(root, overrides={"tools": ["ruff"], **overrides}, trusted=True)


def user_state(root: Path) -> dict[str, Any]:
    """Everything of the user's repository that a fix run must leave byte-identical."""
    git_dir = root / ".git"
    index = git_dir / "index"
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "branches": git(root, "branch", "-a"),
        "stash": git(root, "stash", "list"),
        "index": hashlib.sha1(index.read_bytes()).hexdigest() if index.exists() else None,
        "refs": git(root, "for-each-ref"),
        "files": files,
    }


def worktrees(root: Path) -> list[str]:
    listing = git(root, "worktree", "list", "--porcelain")
    return [line for line in listing.splitlines() if line.startswith("worktree ")]


