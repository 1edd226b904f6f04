"""Write-back never loses the user's edits: untouched files get the fix, edited ones merge."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from stomper_lsp.delivery.working_tree import deliver_to_working_tree
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileChange, ProgressEvent
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, load

BASE = "one\ntwo\nthree\nfour\nfive\nsix\n"


def change(path: str, new: str) -> FileChange:
    return FileChange(path=path, base_text=BASE, new_text=new)


async def test_untouched_file_gets_the_fix(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BASE)
    result = await deliver_to_working_tree(tmp_path, [change("a.py", BASE.replace("one", "1"))])
    assert result.written == ["a.py"] and not result.conflicts
    assert (tmp_path / "a.py").read_text() == BASE.replace("one", "1")


async def test_user_edit_elsewhere_is_merged(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BASE.replace("six", "SIX (mine)"))
    result = await deliver_to_working_tree(tmp_path, [change("a.py", BASE.replace("one", "1"))])
    assert result.merged == ["a.py"]
    assert (tmp_path / "a.py").read_text() == BASE.replace("one", "1").replace("six", "SIX (mine)")


async def test_overlapping_user_edit_is_kept_and_reported(tmp_path: Path) -> None:
    mine = BASE.replace("one", "ONE (mine)")
    (tmp_path / "a.py").write_text(mine)
    result = await deliver_to_working_tree(tmp_path, [change("a.py", BASE.replace("one", "1"))])
    assert "a.py" in result.conflicts and not result.written
    assert (tmp_path / "a.py").read_text() == mine


async def test_file_deleted_by_user_is_not_recreated(tmp_path: Path) -> None:
    result = await deliver_to_working_tree(tmp_path, [change("gone.py", "x\n")])
    assert "gone.py" in result.conflicts
    assert not (tmp_path / "gone.py").exists()


async def test_user_edits_a_file_during_the_run(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN + "\n\nUSER = 1\n"})
    attempt_started = asyncio.Event()

    def on_progress(event: ProgressEvent) -> None:
        if event.kind == "attempt":
            attempt_started.set()

    project = load(root, agent="command", agent_command=fake("--sleep", "1", *FIX_BOTH))
    task = asyncio.create_task(run_fix(project, on_progress=on_progress))
    await asyncio.wait_for(attempt_started.wait(), 30)
    (root / "mod.py").write_text(BROKEN + "\n\nUSER = 2  # typed during the run\n")
    report = await task
    result = await deliver_to_working_tree(root, report.changes)
    assert result.merged == ["mod.py"]
    assert (root / "mod.py").read_text() == FIXED + "\n\nUSER = 2  # typed during the run\n"
