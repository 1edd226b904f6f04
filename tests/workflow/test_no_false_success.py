"""An attempt counts only if the target's own issues went down, judged on what is delivered.

Each test runs the real fake agent (tests/fake_agents/fake_agent.py) doing one thing a
careless or hostile agent does, through the real engine with real ruff in real worktrees.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, FixReport
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, load, user_state

STOMPER = str(Path(sys.executable).parent / "stomper")


async def fix_one(root: Path, *agent_args: str, **overrides: Any) -> FixReport:
    settings: dict[str, Any] = {
        "agent": "command", "agent_command": fake(*agent_args), "max_attempts": 1,
    }
    settings.update(overrides)
    return await run_fix(load(root, **settings))


@pytest.mark.parametrize(
    "dropping",
    [
        ("--write", "NOTES.md", "I fixed everything\\n"),
        ("--write", ".agent-history.md", "session 1: fixed 2 issues\\n"),
        ("--write", "README.md", "# demo\\nAll lint issues fixed.\\n"),
    ],
    ids=["notes", "history", "readme-line"],
)
async def test_writing_only_a_dropping_is_rejected_and_nothing_delivered(
    make_repo: Any, dropping: tuple[str, ...]
) -> None:
    root = make_repo({"mod.py": BROKEN, "README.md": "# demo\n"})
    before = user_state(root)
    report = await fix_one(root, *dropping)
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.message == "no issue of the target was fixed"
    assert (outcome.issues_fixed, outcome.issues_after) == (0, 2)
    assert report.changes == [] and report.issues_after == report.issues_before == 2
    [attempt] = outcome.attempt_reports
    assert (attempt.verdict, attempt.left_out) == ("rejected", [dropping[1]])
    assert "verdict on attempt 1 for mod.py: rejected" in Path(outcome.log_path or "").read_text()
    assert user_state(root) == before


def test_cli_reports_no_success_for_a_notes_only_agent(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    argv = shlex.join(fake("--write", "NOTES.md", "done\\n"))
    proc = subprocess.run(
        [STOMPER, "fix", "--agent-command", argv, "--max-attempts", "1"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0 of 2 issues fixed (2 left)" in proc.stdout
    assert "no issue of the target was fixed" in proc.stdout
    assert not (root / "NOTES.md").exists() and (root / "mod.py").read_text() == BROKEN


async def test_silencing_the_rule_in_pyproject_does_not_count(make_repo: Any) -> None:
    """Non-Python edits are put back before the re-check: the verdict is on what is delivered."""
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, "--write", "pyproject.toml", '[tool.ruff.lint]\\nselect = []\\n')
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.message == "no issue of the target was fixed"
    assert outcome.attempt_reports[0].left_out == ["pyproject.toml"]
    assert report.changes == []


async def test_droppings_beside_a_real_fix_are_left_out_and_reported(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN, "README.md": "# demo\n"})
    report = await fix_one(
        root, *FIX_BOTH,
        "--write", "NOTES.md", "notes\\n",
        "--write", ".aider.chat/history.py", "x = 1\\n",
        "--write", "README.md", "# demo, fixed\\n",
        "--write", "helpers.py", "HELPER = 1\\n",
    )
    [outcome] = report.files
    assert outcome.status == FileStatus.FIXED
    assert {c.path: c.new_text for c in report.changes} == {
        "mod.py": FIXED, "helpers.py": "HELPER = 1\n"
    }
    assert outcome.changed_paths == ["helpers.py", "mod.py"]
    [attempt] = outcome.attempt_reports
    assert attempt.verdict == "accepted"
    assert attempt.left_out == [".aider.chat/history.py", "NOTES.md", "README.md"]
    assert "left out (not delivered): .aider.chat/history.py, NOTES.md, README.md" in (
        outcome.message
    )


async def test_deleting_another_file_is_rejected(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN, "other.txt": "keep me\n"})
    report = await fix_one(root, *FIX_BOTH, "--remove", "other.txt")
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert "deleted other.txt" in outcome.message and "never deletes" in outcome.message
    assert report.changes == [] and (root / "other.txt").read_text() == "keep me\n"


async def test_replacing_the_target_with_a_symlink_is_rejected(
    make_repo: Any, tmp_path: Path
) -> None:
    """The checkers would follow the link to a clean file elsewhere and call it fixed."""
    root = make_repo({"mod.py": BROKEN})
    clean = tmp_path / "clean.py"
    clean.write_text(FIXED)
    report = await fix_one(root, "--link", "mod.py", str(clean))
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert "mod.py is a symbolic link" in outcome.message
    assert report.changes == []
    assert not (root / "mod.py").is_symlink() and (root / "mod.py").read_text() == BROKEN


async def test_an_untouched_target_is_still_re_checked(make_repo: Any) -> None:
    """Another Python file edited cleanly, the target untouched: nothing of the target fixed."""
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    report = await fix_one(root, "--write", "other.py", "X = 2\\n")
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.message == "no issue of the target was fixed"
    assert report.changes == []


@pytest.mark.parametrize("emptied", ["mod.py", "helper.py"], ids=["target", "other-file"])
async def test_emptying_a_file_with_unflagged_code_is_rejected(
    make_repo: Any, emptied: str
) -> None:
    """An empty file has no issues, so the checkers alone would call this a fix."""
    helper = "def helper() -> int:\n    return 1\n"
    root = make_repo({"mod.py": BROKEN, "helper.py": helper})
    before = user_state(root)
    report = await fix_one(root, *FIX_BOTH, "--write", emptied, "\\n")
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.message.startswith(f"the attempt emptied {emptied}, which had code"), outcome
    assert report.changes == []
    assert user_state(root) == before


async def test_emptying_a_file_whose_every_line_is_flagged_is_a_fix(make_repo: Any) -> None:
    """`import os` alone: removing the unused import leaves nothing, as `ruff --fix` does."""
    root = make_repo({"mod.py": "import os\n"})
    report = await fix_one(root, "--write", "mod.py", "")
    [outcome] = report.files
    assert outcome.status == FileStatus.FIXED, outcome.message
    assert [(c.path, c.new_text) for c in report.changes] == [("mod.py", "")]
