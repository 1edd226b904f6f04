"""Batched test verification (test_mode = "batch"): one suite run when nothing breaks,
halves only when a batch fails, and a file whose fix breaks the tests is not delivered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, load

FILES = ("a.py", "b.py", "c.py", "d.py")


async def _fix(root: Path, test_command: list[str]) -> Any:
    return await run_fix(load(
        root, agent="command", agent_command=fake(*FIX_BOTH), test_command=test_command,
        max_parallel_files=2,
    ))


async def test_nothing_breaks_costs_one_suite_run(make_repo: Any) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    passes = [sys.executable, "-c", "import os; assert os.path.exists('a.py')"]
    report = await _fix(root, passes)
    assert [f.status for f in report.files] == [FileStatus.FIXED] * 4
    assert report.suite_runs == 1
    assert {c.path for c in report.changes} == set(FILES)


async def test_the_breaking_file_is_found_by_halving_and_left_out(make_repo: Any) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    # The suite needs c.py's `import os`: the fix of c.py (and only it) breaks it.
    needs_c = [sys.executable, "-c",
               "import sys\nif 'import os' not in open('c.py').read(): "
               "sys.exit('c.py lost its import')"]
    report = await _fix(root, needs_c)
    status = {f.path: f.status for f in report.files}
    assert status == {"a.py": FileStatus.FIXED, "b.py": FileStatus.FIXED,
                      "c.py": FileStatus.FAILED, "d.py": FileStatus.FIXED}
    c = next(f for f in report.files if f.path == "c.py")
    assert c.message.splitlines()[0] == (
        "the test command failed (exit 1): c.py lost its import"
    )
    assert c.attempt_reports[-1].test_tail.strip() == "c.py lost its import"
    assert {ch.path for ch in report.changes} == {"a.py", "b.py", "d.py"}
    assert all(ch.new_text == FIXED for ch in report.changes)
    # all four, then halves [a b] and [c d], then [c] and [d], then [a b d] together
    assert report.suite_runs == 6
    assert report.issues_after == 2  # c.py's two issues stay
    assert "batched test run rejects c.py" in Path(c.log_path or "").read_text()


async def test_file_placeholder_names_the_batch_files(make_repo: Any) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    wants_all = [sys.executable, "-c",
                 "import sys; sys.exit(0 if sys.argv[1:] == ['a.py', 'b.py', 'c.py', 'd.py'] "
                 "else f'got {sys.argv[1:]}')", "{file}"]
    report = await _fix(root, wants_all)
    assert [f.status for f in report.files] == [FileStatus.FIXED] * 4
    assert report.suite_runs == 1


async def test_resumed_fixes_still_go_through_the_tests(make_repo: Any) -> None:
    """A stored outcome was stored before the batched tests ran: resuming must test it."""
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    needs_c = [sys.executable, "-c",
               "import sys\nif 'import os' not in open('c.py').read(): "
               "sys.exit('c.py lost its import')"]
    settings = load(root, agent="command", agent_command=fake(*FIX_BOTH),
                    test_command=needs_c, max_parallel_files=2)
    await run_fix(settings)
    again = await run_fix(settings, resume=True)
    assert again.resumed_files == 4
    status = {f.path: f.status for f in again.files}
    assert status["c.py"] == FileStatus.FAILED
    assert {ch.path for ch in again.changes} == {"a.py", "b.py", "d.py"}
