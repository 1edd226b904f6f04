"""The next keystroke's ruff is started ahead of it, never lints with stale settings, and
never outlives its checker."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from stomper_lsp.checkers import warm_ruff
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.process import Started
from tests.processes import is_dead, wait_dead

pytestmark = pytest.mark.skipif(not Started.supported(), reason="needs Linux pidfds")


def _codes(issues: list[Issue]) -> set[str]:
    return {i.code for i in issues}


@pytest.fixture
async def ahead(
    tmp_path: Path, ruff_checker: Callable[[Path], RuffChecker]
) -> AsyncIterator[RuffChecker]:
    checker = ruff_checker(tmp_path)
    checker.start_ahead()
    assert checker.ahead is not None
    yield checker
    waiting = checker.ahead.waiting
    checker.close()
    assert waiting is None or is_dead(waiting.pid), "close() left a started ruff alive"


async def _waiting(checker: RuffChecker) -> Started:
    assert checker.ahead is not None
    for _ in range(200):
        if (started := checker.ahead.waiting) is not None:
            assert started.usable
            return started
        await asyncio.sleep(0.01)
    raise AssertionError("no ruff was started ahead of the next keystroke")


async def test_the_next_keystroke_uses_the_ruff_started_for_it(
    tmp_path: Path, ahead: RuffChecker, ruff_checker: Callable[[Path], RuffChecker]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F"]\n')
    first = await ahead.check(tmp_path, ["a.py"], {"a.py": "import os\n"})
    assert _codes(first) == {"F401"}
    waiting = await _waiting(ahead)
    text = {"a.py": "import os\nimport sys\n"}
    second = await ahead.check(tmp_path, ["a.py"], text)
    assert not waiting.usable and is_dead(waiting.pid)  # it linted the second keystroke
    cold = await ruff_checker(tmp_path).check(tmp_path, ["a.py"], text)
    assert [(i.code, i.start, i.message) for i in second] == [
        (i.code, i.start, i.message) for i in cold
    ]
    assert [i.start.line for i in second] == [0, 1]
    await _waiting(ahead)  # and the one after is waiting already


async def test_changed_settings_are_never_linted_with_the_old_ones(
    tmp_path: Path, ahead: RuffChecker
) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.ruff]\nextend = "base.toml"\n')
    base = tmp_path / "base.toml"
    base.write_text('[lint]\nselect = ["F"]\n')
    (tmp_path / "pkg").mkdir()
    text = {"pkg/a.py": "import os\nimport sys\nx = os == None\n"}
    assert _codes(await ahead.check(tmp_path, ["pkg/a.py"], text)) == {"F401"}
    for change, expected in (
        (lambda: config.write_text('[tool.ruff.lint]\nselect = ["E711"]\n'), {"E711"}),
        # A settings file appearing nearer the file counts too,
        (lambda: (tmp_path / "pkg" / "ruff.toml").write_text('extend = "../base.toml"\n'),
         {"F401"}),
        # and so does the file its `extend` names.
        (lambda: base.write_text('[lint]\nselect = ["E711", "F"]\n'), {"E711", "F401"}),
    ):
        stale = await _waiting(ahead)
        await asyncio.sleep(0.2)  # it has read the old settings
        change()
        assert _codes(await ahead.check(tmp_path, ["pkg/a.py"], text)) == expected
        assert is_dead(stale.pid)


async def test_an_unused_ruff_is_killed_after_the_idle_time(
    tmp_path: Path, ahead: RuffChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm_ruff, "IDLE_S", 0.2)
    await ahead.check(tmp_path, ["a.py"], {"a.py": "x = 1\n"})
    waiting = await _waiting(ahead)
    await asyncio.sleep(0.5)
    assert is_dead(waiting.pid) and not waiting.usable
    assert ahead.ahead is not None and ahead.ahead.waiting is None


async def test_forgetting_a_file_kills_only_its_ruff_and_closing_starts_no_more(
    tmp_path: Path, ahead: RuffChecker
) -> None:
    await ahead.check(tmp_path, ["a.py"], {"a.py": "x = 1\n"})
    waiting = await _waiting(ahead)
    ahead.forget(tmp_path / "b.py")
    assert waiting.usable
    ahead.forget(tmp_path / "a.py")
    assert is_dead(waiting.pid)
    ahead.close()
    assert _codes(await ahead.check(tmp_path, ["a.py"], {"a.py": "import os\n"})) == {"F401"}
    await asyncio.sleep(warm_ruff.AHEAD_AFTER_S * 5)
    assert ahead.ahead is not None and ahead.ahead.waiting is None


async def test_a_cancelled_keystroke_leaves_no_ruff(tmp_path: Path, ahead: RuffChecker) -> None:
    await ahead.check(tmp_path, ["a.py"], {"a.py": "x = 1\n"})
    waiting = await _waiting(ahead)
    big = {"a.py": "x = 1\n" * 200_000}  # larger than a pipe: the write waits for ruff
    task = asyncio.ensure_future(ahead.check(tmp_path, ["a.py"], big))
    await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert is_dead(waiting.pid)
    await asyncio.sleep(warm_ruff.AHEAD_AFTER_S * 5)
    assert ahead.ahead is not None and ahead.ahead.waiting is None


async def test_a_started_process_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    """The rules of `run_process` hold for `Started`: a hard timeout, and the whole
    process group killed, children included, with the leader reaped."""
    script = (
        "import subprocess, sys, time\n"
        "data = sys.stdin.read()\n"
        "child = subprocess.Popen(['sleep', '30'])\n"
        "print(len(data), child.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    started = Started.start([sys.executable, "-c", script], cwd=tmp_path)
    result = await started.finish(b"x" * 200_000, timeout=1.0)
    assert result.timed_out and result.returncode != 0
    size, child = (int(n) for n in result.stdout.split())
    assert size == 200_000  # more than a pipe holds: written as the reader drained it
    assert wait_dead(child) and is_dead(started.pid)
    assert not started.usable
