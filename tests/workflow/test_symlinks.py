"""A tracked file that is a symbolic link is never fixed, captured or written through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stomper_lsp.delivery.working_tree import deliver_to_working_tree
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileChange, FileStatus
from tests.workflow.repos import BROKEN, FIXED, git, load


async def test_committed_outward_link_is_skipped_by_the_built_in_agent(
    make_repo: Any, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "else.py"
    outside.parent.mkdir()
    outside.write_text(BROKEN)
    root = make_repo({"mod.py": BROKEN})
    (root / "link.py").symlink_to(outside)
    git(root, "add", "link.py")
    git(root, "commit", "-qm", "a link out of the repository")
    report = await run_fix(load(root))  # the built-in ruff agent
    outcomes = {o.path: o for o in report.files}
    assert outcomes["link.py"].status == FileStatus.SKIPPED
    assert "link.py is a symbolic link" in outcomes["link.py"].message
    assert outcomes["mod.py"].status == FileStatus.FIXED
    assert [c.path for c in report.changes] == ["mod.py"]
    assert outside.read_text() == BROKEN


async def test_delivery_never_writes_through_a_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "mod.py").write_text(BROKEN)
    (root / "pkg").symlink_to(outside)  # the user's folder became a link during the run
    (root / "link.py").symlink_to(outside / "mod.py")
    changes = [
        FileChange(path="pkg/mod.py", base_text=BROKEN, new_text=FIXED),
        FileChange(path="link.py", base_text=BROKEN, new_text=FIXED),
    ]
    result = await deliver_to_working_tree(root, changes)
    assert result.written == [] and set(result.conflicts) == {"pkg/mod.py", "link.py"}
    assert "inside pkg, a symbolic link" in result.conflicts["pkg/mod.py"]
    assert "link.py is a symbolic link" in result.conflicts["link.py"]
    assert (outside / "mod.py").read_text() == BROKEN and (root / "link.py").is_symlink()
