"""The fake agent other test suites rely on does what its README promises."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from agents_support import FAKE_AGENT


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FAKE_AGENT), *args], cwd=cwd, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60, check=False,
    )


def test_it_is_a_stdlib_executable() -> None:
    assert os.access(FAKE_AGENT, os.X_OK)
    assert FAKE_AGENT.read_text().startswith("#!/usr/bin/env python3\n")
    assert (FAKE_AGENT.parent / "README.md").is_file()


def test_edits_compose_in_order(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("from typing import List\nx: List[int] = []\n")
    done = _run(
        tmp_path, "mod.py", "--replace", "from typing import List\\n", "",
        "--replace", "List[", "list[", "--append", "y = 1\\n",
        "--write", "pkg/new.py", "z = 2\\n", "--syntax-error",
    )
    assert done.returncode == 0 and "fake agent: done" in done.stdout
    assert (tmp_path / "mod.py").read_text() == "x: list[int] = []\ny = 1\ndef broken(:\n"
    assert (tmp_path / "pkg" / "new.py").read_text() == "z = 2\n"


def test_fail_first_counts_invocations(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("a\n")
    counter = tmp_path / "count"
    for _ in range(3):
        _run(tmp_path, "mod.py", "--count-file", str(counter), "--fail-first", "2",
             "--append", "b\\n")
    assert len(counter.read_text().splitlines()) == 3
    assert (tmp_path / "mod.py").read_text() == "a\nb\n"  # only the third one edited


def test_ruff_fix_delete_and_crash(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import os\n")
    (tmp_path / "gone.py").write_text("x = 1\n")
    fixed = _run(tmp_path, "mod.py", "--ruff-fix")
    deleted = _run(tmp_path, "gone.py", "--delete", "--crash")

    assert fixed.returncode == 0 and (tmp_path / "mod.py").read_text() == ""
    assert deleted.returncode == 3 and not (tmp_path / "gone.py").exists()
    assert "Traceback" in deleted.stderr and "RuntimeError" in deleted.stderr


def test_touch_git_writes_into_a_worktrees_admin_folder(tmp_path: Path) -> None:
    repo, worktree = tmp_path / "repo", tmp_path / "wt"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "mod.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(repo), "add", "mod.py"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True)
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(worktree)],
                   check=True)

    assert _run(worktree, "mod.py", "--touch-git").returncode == 0
    assert (repo / ".git" / "worktrees" / "wt" / "stomper-was-here").exists()
    assert not (worktree / "stomper-was-here").exists()


def test_remove_link_and_late_write(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("x = 1\n")
    (tmp_path / "other.txt").write_text("o\n")
    done = _run(
        tmp_path, "mod.py", "--remove", "other.txt", "--link", "alias.py", "mod.py",
        "--late-write", "late = 1\\n", "--late-delay", "0.3",
    )
    assert done.returncode == 0  # returns at once; its daemon writes later
    assert not (tmp_path / "other.txt").exists()
    assert os.readlink(tmp_path / "alias.py") == "mod.py"
    assert (tmp_path / "mod.py").read_text() == "x = 1\n"
    deadline = time.monotonic() + 10
    while (tmp_path / "mod.py").read_text() != "late = 1\n" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "mod.py").read_text() == "late = 1\n"
