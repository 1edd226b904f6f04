"""`kill -9` of `stomper fix` with agents running: the agents die within seconds, and the
next run sweeps what the killed one left (its temp folder, marked orphans)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.confinement.orphans import kill_orphaned_agents, sweep_run_dirs
from stomper_lsp.confinement.spec import RUN_ID_ENV, RUN_OWNER_ENV
from tests.confinement.conftest import mechanisms
from tests.processes import wait_dead
from tests.workflow.repos import BROKEN, fake

STOMPER = str(Path(sys.executable).parent / "stomper")


def _beats(heartbeat: Path) -> int:
    return len(heartbeat.read_text().splitlines()) if heartbeat.exists() else 0


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", mechanisms())
def test_kill_9_of_stomper_fix_takes_its_agents_down(
    mechanism: Any, make_repo: Any, agent_out: Path, tmp_path: Path
) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN})
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    beats = [agent_out / "beat-a.py", agent_out / "beat-b.py"]
    agent = " ".join(fake("--daemon", f"{agent_out}/beat-{{file}}", "--hang"))
    env = {**os.environ, "TMPDIR": str(temp), "STOMPER_CONFINEMENT": mechanism.value}
    proc = subprocess.Popen(
        [STOMPER, "fix", "--tools", "ruff", "--max-parallel-files", "2", "--agent-timeout",
         "300", "--agent-command", agent],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: all(_beats(b) for b in beats), 60), "agents never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Every agent's daemon stops beating within a few seconds of Stomper's death.
    def settled() -> bool:
        counts = [_beats(b) for b in beats]
        time.sleep(0.3)
        return counts == [_beats(b) for b in beats]

    assert _wait_for(settled, 5), "agents outlived stomper"
    [leftover] = list(temp.glob("stomper-run-*"))
    # The next run sweeps the killed one's temp folder (and its worktrees: see make_repo).
    subprocess.run([STOMPER, "fix", "--tools", "ruff", "--dry-run"], cwd=root, env=env,
                   capture_output=True, timeout=120, check=False)
    assert not leftover.exists()
    assert not list(temp.glob("stomper-run-*"))


def _dead_owner() -> str:
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{child.pid}:1"


def test_the_sweep_kills_only_processes_it_can_prove_are_a_dead_runs(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    orphan = subprocess.Popen(
        sleeper, env={**os.environ, RUN_ID_ENV: "deadrun", RUN_OWNER_ENV: _dead_owner()},
        start_new_session=True,
    )
    ticks = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
    mine = f"{os.getpid()}:{ticks}"
    live = subprocess.Popen(
        sleeper, env={**os.environ, RUN_ID_ENV: "liverun", RUN_OWNER_ENV: mine},
        start_new_session=True,
    )
    stranger = subprocess.Popen(sleeper, start_new_session=True)
    try:
        time.sleep(0.1)
        killed = kill_orphaned_agents()
        assert orphan.pid in killed
        assert orphan.wait(5) == -signal.SIGKILL
        assert live.poll() is None and stranger.poll() is None
        assert live.pid not in killed and stranger.pid not in killed
    finally:
        for proc in (orphan, live, stranger):
            proc.kill()
            proc.wait()
    assert wait_dead(orphan.pid)


def test_the_sweep_keeps_live_runs_folders(tmp_path: Path) -> None:
    from stomper_lsp.confinement.orphans import mark_run_dir

    live = tmp_path / "stomper-run-live-x"
    dead = tmp_path / "stomper-run-dead-x"
    for folder in (live, dead):
        folder.mkdir()
        mark_run_dir(folder, tmp_path)
    owner = (dead / "owner.json").read_text().replace(f'"pid": {os.getpid()}', '"pid": 1999999')
    (dead / "owner.json").write_text(owner)
    assert sweep_run_dirs(tmp_path) == [dead]
    assert live.exists() and not dead.exists()

