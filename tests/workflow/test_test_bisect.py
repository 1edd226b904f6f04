"""A fix the tests reject is narrowed down by test runs: only the fix that breaks a test goes.

Real ruff and real pytest as the test command: F841's unsafe fix deletes a local that a
test reads back through the function's frame (issue 10's case), next to F841, F401 and
UP004 fixes that break nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, ProgressEvent
from stomper_lsp.workflow.test_bisect import Trial, narrow_by_tests
from tests.workflow.repos import load

CONFIG = '[tool.ruff.lint]\nselect = ["F", "UP"]\n'
MODULE = '''\
import os
import sys


class Thing(object):
    pass


def capture():
    token = "secret"
    return sys._getframe(0).f_locals


def plain():
    scratch = 1
    return 2
'''
TESTS = '''\
import mod


def test_capture_sees_its_token():
    assert mod.capture()["token"] == "secret"


def test_plain():
    assert mod.plain() == 2
'''
# Without plugin autoloading: pytest starts in 0.2 s instead of 2 s with this venv's plugins.
PYTEST = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD=1", sys.executable, "-m", "pytest", "-q", "-p",
          "no:cacheprovider", "test_mod.py"]


async def _fix(root: Path, **settings: Any) -> Any:
    return await run_fix(load(
        root, test_command=PYTEST, test_mode="per-file", max_parallel_files=1, **settings,
    ))


async def test_only_the_fix_that_breaks_a_test_is_left_out(make_repo: Any) -> None:
    root = make_repo({"pyproject.toml": CONFIG, "mod.py": MODULE, "test_mod.py": TESTS})
    report = await _fix(root)
    [outcome] = report.files
    assert outcome.status == FileStatus.PARTIAL
    [change] = report.changes
    text = change.new_text or ""
    assert "import os" not in text and "class Thing:" in text  # F401, UP004 kept
    assert "scratch" not in text  # the harmless F841 fix kept
    assert 'token = "secret"' in text  # the one that breaks a test left out
    assert outcome.issues_after == 1
    accepted = outcome.attempt_reports[-1]
    assert accepted.verdict == "accepted" and outcome.attempts == 1
    assert 0 < accepted.test_runs <= 8
    assert outcome.test_runs == 1 + accepted.test_runs  # attempt 1's run, then the trials
    [dropped] = [d for d in accepted.dropped_fixes if "breaks the tests" in d]
    assert dropped.startswith("F841 at line 10 (Local variable `token`")
    assert "test_capture_sees_its_token" in dropped
    log = Path(outcome.log_path or "").read_text()
    assert "narrowing trial for mod.py, leaving out F841:10: tests pass" in log
    assert "dropped fix: F841 at line 10" in log


async def test_budget_zero_drops_the_attempt_whole(make_repo: Any) -> None:
    root = make_repo({"pyproject.toml": CONFIG, "mod.py": MODULE, "test_mod.py": TESTS})
    report = await _fix(root, test_bisect_budget=0)
    [outcome] = report.files
    # attempt 2 keeps to safe fixes: every F841 fix is lost with the bad one
    assert outcome.attempts == 2
    assert "scratch = 1" in (report.changes[0].new_text or "")
    assert all(r.test_runs == 0 for r in outcome.attempt_reports)


async def test_batch_mode_narrows_the_file_the_queue_isolates(make_repo: Any) -> None:
    root = make_repo({
        "pyproject.toml": CONFIG, "mod.py": MODULE, "test_mod.py": TESTS,
        "other.py": "import os\n\nVALUE = 1\n",
    })
    events: list[ProgressEvent] = []
    report = await run_fix(load(root, test_command=PYTEST, test_mode="batch",
                                max_parallel_files=2), on_progress=events.append)
    status = {f.path: f.status for f in report.files}
    assert status == {"mod.py": FileStatus.PARTIAL, "other.py": FileStatus.FIXED}
    texts = {c.path: c.new_text or "" for c in report.changes}
    assert "import os" not in texts["other.py"]
    assert 'token = "secret"' in texts["mod.py"] and "scratch" not in texts["mod.py"]
    mod = next(f for f in report.files if f.path == "mod.py")
    assert mod.issues_after == 1 and report.issues_after == 1
    assert any("F841 at line 10" in d for d in mod.attempt_reports[-1].dropped_fixes)
    # all, [mod] (fails: narrowed), [other], then both confirmed together
    assert 4 < report.suite_runs <= 4 + 8
    testing = [(e.path, e.message) for e in events if e.kind == "testing"]
    assert testing[:2] == [(None, "testing batch 1 of 1: 2 files"),
                           (None, "batch 1 of 1: the tests fail")]
    assert (None, "testing batch 4 of 4: 2 files, together to confirm") in testing
    assert testing[-1] == (None, "batch 4 of 4: the tests pass")
    trials = [m for p, m in testing if p == "mod.py"]
    assert trials[0] == "attempt 1 again: its fix breaks the tests"
    assert trials[1:] and all(m.startswith("narrowing attempt 1 by tests") for m in trials[1:])


async def test_search_keeps_the_largest_passing_set_within_budget() -> None:
    """The search alone, on units whose effect on the tests is known (C and F break them)."""
    bad = {"C", "F"}
    seen: list[tuple[str, ...]] = []

    async def probe(leave_out: tuple[str, ...]) -> Trial[tuple[str, ...]]:
        seen.append(leave_out)
        kept = set("ABCDEFGH") - set(leave_out)
        fails = sorted(kept & bad)
        return Trial(not fails, True, f"FAILED test_{''.join(fails)}", (), leave_out)

    found = await narrow_by_tests(
        list("ABCDEFGH"), probe, budget=20, failure="FAILED test_CF", failed_remaining=(),
        before=(),
    )
    assert found.left_out == ("C", "F")
    assert found.best is not None and found.best.payload == ("C", "F")
    assert found.dropped == [
        "C (every fix of the rule): breaks the tests (FAILED test_C)",
        "F (every fix of the rule): breaks the tests (FAILED test_F)",
    ]
    assert found.test_runs == len(seen) <= 8  # 2 * (log2(8) + 1)

    seen.clear()
    short = await narrow_by_tests(
        list("ABCDEFGH"), probe, budget=3, failure="FAILED test_CF", failed_remaining=(),
        before=(),
    )
    assert short.test_runs == 3
    assert short.best is not None
    assert set(short.left_out) >= bad  # whatever it keeps passed a test run
    assert any("not tried within the test budget (3 runs)" in d for d in short.dropped)


async def test_a_suite_that_always_fails_costs_few_runs() -> None:
    async def probe(leave_out: tuple[str, ...]) -> Trial[None]:
        return Trial(False, True, "FAILED test_broken_anyway")

    found = await narrow_by_tests(
        list("ABCDEFGHIJKLMNOP"), probe, budget=8, failure="FAILED test_broken_anyway",
        failed_remaining=(), before=(),
    )
    assert found.best is None and found.dropped == []
    assert found.test_runs == 5  # log2(16) to blame A, one to see the rest fail too
