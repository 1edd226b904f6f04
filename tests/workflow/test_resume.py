"""Durable per-file outcomes: a killed run resumes without redoing the files it finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, git, load, user_state

STOMPER = str(Path(sys.executable).parent / "stomper")
FILES = [f"m{i}.py" for i in range(4)]


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def test_resume_reuses_every_stored_outcome_and_reruns_nothing(
    make_repo: Any, agent_out: Path
) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    counter = agent_out / "count"
    settings = {"agent": "command",
                "agent_command": fake("--count-file", str(counter), *FIX_BOTH)}
    first = await run_fix(load(root, **settings))
    assert _count(counter) == 4 and not any(o.resumed for o in first.files)
    assert all(o.executions == 1 for o in first.files) and first.executor == "local"
    again = await run_fix(load(root, **settings), resume=True)
    assert _count(counter) == 4  # no agent ran again
    assert [(o.path, o.status, o.resumed, o.executions) for o in again.files] == [
        (path, FileStatus.FIXED, True, 0) for path in FILES
    ]
    assert again.resumed_files == 4
    assert [(c.path, c.new_text) for c in again.changes] == [(p, FIXED) for p in FILES]
    # Settings that shape a fix are part of the key: another attempt limit re-runs all.
    third = await run_fix(load(root, max_attempts=2, **settings), resume=True)
    assert _count(counter) == 8 and third.resumed_files == 0
    # Without --resume nothing stored is reused.
    await run_fix(load(root, **settings))
    assert _count(counter) == 12


@pytest.mark.slow
def test_sigkilled_cli_run_resumes_without_rerunning_finished_files(
    make_repo: Any, agent_out: Path
) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    counter = agent_out / "count"
    agent = fake("--count-file", str(counter), "--sleep", "0.6", *FIX_BOTH)
    config = Path(os.environ["STOMPER_CONFIG"])
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'agent = "command"\nagent_command = {json.dumps(agent)}\n'
                     'max_parallel_files = 1\ntools = ["ruff"]\n')
    before = user_state(root)
    proc = subprocess.Popen([STOMPER, "fix", "--json"], cwd=root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _count(counter) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _count(counter) >= 3, "the run never reached its third file"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its agent, no clean-up
        proc.wait()
    started = _count(counter)
    assert user_state(root) == before  # nothing delivered, the user's repository untouched
    db = sqlite3.connect(os.environ["STOMPER_OUTCOME_DB"])
    stored = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    db.close()
    assert 2 <= stored < 4  # the first files were stored the moment they finished
    run = subprocess.run([STOMPER, "fix", "--resume", "--json"], cwd=root,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    resumed = [f["path"] for f in report["files"] if f["resumed"]]
    assert len(resumed) == stored
    assert _count(counter) == started + (4 - stored)  # only unfinished files ran again
    assert all(f["status"] == "fixed" for f in report["files"])
    assert all((root / p).read_text() == FIXED for p in FILES)
    assert git(root, "stash", "list") == ""


async def test_an_unusable_store_costs_only_resume(
    make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("STOMPER_OUTCOME_DB", str(blocker / "o.db"))
    root = make_repo({"m.py": BROKEN})
    report = await run_fix(load(root, agent="command", agent_command=fake(*FIX_BOTH)),
                           resume=True)
    assert [(o.status, o.resumed) for o in report.files] == [(FileStatus.FIXED, False)]
