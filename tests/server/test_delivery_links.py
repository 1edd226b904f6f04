"""The language server's edit never follows a symbolic link out of the project."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from stomper_lsp.server.delivery import Deliverer
from stomper_lsp.workflow.report import FileChange


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
