"""The language server's edit never follows a symbolic link out of the project, and its
summary names what was not delivered."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from stomper_lsp.server.delivery import Deliverer, Delivery
from stomper_lsp.server.fix_runs import summary
from stomper_lsp.workflow.report import (
    AttemptReport,
    FileChange,
    FileOutcome,
    FileStatus,
    FixReport,
    RunStatus,
)


class _NoEditsServer:
    """Just enough of the server for building the edit; sending one fails the test."""

    def __init__(self) -> None:
        self.workspace = SimpleNamespace(text_documents={}, position_codec=None)

    async def workspace_apply_edit_async(self, params: Any) -> Any:
        raise AssertionError(f"an edit was sent: {params}")


async def test_linked_files_are_skipped_not_edited(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "else.py").write_text("import os\n")
    (root / "link.py").symlink_to(outside / "else.py")
    (root / "pkg").symlink_to(outside)
    changes = [
        FileChange(path="link.py", base_text="import os\n", new_text=""),
        FileChange(path="pkg/else.py", base_text="import os\n", new_text=""),
    ]
    delivery = await Deliverer(cast(Any, _NoEditsServer())).deliver(root, changes, 2)
    assert delivery.skipped == ["link.py", "pkg/else.py"] and delivery.applied == []
    assert (outside / "else.py").read_text() == "import os\n"


def test_summary_names_what_was_not_delivered() -> None:
    report = FixReport(
        status=RunStatus.COMPLETED, root="/p",
        files=[
            FileOutcome(
                path="a.py", status=FileStatus.FIXED, issues_before=1, issues_after=0,
                issues_fixed=1,
                attempt_reports=[AttemptReport(
                    attempt=1, verdict="accepted", reason="fixed 1, 0 left",
                    left_out=["NOTES.md"],
                )],
            ),
            FileOutcome(
                path="link.py", status=FileStatus.SKIPPED, issues_before=1, issues_after=1,
                message="link.py is a symbolic link; Stomper never edits or writes through a link",
            ),
        ],
    )
    text = summary(report, Delivery(applied=["a.py"], skipped=["pkg/else.py"]))
    assert "1 file fixed (1 issue)" in text
    assert "1 skipped (link.py is a symbolic link" in text
    assert "Not applied (new files, or symbolic links): pkg/else.py." in text
    assert "Never delivered (written by the agent, not fixes): NOTES.md." in text


def test_summary_counts_belong_to_their_files() -> None:
    """The issue's "0 files fixed (8 issues), 1 partly fixed": a partly fixed file's
    issues are its own, and what is left is said."""
    report = FixReport(
        status=RunStatus.COMPLETED, root="/p",
        files=[
            FileOutcome(path="a.py", status=FileStatus.PARTIAL, issues_before=10,
                        issues_after=2, issues_fixed=8),
            FileOutcome(path="b.py", status=FileStatus.FAILED, issues_before=3,
                        issues_after=3),
        ],
    )
    text = summary(report, Delivery(applied=["a.py"]))
    assert text.startswith(
        "Stomper: 1 partly fixed (8 issues fixed), 1 failed, 5 issues left."
    ), text
