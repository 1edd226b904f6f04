"""The test stage's `testing` events reach the terminal and the editor's progress text."""

from __future__ import annotations

import io

from stomper_lsp.cli.progress_display import ProgressDisplay
from stomper_lsp.server.run_progress import progress_message
from stomper_lsp.workflow.report import ProgressEvent

BATCH = ProgressEvent(kind="testing", message="testing batch 2 of 3: 4 files", done=12,
                      total=12)
TRIAL = ProgressEvent(kind="testing", path="mod.py", done=12, total=12,
                      message="narrowing attempt 1 by tests (test run 2 of at most 8)")


def test_plain_lines_name_the_batch_and_the_narrowed_file() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, live=False)
    display(BATCH)
    display(TRIAL)
    assert out.getvalue().splitlines() == [
        "12/12 files · 0 running · testing batch 2 of 3: 4 files",
        "12/12 files · 0 running · mod.py: narrowing attempt 1 by tests (test run 2 of at most 8)",
    ]


def test_live_status_line_shows_the_test_stage() -> None:
    out = io.StringIO()
    ProgressDisplay(out, live=True)(BATCH)
    assert out.getvalue().endswith("[12/12] testing batch 2 of 3: 4 files")


def test_editor_progress_message_shows_the_test_stage() -> None:
    assert progress_message(BATCH) == "12/12 files · 0 running · testing batch 2 of 3: 4 files"
    assert progress_message(TRIAL).endswith("· mod.py: narrowing attempt 1 by tests "
                                            "(test run 2 of at most 8)")
